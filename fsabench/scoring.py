"""Per-subset scores from scored records: the one place run, score and leaderboard share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from fsabench.errors import FsabenchError
from fsabench.examples import Example, parse_output
from fsabench.formats import apply_repairs, parse_tuples_authors
from fsabench.metrics import absa_f1, accuracy_macro_f1, element_f1, pct, per_label_f1, tuple_f1
from fsabench.results import Record, Score
from fsabench.tasks.spec import TaskSpec


def score_record(spec: TaskSpec, example: Example, output: str | None, error: str | None = None,
                 prompt: str | list | None = None) -> Record:
    """Parse one model output against its example; a failed request predicts nothing (under the authors'
    convention it is an empty output: one wrong prediction)."""
    if spec.convention == "authors":
        return _authors_record(spec, example, output, error, prompt)
    if output is None:
        parsed_pairs, pieces, unparseable, repairs = (), 0, 0, ()
    else:
        text, repairs = apply_repairs(output, spec.output.repairs)
        parsed = parse_output(spec.output, text, example.input)
        parsed_pairs, pieces, unparseable = parsed.pairs, parsed.pieces, parsed.unparseable
    return Record(
        id=example.id, input=example.input, target=example.target,
        gold=[list(t) for t in example.gold], prompt=prompt, output=output,
        prediction=[list(t) for t in parsed_pairs], subsets=list(example.subsets),
        unparseable=unparseable, pieces=pieces, repairs=list(repairs), error=error,
    )


def _authors_record(spec: TaskSpec, example: Example, output: str | None, error: str | None,
                    prompt: str | list | None) -> Record:
    """ABSA-QUAD's reading: gold is the target text as written (case kept), the prediction every piece
    of the output (see formats.parse_tuples_authors); the task's repairs still apply first."""
    text, repairs = apply_repairs(output or "", spec.output.repairs)
    parsed = parse_tuples_authors(text, spec.output.fields)
    gold = parse_tuples_authors(example.target, spec.output.fields).pairs if example.target else ()
    return Record(
        id=example.id, input=example.input, target=example.target, gold=[list(t) for t in gold], prompt=prompt,
        output=output, prediction=[list(t) for t in parsed.pairs], subsets=list(example.subsets),
        unparseable=parsed.unparseable, pieces=parsed.pieces, repairs=list(repairs), error=error,
    )


def _labels(spec: TaskSpec) -> list[str]:
    return spec.output.labels if spec.output.parser == "label" else spec.output.polarities


def undefined(spec: TaskSpec, records: Sequence[Record]) -> bool:
    """A score of nothing is undefined, never 100: an empty subset, a subset whose every request failed,
    or an extraction subset without a single gold tuple (its F1 would be 100 for answering nothing)."""
    if not records or all(r.error is not None for r in records):
        return True
    return spec.metric != "accuracy" and not any(r.gold for r in records)


def score_subset(spec: TaskSpec, records: Sequence[Record]) -> Score:
    if undefined(spec, records):
        return Score(n=len(records), failed=sum(r.error is not None for r in records),
                     n_gold=sum(len(r.gold) for r in records) if spec.metric != "accuracy" else None,
                     n_pred=sum(len(r.prediction) for r in records) if spec.metric != "accuracy" else None)
    gold = [[tuple(t) for t in r.gold] for r in records]
    pred = [[tuple(t) for t in r.prediction] for r in records]
    pieces = sum(r.pieces for r in records)
    unparseable = pct(sum(r.unparseable for r in records) / pieces) if pieces else 0.0
    failed = sum(r.error is not None for r in records)
    repairs = dict(sorted(Counter(name for r in records for name in r.repairs).items()))
    if spec.metric == "accuracy":
        gold_labels = [g[0][0] for g in gold]
        pred_labels = [p[0][0] if p else None for p in pred]
        accuracy, macro = accuracy_macro_f1(gold_labels, pred_labels, _labels(spec))
        per_label = {}
        for label in _labels(spec):
            _, f1 = accuracy_macro_f1(gold_labels, pred_labels, [label])
            if label in gold_labels or label in pred_labels:
                per_label[label] = pct(f1)
        return Score(n=len(records), accuracy=pct(accuracy), macro_f1=pct(macro), unparseable=unparseable,
                     failed=failed, per_polarity=per_label, repairs=repairs)
    if spec.metric == "absa_f1":
        return _absa_score(spec, records, gold, pred, unparseable, failed, repairs)
    prf = tuple_f1(gold, pred)
    return Score(
        n=len(records), precision=pct(prf.precision), recall=pct(prf.recall), f1=pct(prf.f1),
        unparseable=unparseable, failed=failed, n_gold=prf.n_gold, n_pred=prf.n_pred,
        per_polarity=per_label_f1(gold, pred, _labels(spec)), repairs=repairs,
    )


