"""A DiffReport as text: the terminal/markdown table, the flipped examples, and one self-contained HTML page.

Every string that came from a result file (inputs, outputs, gold) is escaped: `|` and newlines in markdown
cells, jinja2 autoescaping in HTML.
"""

from __future__ import annotations

from pathlib import Path

from fsabench.errors import FsabenchError
from fsabench.report.diff import DiffReport

TEMPLATES = Path(__file__).parent / "templates"
SHOWN = 50  # flipped examples listed per task and direction (the JSON holds them all)


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def summary_rows(report: DiffReport) -> list[list[str]]:
    """task, subset, n, metric, A, B, B-A, 95% CI, p, A>B, B>A, verdict."""
    rows = []
    for task in report.tasks:
        for s in task.subsets:
            verdict = "B worse" if s.worse else ("B better" if s.delta is not None and s.delta > 0
                                                 and s.p_value is not None and s.p_value < report.alpha else "")
            ci = f"[{_num(s.low, True)}, {_num(s.high, True)}]" if s.low is not None else "–"
            rows.append([task.task, s.subset, str(s.n), s.metric, _num(s.score_a), _num(s.score_b), _num(s.delta, True),
                         ci, "–" if s.p_value is None else f"{s.p_value:.4f}", str(s.a_right_b_wrong),
                         str(s.b_right_a_wrong), verdict])
    return rows


HEADER = ["task", "subset", "n", "metric", "A", "B", "B-A", "95% CI", "p", "A right, B wrong", "B right, A wrong", ""]


def _cell(text: str | None, width: int = 300) -> str:
    text = "(failed)" if text is None else (text if text.strip() else "(empty)")
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "⏎")
    return text if len(text) <= width else text[:width - 1] + "…"


def render_markdown(report: DiffReport) -> str:
    lines = ["# fsabench diff", "", f"A: {report.a}  ", f"B: {report.b}", "",
             f"Paired bootstrap over examples ({report.n_boot} resamples, the engine of `fsabench report`), "
             f"two-sided p; B - A x100; \"B worse\" when B - A < 0 and p < {report.alpha}. An example is right when "
             "its prediction matches gold exactly by the task's own counts.", ""]
    lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(report)]
    for task in report.tasks:
        conv = f", convention {task.convention}" if task.convention else ""
        lines += ["", f"## {task.task} ({task.model_a} -> {task.model_b}{conv})"]
        for title, flips in (("Right in A, wrong in B", task.lost), ("Wrong in A, right in B", task.gained)):
            lines += ["", f"### {title}: {len(flips)}" + (f" (first {SHOWN} shown)" if len(flips) > SHOWN else ""), ""]
            if flips:
                lines += ["| id | text | gold | A | B |", "|---|---|---|---|---|"]
                lines += [f"| {_cell(f.id, 60)} | {_cell(f.input)} | {_cell(f.gold)} | {_cell(f.output_a)} | "
                          f"{_cell(f.output_b)} |" for f in flips[:SHOWN]]
    return "\n".join(lines) + "\n"


def render_html(report: DiffReport) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("diff.html.j2").render(report=report, header=HEADER, rows=summary_rows(report),
                                                   shown=SHOWN)


def write_diff(report: DiffReport, path: Path) -> Path:
    """Markdown (.md) or HTML (.html, .htm) by the file's suffix, written atomically."""
    from fsabench.io import write_text_atomic

    suffix = path.suffix.lower()
    if suffix not in (".md", ".html", ".htm"):
        raise FsabenchError(f"--output {path}: unknown suffix {suffix or '(none)'!r}",
                            hint="name the file .md (markdown) or .html (one self-contained page)")
    text = render_markdown(report) if suffix == ".md" else render_html(report)
    write_text_atomic(path, text)
    return path


