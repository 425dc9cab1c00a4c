"""fsabench: fine-grained sentiment analysis as a benchmark anyone can run, extend and publish.

The Python API (`fsabench.api`: `evaluate`, `score`, `load_results`, `build_report`, `list_tasks`, `task`
and one function per CLI verb) is loaded on first use, so `import fsabench` stays fast and never imports
torch. See docs/python.md. No API name equals a subpackage's: `fsabench.report(...)` and
`fsabench.tasks()` are the deprecated old spellings of `build_report` and `list_tasks` (the subpackages
themselves are callable for one release, so they work before and after `import fsabench.report`).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
_API = ("evaluate", "score", "load_results", "build_report", "report_files", "list_tasks", "task", "task_catalog",
        "show_task", "task_ids", "validate_tasks", "pull_data", "verify_data", "export_lm_eval", "serve_model", "submit",
        "verify", "audit", "build_site", "serve_leaderboard", "distill_corpus", "distill_pretrain", "distill_finetune",
        "plan_recipe", "distill_recipe", "human_create", "human_rubric", "human_serve", "human_export",
        "human_import", "human_judge", "human_stats", "diff", "overlap", "export_hub")
__all__ = [*_API, "report", "tasks", "RunResult", "ModelAdapter", "Request", "Completion", "FsabenchError"]

_LAZY = {name: "fsabench.api" for name in _API}
_LAZY.update({"RunResult": "fsabench.results", "ModelAdapter": "fsabench.models.base",
              "Request": "fsabench.models.base", "Completion": "fsabench.models.base", "FsabenchError": "fsabench.errors"})
_CALLABLE_PACKAGES = ("report", "tasks")  # subpackages that double as (deprecated) API callables


def __getattr__(name: str) -> Any:
    from importlib import import_module

    if name in _CALLABLE_PACKAGES:  # the subpackage itself (callable where an old API name matches it)
        return import_module(f"fsabench.{name}")
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fsabench' has no attribute {name!r}")
