"""Find and load task YAML: built-in tasks plus user directories. Loading never runs code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fsabench.errors import SpecError, UnknownName
from fsabench.settings import extra_task_dirs
from fsabench.tasks.spec import GroupSpec, TaskSpec

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "builtin_tasks"
MAX_INCLUDE_DEPTH = 8


def _read_yaml(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """Parse YAML with the safe loader only (no tags, no code); return the mapping and its node tree."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})", hint="check the path") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{path}:{where}: invalid YAML ({problem})",
                        hint="fix the syntax; tags such as !function are not allowed") from None
    if data is None:
        raise SpecError(f"{path}: file is empty", hint="a task needs name, data and gold")
    if not isinstance(data, dict):
        raise SpecError(f"{path}: top level must be a mapping", hint="write `key: value` lines")
    return data, node


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at a pydantic error location, as deep as the file has it."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(key)), None)
            if match is None:
                match_key = next((k for k, _ in node.value if k.value == str(key)), None)
                return match_key.start_mark.line + 1 if match_key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve_includes(path: Path, data: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """`include: other.yaml` pulls in a base file (relative to this one); this file's keys win."""
    include = data.pop("include", None)
    if include is None:
        return data
    if depth >= MAX_INCLUDE_DEPTH:
        raise SpecError(f"{path}: 'include' nests deeper than {MAX_INCLUDE_DEPTH}", hint="remove the include cycle")
    if not isinstance(include, str):
        raise SpecError(f"{path}: 'include' must be a file name", hint="e.g. include: atsa-rest14.yaml")
    base_path = (path.parent / include).resolve()
    base, _ = _read_yaml(base_path)
    return _merge(_resolve_includes(base_path, base, depth + 1), data)


def _format_validation(path: Path, node: yaml.Node | None, exc: ValidationError) -> SpecError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    field = ".".join(str(p) for p in loc) or "(top level)"
    line = _line_of(node, loc)
    where = f"{path}:{line}" if line else str(path)
    if err["type"] == "extra_forbidden":
        return SpecError(f"{where}: unknown key '{field}'", hint="remove it or check its spelling against "
                         "`fsabench tasks show atsa-rest14`")
    if err["type"] == "missing":
        return SpecError(f"{where}: missing required field '{field}'", hint="add it (see the built-in tasks)")
    more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
    return SpecError(f"{where}: field '{field}': {err['msg']}{more}", hint="correct the value")


def load_spec_file(path: str | Path) -> TaskSpec | GroupSpec:
    """Load and validate one task or group YAML file."""
    path = Path(path)
    data, node = _read_yaml(path)
    data = _resolve_includes(path, data)
    model = GroupSpec if "group" in data else TaskSpec
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _format_validation(path, node, exc) from None


@dataclass(frozen=True)
class TaskRegistry:
    """Name -> YAML path for every task and group on the search path (user dirs shadow built-ins)."""

    tasks: dict[str, Path]
    groups: dict[str, Path]

    def names(self) -> list[str]:
        return sorted(set(self.tasks) | set(self.groups))

    def spec(self, name: str) -> TaskSpec:
        if name not in self.tasks:
            raise UnknownName("task", name, self.names())
        spec = load_spec_file(self.tasks[name])
        assert isinstance(spec, TaskSpec)
        return spec

    def expand(self, names: list[str], _seen: frozenset[str] = frozenset()) -> list[str]:
        """Task names from a list of task and group names, groups expanded, order kept, no repeats."""
        out: list[str] = []
        for name in names:
            if name in self.groups:
                if name in _seen:
                    raise SpecError(f"{self.groups[name]}: group '{name}' includes itself", hint="remove the cycle")
                group = load_spec_file(self.groups[name])
                assert isinstance(group, GroupSpec)
                members = self.expand(group.tasks, _seen | {name})
            elif name in self.tasks:
                members = [name]
            else:
                raise UnknownName("task", name, self.names())
            out += [m for m in members if m not in out]
        return out


def _scan(directory: Path, tasks: dict[str, Path], groups: dict[str, Path]) -> None:
    for path in sorted(directory.rglob("*.y*ml")):
        if path.suffix not in (".yaml", ".yml") or path.name.startswith("_"):
            continue
        data, _ = _read_yaml(path)
        if "group" in data:
            groups[str(data["group"])] = path
        elif "name" in data:
            tasks[str(data["name"])] = path
        else:
            raise SpecError(f"{path}: no 'name' (task) or 'group' key", hint="add `name: my-task`")


def build_registry(tasks_dirs: list[str] | None = None) -> TaskRegistry:
    """Scan the built-in tasks, then --tasks-dir and FSABENCH_TASKS_PATH directories."""
    tasks: dict[str, Path] = {}
    groups: dict[str, Path] = {}
    if BUILTIN_DIR.is_dir():
        _scan(BUILTIN_DIR, tasks, groups)
    for directory in extra_task_dirs(tasks_dirs):
        if not directory.is_dir():
            raise SpecError(f"{directory}: tasks directory does not exist", hint="check --tasks-dir / FSABENCH_TASKS_PATH")
        _scan(directory, tasks, groups)
    return TaskRegistry(tasks, groups)
