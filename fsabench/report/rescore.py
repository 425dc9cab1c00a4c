"""Every score a report shows is re-computed from the examples a result file stores.

A RunResult claims scores; the report does not take them on trust. Each record's raw output is
parsed again with the task's own parser and repairs (the task definition stored in the file,
through `fsabench.scoring.score_record`, exactly as `fsabench run` and `fsabench score` parse), and
every subset is scored with `fsabench.scoring.score_records`. A file whose stored scores or parsed
predictions disagree is named in a warning and its re-computed values are used.

The report reads no data directory, so the gold tuples and subsets are the ones the file stores;
checking them against the task data is the leaderboard's job (`fsabench leaderboard verify`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from fsabench.examples import Example
from fsabench.results import Record, RunResult, Score
from fsabench.scoring import first_score_difference, score_record, score_records


def _spec(result: RunResult):
    from fsabench.tasks.spec import TaskSpec

    if not result.task.definition:
        return None
    try:
        return TaskSpec.model_validate(result.task.definition)
    except ValidationError:
        return None


def _rescored(spec, record: Record) -> Record:
    example = Example(id=record.id, input=record.input, target=record.target,
                      gold=tuple(tuple(t) for t in record.gold), subsets=tuple(record.subsets), source="")
    fresh = score_record(spec, example, record.output, record.error, record.prompt)
    return record.model_copy(update={"prediction": fresh.prediction, "unparseable": fresh.unparseable,
                                     "pieces": fresh.pieces, "repairs": fresh.repairs})


def recompute(path: Path, result: RunResult) -> tuple[RunResult, str | None]:
    """(the result with re-parsed predictions and re-computed scores, a warning or None)."""
    spec = _spec(result)
    if spec is None:
        fixed = stored_prediction_scores(result)
        problem = first_score_difference(result.scores, fixed.scores)
        return fixed, (f"{path}: no readable task definition stored, so its outputs cannot be parsed again; "
                       "scores re-computed from its stored predictions"
                       + (f" (stored scores disagree: {problem})" if problem else ""))
    records = [_rescored(spec, r) for r in result.examples]
    changed = sum(a.prediction != b.prediction for a, b in zip(records, result.examples))
    scores = score_records(spec, records)
    problem = first_score_difference(result.scores, scores)
    fixed = result.model_copy(update={"examples": records, "scores": scores})
    if changed:
        problem = (f"{changed} stored predictions differ from their outputs parsed again"
                   + (f"; {problem}" if problem else ""))
    if problem:
        return fixed, f"{path}: stored scores disagree with its examples ({problem}); re-computed scores are used"
    return fixed, None


def stored_prediction_scores(result: RunResult) -> RunResult:
    """Scores from the stored predictions, for a file without a task definition (no parser to re-run)."""
    from fsabench.metrics import accuracy_macro_f1, pct, tuple_f1

    subsets = list(dict.fromkeys(["all"] + [s for r in result.examples for s in r.subsets]))
    scores = {}
    for name in subsets:
        rows = [r for r in result.examples if name in r.subsets or name == "all"]
        gold = [[tuple(t) for t in r.gold] for r in rows]
        pred = [[tuple(t) for t in r.prediction] for r in rows]
        if result.task.type == "classification":
            labels = sorted({g[0][0] for g in gold if g})
            acc, macro = accuracy_macro_f1([g[0][0] for g in gold], [p[0][0] if p else None for p in pred], labels)
            scores[name] = Score(n=len(rows), accuracy=pct(acc), macro_f1=pct(macro))
        else:
            prf = tuple_f1(gold, pred)
            scores[name] = Score(n=len(rows), precision=pct(prf.precision), recall=pct(prf.recall), f1=pct(prf.f1))
    return result.model_copy(update={"scores": scores})