def _absa_score(spec: TaskSpec, records: Sequence[Record], gold, pred, unparseable: float, failed: int,
                repairs: dict[str, int]) -> Score:
    """ABSA-QUAD's scoring (unparseable pieces are wrong predictions) plus per-element F1."""
    prf = absa_f1(gold, pred, [r.unparseable for r in records], spec.convention)
    fields = spec.output.fields
    polarity_at = fields.index("polarity") if "polarity" in fields else -1
    elements = {name: [fields.index(f) for f in names] for name, names in spec.elements.items()}
    return Score(
        n=len(records), precision=pct(prf.precision), recall=pct(prf.recall), f1=pct(prf.f1),
        unparseable=unparseable, failed=failed, n_gold=prf.n_gold, n_pred=prf.n_pred,
        per_polarity=per_label_f1(gold, pred, _labels(spec), polarity_at,
                                  lambda g, p: absa_f1(g, p, convention=spec.convention)),
        per_element=element_f1(gold, pred, elements), repairs=repairs,
    )


def score_records(spec: TaskSpec, records: Sequence[Record]) -> dict[str, Score]:
    """Scores for every subset the task declares, in declaration order."""
    return {name: score_subset(spec, [r for r in records if name in r.subsets]) for name in spec.subsets}


def first_score_difference(stored: dict[str, Score], fresh: dict[str, Score], stored_as: str = "stored",
                           fresh_as: str = "re-computed") -> str | None:
    """The first field where stored scores differ from freshly computed ones, as a sentence; None if equal.

    Reports (a result file's scores) and the leaderboard (a bundle's claimed scores) both re-score outputs
    and name the first difference; only the words for the two sides differ."""
    if set(stored) != set(fresh):
        return f"scores list subsets {sorted(stored)}, the task scores {list(fresh)}"
    for subset, score in fresh.items():
        new, old = score.model_dump(), stored[subset].model_dump()
        for key, value in new.items():
            if old[key] != value and not _legacy_empty_side(key, old, new):
                return f"subset '{subset}' {key}: {stored_as} {old[key]}, {fresh_as} {value}"
    return None


def _legacy_empty_side(key: str, old: dict, new: dict) -> bool:
    """Result files and bundles written before this rule (and the paper's code) give a precision of no predictions, or
    a recall of no gold, as 100; it is now undefined. The same counts, so not a different score."""
    count = {"precision": "n_pred", "recall": "n_gold"}.get(key)
    return count is not None and new[key] is None and old[key] == 100.0 and new[count] == 0 == old[count]


def with_convention(spec: TaskSpec, convention: str | None) -> TaskSpec:
    """The task scored under `convention` (capped | authors); None keeps the task's own. The authors'
    convention exists only for the triplet and quad tasks (metric absa_f1): asking it of another task is an error,
    so a pair score is never labelled with a convention it was not scored under."""
    if convention is None or convention == spec.convention:
        return spec
    if spec.metric != "absa_f1":
        if convention == "capped":
            return spec
        raise FsabenchError(f"--convention {convention}: task {spec.name} is scored with {spec.metric}, not absa_f1",
                            hint="the authors' convention applies to the triplet and quad tasks (aste, asqp); "
                                 "run the other tasks without it")
    return TaskSpec.model_validate({**spec.model_dump(), "convention": convention})
