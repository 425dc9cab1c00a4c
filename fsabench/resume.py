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
            num_shots: int, scoring: str) -> dict[str, Any]:
    """Everything that can change a run's answers or scores, as plain JSON."""
    return {
        "model": model_key(adapter),
        "task_sha256": task_sha256,
        "data": dict(sorted(data_files.items())),
        "limit": limit,
        "seed": seed,
        "num_shots": num_shots,
        "scoring": scoring,
        "prompt_style": getattr(adapter, "prompt_style", None),
    }


def differences(stored: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """Names of the key fields that differ (dotted for model parts); ['run_key'] when none is stored."""
    if not isinstance(stored, dict):
        return ["run_key (the stored result predates run keys)"]
    names = []
    for field in current:
        if field == "model" and isinstance(stored.get("model"), dict):
            names += [f"model.{part}" for part in current["model"] if stored["model"].get(part) != current["model"][part]]
        elif _norm(stored.get(field)) != _norm(current[field]):
            names.append(field)
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
        return None, ["complete (the stored run stopped early)"]
    diff = differences(previous.meta.get("run_key"), _norm(current))
    return (previous, []) if not diff else (None, diff)
