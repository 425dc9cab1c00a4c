"""The recipe's contamination check: which test sentences occur in the teacher corpus a student is trained on.

Run once after the corpus stage (`out/corpus/contamination.json`, redone when the corpus, tasks or n
change) and recorded in every fine-tuned RunResult as `meta.contamination`: the overlapping ids of that
task and the score on the clean rest, so a reader sees both the number and how much a leak could move it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from fsabench.errors import FsabenchError
from fsabench.io import iter_jsonl, read_json_object, write_json_atomic

FILE = "contamination.json"
NGRAM = 13


def corpus_fields(corpus: Path) -> list[str]:
    """`Text` plus every `<teacher>_response` field of the corpus's first row."""
    try:
        first = next(iter_jsonl(corpus, "corpus file"), None)
    except FsabenchError:
        first = None
    row = first.value if first is not None and isinstance(first.value, dict) else {}
    return ["Text"] + sorted(k for k in row if isinstance(k, str) and k.endswith("_response"))


def maybe_check_contamination(corpus_dir: Path, tasks: list[str], data_dir: Path, say: Callable[[str], None],
                              ngram: int = NGRAM) -> dict[str, Any] | None:
    from fsabench.contamination import scan, task_sentences
    from fsabench.distill.corpus import CORPUS
    from fsabench.tasks.registry import build_registry

    corpus = corpus_dir / CORPUS
    if not corpus.is_file():
        return None
    stat = corpus.stat()
    settings = {"tasks": list(tasks), "ngram": ngram, "corpus_bytes": stat.st_size, "corpus_mtime": stat.st_mtime_ns}
    path = corpus_dir / FILE
    if path.is_file():
        stored = read_json_object(path, "contamination record", hint=f"delete {path} to check again")
        if stored.get("settings") == settings:
            return stored
    registry = build_registry()
    specs = [registry.spec(name) for name in registry.expand(list(tasks))]
    found = scan(corpus, corpus_fields(corpus), task_sentences(specs, data_dir), ngram).to_dict()
    payload = {**found, "settings": settings}
    write_json_atomic(path, payload)
    total = sum(t["subsets"]["all"]["overlapping"] for t in found["tasks"].values())
    say(f"contamination: {total} test sentences share a word {ngram}-gram with the corpus ({path})")
    return payload


def contamination_meta(payload: dict[str, Any], result) -> dict[str, Any] | None:
    """`meta.contamination` of one RunResult: the task's overlap and its score without those examples."""
    from fsabench.scoring import score_subset
    from fsabench.tasks.spec import TaskSpec

    task = (payload.get("tasks") or {}).get(result.task.name)
    if task is None:
        return None
    ids = set(task["subsets"].get("all", {}).get("ids", []))
    spec = TaskSpec.model_validate(result.task.definition)
    clean = score_subset(spec, [r for r in result.examples if r.id not in ids and "all" in r.subsets])
    keep = ("n", "f1", "precision", "recall") if spec.type == "extraction" else ("n", "accuracy", "macro_f1")
    return {"corpus": Path(payload["corpus"]).name, "fields": payload.get("fields"), "ngram": payload["ngram"],
            "min_words": payload.get("min_words"),
            "overlapping": {name: s["overlapping"] for name, s in task["subsets"].items()},
            "ids": sorted(ids), "clean": {k: getattr(clean, k) for k in keep}}
