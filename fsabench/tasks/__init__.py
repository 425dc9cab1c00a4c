"""Declarative tasks: a YAML file per task, validated by TaskSpec, found by the registry."""


import sys as _sys
import types as _types


class _CallableTasks(_types.ModuleType):
    """`fsabench.tasks()` lists task names (the Python API), while `fsabench.tasks.registry` etc. stay modules."""

    def __call__(self, tasks_dir=()) -> list[str]:
        from fsabench.api import tasks

        return tasks(tasks_dir)


_sys.modules[__name__].__class__ = _CallableTasks
