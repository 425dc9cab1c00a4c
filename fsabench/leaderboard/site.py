"""The static site: a ranked, sortable, filterable table and one page per entry, from verified runs.

Works from file:// (no fetch: each page carries its data inline, as escaped JSON in a
`<script type="application/json">` block). Every string from a submission goes through Jinja's
autoescape in the HTML and through textContent in the browser, never innerHTML.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from fsabench import __version__
from fsabench.formats import join_pairs
from fsabench.io import write_text_atomic
from fsabench.leaderboard.claims import flag_duplicates
from fsabench.leaderboard.ranking import column_value, columns, rank
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.submission import LINK
from fsabench.leaderboard.verify import Verified
from fsabench.results import Record, RunResult

TEMPLATES = Path(__file__).resolve().parent / "templates"
ASSETS = ("site.css", "site.js", "compare.js")


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v: "–" if v is None else f"{v:.2f}"
    env.filters["params"] = human_params
    return env


def human_params(count: int | None) -> str:
    if count is None:
        return "–"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.3g}{unit}"
    return str(count)


def inline_json(payload: Any) -> str:
    """JSON safe inside a <script type="application/json"> block: no '<', '>' or '&' survive as such."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _pairs_text(pairs: list[list[str]]) -> str:
    return join_pairs([tuple(p) for p in pairs]) if all(len(p) == 2 for p in pairs) else " ; ".join(
        " | ".join(p) for p in pairs)


def examples_payload(results: Sequence[RunResult]) -> dict[str, Any]:
    """Per task: the examples once (id, input, gold, subsets) and per seed (output, parsed, correct)."""
    tasks: dict[str, dict[str, Any]] = {}
    for result in results:
        task = tasks.setdefault(result.task.name, {"name": result.task.name, "seeds": [], "examples": [], "runs": {}})
        if not task["examples"]:
            task["examples"] = [[r.id, r.input, r.target, r.subsets] for r in result.examples]
        task["seeds"].append(result.seed)
        task["runs"][str(result.seed)] = [
            [r.output, _pairs_text(r.prediction), sorted(map(tuple, r.prediction)) == sorted(map(tuple, r.gold)),
             r.error] for r in result.examples]
    return {"tasks": list(tasks.values())}


