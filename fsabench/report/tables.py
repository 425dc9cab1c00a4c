"""Display tables built from the analysis frames, rendered to Markdown, LaTeX and CSV.

A Table is plain text cells plus a bold flag, so every format shows the same numbers. Missing
values are a dash; the best value per column (within a task) is bold.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from fsabench.report.frames import Analysis
from fsabench.tasks.spec import structure_of

DASH = "–"  # undefined: no value, or (after ±) no spread
# Tables by answer structure (fsabench.tasks.spec.structure_of): pairs keep the paper's table names.
STRUCTURES = (("pairs", "fsa", "Fine-grained sentiment (tuple F1)"),
              ("triplets", "triplets", "Aspect sentiment triplets (tuple F1)"),
              ("quads", "quads", "Aspect sentiment quads (tuple F1)"),
              ("tuples", "tuples", "Other tuples (tuple F1)"),
              ("labels", "zero_shot", "Zero-shot classification (accuracy, macro-F1)"))
METRIC_NAMES = {"f1": "F1", "accuracy": "Accuracy", "macro_f1": "Macro-F1"}


@dataclass(frozen=True)
class Cell:
    text: str
    bold: bool = False


@dataclass
class Table:
    name: str  # file-safe id, e.g. "fsa"
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)


def missing(value) -> bool:
    return value is None or bool(pd.isna(value))


def fmt(value, digits: int = 2) -> str:
    return DASH if missing(value) else f"{value:.{digits}f}"


def fmt_params(value) -> str:
    if missing(value):
        return DASH
    value = int(value)
    for size, unit in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return str(value)


def fmt_tokens(value) -> str:
    return DASH if missing(value) else f"{value:,.0f}"


def fmt_cost(value) -> str:
    return DASH if missing(value) else f"${value:.4f}"


def fmt_delta(value) -> str:
    return DASH if missing(value) else f"{value:+.2f}"


def fmt_score(mean, std, spread: str = "seeds") -> str:
    """`mean ± std`; a deterministic model (same outputs for every seed) shows `± –`, never `± 0.00`."""
    if missing(mean):
        return DASH
    if spread == "deterministic":
        return f"{mean:.2f} ± {DASH}"
    return f"{mean:.2f}" if missing(std) else f"{mean:.2f} ± {std:.2f}"


def fmt_seeds(seeds, spread: str) -> str:
    return f"{int(seeds)} (deterministic)" if spread == "deterministic" else str(int(seeds))


def _spread(r) -> str:
    return getattr(r, "spread", "seeds") if isinstance(getattr(r, "spread", None), str) else "seeds"


def main_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of full runs: partial (`--limit`) rows go to their own table and change nothing here."""
    return frame[~frame["partial"].astype(bool)] if "partial" in frame.columns else frame


def partial_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["partial"].astype(bool)] if "partial" in frame.columns else frame.iloc[0:0]


