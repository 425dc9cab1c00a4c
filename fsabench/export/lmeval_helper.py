"""fsabench's helper module for lm-evaluation-harness, copied by `fsabench export lm-eval`.

lm-eval loads it through the exported YAMLs (`!function fsabench_lmeval.<name>`). It reads the
documents and task definitions written beside it and scores with fsabench's own parser and metrics
(fsabench must be importable where lm_eval runs), so both harnesses give identical numbers.

Each document is answered once; `process_results` hands the raw answer to every metric, and each
aggregation (one per metric and subset, generated at the end of this file) re-parses the answers of
its subset exactly as `fsabench run` does.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
from fsabench.formats import NEWLINE_TOKEN  # noqa: E402  (defined once)
DOC_FIELDS = ("task", "id", "prompt", "target")


@lru_cache(maxsize=None)
def task_spec(task: str):
    from fsabench.tasks.spec import TaskSpec

    return TaskSpec.model_validate(json.loads((HERE / "specs" / f"{task}.json").read_text(encoding="utf-8")))


@lru_cache(maxsize=None)
def task_docs(task: str) -> tuple[dict, ...]:
    lines = (HERE / "docs" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


def metric_names(task: str) -> list[str]:
    spec = task_spec(task)
    metrics = ("accuracy", "macro_f1") if spec.metric == "accuracy" else ("precision", "recall", "f1")
    return [m if subset == "all" else f"{m}_{subset}" for subset in spec.subsets for m in metrics]


def load_docs(task: str | None = None, **_: object) -> dict:
    """lm-eval's `custom_dataset`: the exported test documents of one task."""
    import datasets

    rows = task_docs(task)
    fields = DOC_FIELDS + (("choices", "gold_index") if rows and "choices" in rows[0] else ())
    return {"test": datasets.Dataset.from_list([{k: row[k] for k in fields} for row in rows])}


def process_results(doc: dict, results: list) -> dict:
    """The answer text (generation) or the likeliest choice (loglikelihood), for every metric."""
    if results and isinstance(results[0], (tuple, list)):
        scores = [float(r[0]) for r in results]
        text = doc["choices"][max(range(len(scores)), key=scores.__getitem__)]
    else:
        text = results[0] if results else ""
    item = (doc["task"], doc["id"], text.replace(NEWLINE_TOKEN, "\n"))
    return {name: item for name in metric_names(doc["task"])}


def _aggregator(metric: str, subset: str):
    def aggregate(items: list) -> float:
        from fsabench.examples import Example
        from fsabench.scoring import score_record, score_subset

        task = items[0][0]
        spec = task_spec(task)
        docs = {d["id"]: d for d in task_docs(task)}
        records = []
        for _, doc_id, text in items:
            d = docs[doc_id]
            example = Example(d["id"], d["input"], d["target"], tuple(tuple(g) for g in d["gold"]),
                              tuple(d["subsets"]), d.get("source", ""))
            records.append(score_record(spec, example, text))
        value = getattr(score_subset(spec, [r for r in records if subset in r.subsets]), metric)
        return float("nan") if value is None else value

    aggregate.__name__ = f"agg__{metric}__{subset}"
    return aggregate


# --- aggregations, one per (metric, subset) of the exported tasks ------------------------------