def provenance(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """What each run claims about itself (versions, hashes, seeds, settings, timing)."""
    return [{
        "task": r.task.name, "task_version": r.task.version, "seed": r.seed, "protocol": r.protocol,
        "model": r.model.name, "parameters": r.model.parameters, "fsabench_version": r.fsabench_version,
        "task_sha256": r.task.sha256, "data": r.task.data,
        "identity": json.dumps(r.model.identity, ensure_ascii=False, sort_keys=True),
        "settings": json.dumps(r.model.settings, ensure_ascii=False, sort_keys=True),
        "meta": json.dumps(r.meta, ensure_ascii=False, sort_keys=True),
        "started": r.timing.started, "seconds": r.timing.seconds, "usage": r.usage.model_dump(),
    } for r in results]


def score_chart(board: Leaderboard, rows: Sequence[dict[str, Any]]):
    """Horizontal bars of each entry's aggregate score, best on top, coloured by category."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    scored = list(reversed([r for r in rows if r["score"] is not None]))
    cats = list(board.spec.categories)
    color = {c: colormaps["tab10"](i % 10) for i, c in enumerate(cats)}
    fig = Figure(figsize=(8, 0.45 * len(scored) + 1.4), layout="constrained")
    ax = fig.subplots()
    ax.barh(range(len(scored)), [r["score"] for r in scored], color=[color[r["category"]] for r in scored])
    ax.set_yticks(range(len(scored)), [r["name"] for r in scored])
    for y, row in enumerate(scored):
        ax.text(row["score"] + 0.5, y, f"{row['score']:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"{board.spec.score.label} ({board.spec.metric} x100 on '{board.spec.score.subset}', mean over tasks)")
    ax.legend([Patch(color=color[c]) for c in cats], [board.spec.categories[c].label for c in cats],
              fontsize=7, loc="lower right")
    return fig


def charts(board: Leaderboard, entries: Sequence[Verified], rows: Sequence[dict[str, Any]],
           assets: Path) -> list[dict[str, str]]:
    """The score chart plus the report's per-task bar chart for every subset (fsabench.report)."""
    if not rows:
        return []
    from fsabench.report import bar_chart, save_figure, summary_frame

    made = [("scores", score_chart(board, rows), f"{board.spec.score.label} of every entry")]
    named = [r.model_copy(update={"model": r.model.model_copy(update={"name": e.row["name"]})})
             for e in entries for r in e.results]  # the report labels series by model name: use the entry's
    summary = summary_frame(named, n_boot=0)
    for subset in board.spec.subsets:
        made.append((f"subset-{subset}", bar_chart(summary, subset=subset, metric=board.spec.metric),
                     f"{board.spec.metric} per task on the '{subset}' subset (mean ± std over seeds)"))
    out = []
    for stem, fig, alt in made:
        save_figure(fig, assets / stem, ["png"])
        out.append({"src": f"assets/{stem}.png", "alt": alt})
    return out


def table_rows(board: Leaderboard, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ranked rows with the table's column values and a link only when it is a plain http(s) URL."""
    cols = columns(board)
    ranked = rank(rows, board)
    flag_duplicates(ranked)
    for row in ranked:
        row.pop("counts", None)  # per-example counts serve the statistics only; pages and JSON stay small
    for row in ranked:
        row["values"] = [column_value(row, c["key"], board) for c in cols]
        row["href"] = row["link"] if row["link"] and LINK.match(row["link"]) else None
    return ranked


def reference_rows(board: Leaderboard) -> list[dict[str, Any]]:
    """The board's published results as table rows (never ranked): a task column holds the published number,
    the aggregate only when every task has one (the same mean over tasks), other subset columns nothing."""
    from fsabench.leaderboard.submission import LINK

    out = []
    for ref in board.spec.references:
        values = []
        for col in columns(board):
            kind, _, name = col["key"].partition(":")
            if col["key"] == "score":
                have = [ref.scores.get(t) for t in board.spec.tasks]
                values.append(round(sum(have) / len(have), 2) if all(v is not None for v in have) else None)
            else:
                values.append(ref.scores.get(name) if kind == "task" else None)
        out.append({"name": ref.name, "source": ref.source, "note": ref.note, "values": values,
                    "href": ref.link if ref.link and LINK.match(ref.link) else None})
    return out


def _common(board: Leaderboard, built: dt.datetime | None) -> dict[str, Any]:
    return {"board": board.spec, "version": __version__,
            "built": (built or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")}


def render_index(board: Leaderboard, rows: Sequence[dict[str, Any]], chart_list: Sequence[dict[str, str]] = (),
                 built: dt.datetime | None = None) -> str:
    """The ranked table page; `rows` come from table_rows (each with a `slug`)."""
    from fsabench.leaderboard.stats import METHOD

    return environment().get_template("index.html.j2").render(
        **_common(board, built), rows=rows, columns=columns(board), charts=chart_list, method=METHOD,
        references=reference_rows(board), conventions=board_conventions(board))


def board_conventions(board: Leaderboard) -> list[str]:
    """How the board's tuple tasks are scored (capped | authors), for the page to say."""
    return sorted({t.convention for t in board.tasks.values() if t.metric == "absa_f1"})


def render_model(board: Leaderboard, row: dict[str, Any], results: Sequence[RunResult],
                 built: dt.datetime | None = None) -> str:
    """One entry's page: metadata, the task x subset grid, the example browser and provenance."""
    from fsabench.report.provenance import contamination_lines, convention_lines

    return environment().get_template("model.html.j2").render(
        **_common(board, built), row=row, runs=provenance(results),
        examples_json=inline_json(examples_payload(results)),
        contamination=contamination_lines(results), conventions=convention_lines(results)[0])


def longest_runs(results: Sequence[RunResult]) -> dict[str, list[Record]]:
    """Per task, the examples of its longest run (a partial run holds only the first N)."""
    longest: dict[str, RunResult] = {}
    for r in results:
        if r.task.name not in longest or len(r.examples) > len(longest[r.task.name].examples):
            longest[r.task.name] = r
    return {task: r.examples for task, r in longest.items()}


def compare_payload(entries: Sequence[dict[str, str]], examples: dict[str, Sequence[Any]],
                    preds_base: str = "assets/preds/") -> dict[str, Any]:
    """The comparison page's inline data: every task's examples once (anything with id, input, target
    and subsets: test-split Examples or scored Records) and the entries to pick from; predictions
    come from prediction_script files."""
    tasks = {name: {"examples": [[e.id, e.input, e.target, list(e.subsets)] for e in rows]}
             for name, rows in examples.items()}
    return {"tasks": tasks, "entries": list(entries), "preds_base": preds_base}


def prediction_script(slug: str, results: Sequence[RunResult]) -> str:
    """assets/preds/<slug>.js: the entry's parsed predictions (first seed per task) and a right/wrong
    string, as a script that registers itself (loadable from file://, where fetch is not)."""
    first: dict[str, RunResult] = {}
    for r in sorted(results, key=lambda r: r.seed):
        first.setdefault(r.task.name, r)
    payload = {task: {"seed": r.seed, "parsed": [_pairs_text(e.prediction) for e in r.examples],
                      "ok": "".join("1" if sorted(map(tuple, e.prediction)) == sorted(map(tuple, e.gold)) else "0"
                                    for e in r.examples)} for task, r in first.items()}
    return f"(window.FSA_PREDS=window.FSA_PREDS||{{}})[{inline_json(slug)}]={inline_json(payload)};\n"


def render_compare(board: Leaderboard, payload: dict[str, Any], built: dt.datetime | None = None) -> str:
    return environment().get_template("compare.html.j2").render(
        **_common(board, built), entries=payload["entries"], data_json=inline_json(payload))


def _write(path: Path, text: str) -> None:
    write_text_atomic(path, text)
    path.chmod(0o644)  # a published page is world-readable


def build_site(board: Leaderboard, entries: Sequence[Verified], out_dir: Path,
               built: dt.datetime | None = None) -> Path:
    """Write index.html, models/<slug>.html, assets and the chart under out_dir; return index.html."""
    out_dir = Path(out_dir)
    (out_dir / "models").mkdir(parents=True, exist_ok=True)
    (out_dir / "assets").mkdir(exist_ok=True)
    for asset in ASSETS:
        shutil.copyfile(TEMPLATES / asset, out_dir / "assets" / asset)
    rows = table_rows(board, [{**e.row, "slug": e.slug} for e in entries])
    index = out_dir / "index.html"
    _write(index, render_index(board, rows, charts(board, entries, rows, out_dir / "assets"), built))
    by_slug = {e.slug: e for e in entries}
    (out_dir / "assets" / "preds").mkdir(exist_ok=True)
    for row in rows:
        _write(out_dir / "models" / f"{row['slug']}.html", render_model(board, row, by_slug[row["slug"]].results, built))
        _write(out_dir / "assets" / "preds" / f"{row['slug']}.js", prediction_script(row["slug"], by_slug[row["slug"]].results))
    payload = compare_payload([{"slug": r["slug"], "name": r["name"]} for r in rows],
                              longest_runs([r for e in entries for r in e.results]))
    _write(out_dir / "compare.html", render_compare(board, payload, built))
    return index
