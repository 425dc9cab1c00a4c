"""fsabench: fine-grained sentiment analysis as a benchmark anyone can run, extend and publish.

The Python API (`evaluate`, `score`, `load_results`, `report`, `tasks`, `task`) is loaded on first use,
so `import fsabench` stays fast and never imports torch. See docs/python.md.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["evaluate", "score", "load_results", "report", "tasks", "task", "RunResult", "ModelAdapter",
           "Request", "Completion", "FsabenchError"]

_LAZY = {
    "evaluate": "fsabench.api", "score": "fsabench.api", "load_results": "fsabench.api", "report": "fsabench.api",
    "task": "fsabench.api", "RunResult": "fsabench.results",
    "ModelAdapter": "fsabench.models.base", "Request": "fsabench.models.base", "Completion": "fsabench.models.base",
    "FsabenchError": "fsabench.errors",
}


def __getattr__(name: str) -> Any:
    if name == "tasks":  # the subpackage fsabench.tasks is callable: fsabench.tasks() lists task names
        from importlib import import_module

        return import_module("fsabench.tasks")
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fsabench' has no attribute {name!r}")