def score_columns(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(subset, metric) pairs in order of first appearance."""
    return list(dict.fromkeys(zip(frame["subset"], frame["metric"])))


def column_titles(cols: list[tuple[str, str]]) -> list[str]:
    """Subset names, metric names, or both when a table has several of each."""
    subsets, metrics = {s for s, _ in cols}, {m for _, m in cols}
    if len(metrics) == 1:
        return [s for s, _ in cols]
    if len(subsets) == 1:
        return [METRIC_NAMES.get(m, m) for _, m in cols]
    return [f"{s} {METRIC_NAMES.get(m, m)}" for s, m in cols]


def _best(frame: pd.DataFrame) -> set[tuple]:
    """(model, protocol, task, subset, metric) keys holding the best mean in their task column."""
    best = set()
    for _, part in frame.dropna(subset=["mean"]).groupby(["task", "subset", "metric"], sort=False):
        if len(part) < 2:
            continue
        top = part["mean"].max()
        best |= {(r.model, r.protocol, r.task, r.subset, r.metric) for r in part.itertuples() if r.mean == top}
    return best


def score_table(frame: pd.DataFrame, name: str, title: str, with_delta: bool) -> Table:
    """Model x task rows with every (subset, metric) as a column: mean ± std over seeds."""
    cols = score_columns(frame)
    best = _best(frame)
    rows = []
    for (task, model, protocol), part in frame.groupby(["task", "model", "protocol"], sort=False):
        cells = {(r.subset, r.metric): r for r in part.itertuples()}
        first = part.iloc[0]
        spread = first["spread"] if "spread" in part.columns else "seeds"
        row = [Cell(task), Cell(model), Cell(protocol), Cell(fmt_seeds(part["seeds"].max(), spread)),
               Cell(fmt_params(first["parameters"]))]
        for key in cols:
            r = cells.get(key)
            text = DASH if r is None else fmt_score(r.mean, r.std, _spread(r))
            if r is not None and with_delta and not missing(r.delta) and model != frame.attrs.get("baseline"):
                text += f" ({fmt_delta(r.delta)})"
            row.append(Cell(text, r is not None and (model, protocol, task, *key) in best))
        row += [Cell(fmt_tokens(first["tokens_per_1k"])), Cell(fmt_cost(first["cost_per_1k"]))]
        rows.append(row)
    columns = ["Task", "Model", "Protocol", "Seeds", "Params", *column_titles(cols),
               "Tokens/1k ex", "Cost/1k ex"]
    notes = ["mean ± sample std over seeds; best per task in bold; Tokens and Cost per 1,000 examples"]
    if "spread" in frame.columns and (frame["spread"] == "deterministic").any():
        notes.append(f"± {DASH}: deterministic (identical outputs for every seed), so there is no spread")
    if with_delta:
        notes.append(f"(±x.xx) = difference to the baseline {frame.attrs.get('baseline')}")
    return Table(name, title, columns, rows, notes)


def ci_table(frame: pd.DataFrame, name: str, title: str) -> Table:
    cols = score_columns(frame)
    rows = []
    for (task, model, protocol), part in frame.groupby(["task", "model", "protocol"], sort=False):
        cells = {(r.subset, r.metric): r for r in part.itertuples()}
        row = [Cell(task), Cell(model), Cell(protocol)]
        for key in cols:
            r = cells.get(key)
            ok = r is not None and not missing(r.ci_low)
            row.append(Cell(f"[{r.ci_low:.2f}, {r.ci_high:.2f}]" if ok else DASH))
        rows.append(row)
    return Table(name, title, ["Task", "Model", "Protocol", *column_titles(cols)], rows,
                 ["95% percentile bootstrap over test examples (seed-averaged); the RNG is seeded by the example ids"])


def overview_table(frame: pd.DataFrame, subset: str, name: str, title: str) -> Table:
    """Models x tasks for one subset (the paper's layout) with an average over tasks."""
    part = frame[frame["subset"] == subset]
    metric = part["metric"].iloc[0] if len(part) else "f1"
    part = part[part["metric"] == metric]
    tasks = list(dict.fromkeys(part["task"]))
    best = _best(part)
    rows = []
    for (model, protocol), rows_m in part.groupby(["model", "protocol"], sort=True):
        by_task = {r.task: r for r in rows_m.itertuples()}
        row = [Cell(model), Cell(protocol), Cell(fmt_params(rows_m["parameters"].iloc[0]))]
        means = []
        for task in tasks:
            r = by_task.get(task)
            means.append(None if r is None else r.mean)
            row.append(Cell(DASH if r is None else fmt_score(r.mean, r.std, _spread(r)),
                            r is not None and (model, protocol, task, subset, metric) in best))
        row.append(Cell(DASH if any(missing(m) for m in means) else f"{sum(means) / len(means):.2f}"))
        rows.append(row)
    averages = [r[-1].text for r in rows]
    known = [float(a) for a in averages if a != DASH]
    top = max(known) if len(known) > 1 else None
    rows = [r[:-1] + [Cell(r[-1].text, top is not None and r[-1].text == f"{top:.2f}")] for r in rows]
    return Table(name, title, ["Model", "Protocol", "Params", *tasks, "Avg"], rows,
                 [f"{METRIC_NAMES.get(metric, metric)} on the '{subset}' subset, mean ± std over seeds; "
                  "Avg only when a model has every task"])


def tests_table(tests: pd.DataFrame, subset: str = "all") -> Table:
    rows = []
    for r in tests[tests["subset"] == subset].itertuples():
        rows.append([Cell(r.task), Cell(f"{r.model_a} ({r.protocol_a})"), Cell(f"{r.model_b} ({r.protocol_b})"),
                     Cell(str(r.n)), Cell(fmt_delta(r.delta), r.p_value < 0.05),
                     Cell(f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}]"), Cell(f"{r.p_value:.4f}")])
    return Table("tests", f"Paired bootstrap tests ('{subset}' subset)",
                 ["Task", "Model A", "Model B", "Examples", "Δ (A - B)", "95% CI of Δ", "p"], rows,
                 ["paired bootstrap over the examples both models answered; bold Δ: p < 0.05; "
                  "every subset is in tests.csv / report.json"])


def tables_for(analysis: Analysis, preset: str | None = None) -> list[Table]:
    """The report's tables: FSA scores, zero-shot classification, intervals, overview and tests."""
    summary = analysis.summary
    summary.attrs["baseline"] = analysis.baseline
    with_delta = analysis.baseline is not None
    tables = []
    structure = {g.task: "labels" if g.task_type == "classification" else structure_of(g.runs[0].task.definition)
                 for g in analysis.groups}
    shapes = summary["task"].map(lambda task: structure.get(task, "pairs")) if not summary.empty else summary["task"]
    for shape, name, title in STRUCTURES:
        part = main_rows(summary[shapes == shape])
        if part.empty:
            continue
        part.attrs["baseline"] = analysis.baseline
        suffix = "" if shape == "pairs" else f"_{shape}"
        if shape != "labels":
            tables.append(overview_table(part, "all", f"overview{suffix}",
                                         f"Overview{' (' + shape + ')' if suffix else ''}: F1 per task ('all' subset)"))
        tables.append(score_table(part, name, title, with_delta))
        tables.append(ci_table(part, f"{name}_ci", f"{title}: 95% bootstrap confidence intervals"))
        if preset == "paper" and shape == "pairs":
            for subset in [s for s in dict.fromkeys(part["subset"]) if s != "all"]:
                tables.append(overview_table(part, subset, f"paper_{subset}", f"F1 per task ('{subset}' subset)"))
    partial = partial_rows(summary)
    if not partial.empty:
        tables.append(partial_table(partial))
    if not analysis.tests.empty:
        tables.append(tests_table(analysis.tests))
    return tables


def partial_table(frame: pd.DataFrame) -> Table:
    """Runs on fewer examples than their task's main rows (`--limit`): shown apart, never averaged in."""
    cols = score_columns(frame)
    rows = []
    for (task, model, protocol), part in frame.groupby(["task", "model", "protocol"], sort=False):
        cells = {(r.subset, r.metric): r for r in part.itertuples()}
        first = part.iloc[0]
        name, _, scope = task.partition(" (")
        row = [Cell(name), Cell(model), Cell(protocol), Cell(scope.rstrip(")")),
               Cell(fmt_seeds(part["seeds"].max(), first["spread"]))]
        for key in cols:
            r = cells.get(key)
            row.append(Cell(DASH if r is None else fmt_score(r.mean, r.std, _spread(r))))
        rows.append(row)
    return Table("partial", "Partial runs (--limit): not comparable with the full rows",
                 ["Task", "Model", "Protocol", "Scope", "Seeds", *column_titles(cols)], rows,
                 ["scored on the first n test examples only; kept out of every other table, average and test"])


# --- renderers ---------------------------------------------------------------------------------
MD_SPECIALS = set("\\`*_<>|")


def md_escape(text: str) -> str:
    """Backslash-escape what Markdown would read as emphasis, HTML, a cell border or a link
    (brackets only where they could open one, so intervals like [1.00, 2.00] stay readable)."""
    specials = MD_SPECIALS | (set("[]") if "](" in text or "][" in text else set())
    return "".join(f"\\{ch}" if ch in specials else ch for ch in text.replace("\n", " "))


def _md_cell(cell: Cell) -> str:
    text = md_escape(cell.text)
    return f"**{text}**" if cell.bold and text != DASH else text


def to_markdown(table: Table) -> str:
    lines = [f"### {md_escape(table.title)}", "", "| " + " | ".join(md_escape(c) for c in table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    lines += [""] + [f"_{md_escape(note)}_" for note in table.notes]
    return "\n".join(lines) + "\n"


LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "Δ": r"$\Delta$", "–": "--", "…": r"\ldots{}", "<": r"\textless{}",
                  ">": r"\textgreater{}", "|": r"\textbar{}"}


def one_line(text: str) -> str:
    """Control characters (a newline in a model name) become spaces: one line stays one line."""
    import unicodedata

    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in str(text))


def latex_escape(text: str) -> str:
    """Every LaTeX special escaped, and on one line, so a name can never end a comment or a cell."""
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in one_line(text))


def latex_comment(text: str) -> str:
    """Text for a `%` comment line: one line, so nothing after a newline can run as LaTeX."""
    return one_line(text)


def to_latex(table: Table) -> str:
    """A booktabs table (needs \\usepackage{booktabs})."""
    def cell(c: Cell) -> str:
        return rf"\textbf{{{latex_escape(c.text)}}}" if c.bold and c.text != DASH else latex_escape(c.text)

    spec = "".join("l" if i < 3 else "r" for i in range(len(table.columns)))
    lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(latex_escape(c) for c in table.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(cell(c) for c in row) + r" \\" for row in table.rows]
    caption = latex_escape(table.title + ". " + " ".join(table.notes))
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{caption}}}",
              rf"\label{{tab:{table.name.replace('_', '-')}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def csv_safe(value):
    """A cell a spreadsheet will not run: text starting with = + - @ (or a tab / CR) gets a leading
    quote, unless it is a plain number such as -1.25."""
    if not isinstance(value, str):
        return value
    value = one_line(value) if ("\n" in value or "\r" in value) else value
    if value.startswith(FORMULA_START) and not NUMBER.match(value) and value not in ("-", DASH):
        return "'" + value
    return value


def to_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    safe = frame.copy()
    for column in safe.columns:
        if pd.api.types.is_string_dtype(safe[column]) or safe[column].dtype == object:
            safe[column] = safe[column].map(csv_safe)
    safe.to_csv(buffer, index=False, lineterminator="\n", float_format="%.4f")
    return buffer.getvalue()


def table_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_safe(c) for c in table.columns])
    writer.writerows([[csv_safe(c.text) for c in row] for row in table.rows])
    return buffer.getvalue()


def table_json(table: Table) -> dict:
    return {"name": table.name, "title": table.title, "columns": table.columns, "notes": table.notes,
            "rows": [[c.text for c in row] for row in table.rows],
            "bold": [[c.bold for c in row] for row in table.rows]}


def plain_rows(table: Table) -> Sequence[Sequence[str]]:
    return [[c.text for c in row] for row in table.rows]
