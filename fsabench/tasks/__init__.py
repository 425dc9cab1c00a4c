"""Declarative tasks: a YAML file per task, validated by TaskSpec, found by the registry."""


import sys as _sys
import types as _types


class _CallableTasks(_types.ModuleType):
    """`fsabench.tasks()`, the old name of `fsabench.list_tasks()`: kept callable for one release, while
    `fsabench.tasks.registry` etc. stay modules."""

    def __call__(self, tasks_dir=()) -> list[str]:
        import warnings

        from fsabench.io import as_paths
        from fsabench.tasks.registry import build_registry

        warnings.warn("fsabench.tasks() is deprecated; call fsabench.list_tasks()", DeprecationWarning, stacklevel=2)
        return sorted(build_registry([str(d) for d in as_paths(tasks_dir, "tasks_dir")] or None).tasks)


_sys.modules[__name__].__class__ = _CallableTasks
