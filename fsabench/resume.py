"""When may a stored result stand in for a new run? Only when everything that changes answers or scores is equal.

The run key is recorded in every RunResult (`meta.run_key`) and compared field by field before a result is
reused: model name, identity (weights fingerprint, endpoint) and answer-changing settings, the task's
definition hash, every data file's sha256, limit, seed, shots, scoring, prompt style and token budget.
A result without a key (older files) is never reused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsabench.models.cache import model_key
from fsabench.results import RunResult


def run_key(adapter: Any, task_sha256: str, data_files: dict[str, str], limit: int | None, seed: int,
            num_shots: int, scoring: str, convention: str = "capped", prompt: str = "default") -> dict[str, Any]:
    """Everything that can change a run's answers or scores, as plain JSON. The scoring convention of
    triplet and quad tasks and the prompt variant are named only when they are not the default (so older
    keys still match; a variant's templates are covered by the task hash either way)."""
    key = {
        "model": model_key(adapter),
        "task_sha256": task_sha256,
        "data": dict(sorted(data_files.items())),
        "limit": limit,
        "seed": seed,
        "num_shots": num_shots,
        "scoring": scoring,
        "prompt_style": getattr(adapter, "prompt_style", None),
    }
    if convention != "capped":
        key["convention"] = convention
    if prompt != "default":
        key["prompt"] = prompt
    return key


def differences(stored: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """Why the stored key differs, e.g. ['a different limit', 'a different model.identity']."""
    if not isinstance(stored, dict):
        return ["no run key (made by an older fsabench)"]
    names = []
    for field in current:
        if field == "model" and isinstance(stored.get("model"), dict):
            names += [f"a different model.{part}" for part in current["model"]
                      if _norm(stored["model"].get(part)) != _norm(current["model"][part])]
        elif _norm(stored.get(field)) != _norm(current[field]):
            names.append(f"a different {field}")
    return names


def _norm(value: Any) -> Any:
    """JSON round-trip form, so tuples and lists compare equal."""
    import json

    return json.loads(json.dumps(value, sort_keys=True, default=str))


def reusable(path: Path, current: dict[str, Any]) -> tuple[RunResult | None, list[str]]:
    """The stored result at `path` when it is complete and its run key equals `current`, else the reasons."""
    from fsabench.results import load_result

    previous = load_result(path)
    if not previous.complete:
        return None, ["it stopped early"]
    if previous.usage.failed:
        return None, [f"{previous.usage.failed} requests failed (retried now)"]
    diff = differences(previous.meta.get("run_key"), _norm(current))
    return (previous, []) if not diff else (None, diff)
