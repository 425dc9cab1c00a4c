"""Find and load task YAML: built-in tasks plus user directories. Loading never runs code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fsabench.errors import SpecError, UnknownName
from fsabench.settings import extra_task_dirs
from fsabench.tasks.spec import GroupSpec, TaskSpec
from fsabench.yamlfile import read_yaml

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "builtin_tasks"
MAX_INCLUDE_DEPTH = 8


def _read_yaml(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """Parse a task file with the safe, bounded loader (fsabench.yamlfile); it must be a mapping."""
    data, node = read_yaml(path, "task file")
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


WHOLE_KEYS = ("subsets",)  # a variant that declares these declares all of them (so it can drop one)


def _merge(base: dict[str, Any], override: dict[str, Any], top: bool = True) -> dict[str, Any]:
    """The base's keys with the variant's on top, mappings merged key by key, except `subsets`: a variant
    that reads only test.json must be able to drop the base's `hard: {file: hard_test.json}`, which
    would otherwise survive the merge as a subset that can never hold an example."""
    merged = dict(base)
    for key, value in override.items():
        if top and key in WHOLE_KEYS:
            merged[key] = value
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value, top=False)
        else:
            merged[key] = value
    return merged


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _resolve_includes(path: Path, data: dict[str, Any], roots: Sequence[Path], depth: int = 0,
                      chain: list[tuple[Path, yaml.Node | None]] | None = None) -> dict[str, Any]:
    """`include: other.yaml` pulls in a base file (relative to this one, else a built-in base such as
    `_atsa.yaml`); this file's keys win.

    A base must live inside the task folders in use (built-in, --tasks-dir, FSABENCH_TASKS_PATH, or the
    folder of the file being loaded): a task file from someone else cannot read /etc/passwd or ~/.ssh.
    `chain` collects each included file and its node tree (nearest first), so an error can name the
    file and line a bad key really came from.
    """
    include = data.pop("include", None)
    if include is None:
        return data
    if depth >= MAX_INCLUDE_DEPTH:
        raise SpecError(f"{path}: 'include' nests deeper than {MAX_INCLUDE_DEPTH}", hint="remove the include cycle")
    if not isinstance(include, str) or not include.strip():
        raise SpecError(f"{path}: 'include' must be a file name", hint="e.g. include: _atsa.yaml")
    base_path = (path.parent / include).resolve()
    if not base_path.exists() and (BUILTIN_DIR / include).is_file():  # a user variant of a built-in base
        base_path = (BUILTIN_DIR / include).resolve()
    if not _inside(base_path, roots):
        raise SpecError(f"{path}: include {include!r} points outside the task folders",
                        hint="put the base file in the same task folder (or one passed with --tasks-dir)")
    if base_path.suffix not in (".yaml", ".yml"):
        raise SpecError(f"{path}: include {include!r} is not a .yaml file", hint="include a task YAML base")
    base, base_node = _read_yaml(base_path)
    if chain is not None:
        chain.append((base_path, base_node))
    return _merge(_resolve_includes(base_path, base, roots, depth + 1, chain), data)


def _depth_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """How many leading keys of `loc` this file's node tree has."""
    depth = 0
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            break
        depth += 1
    return depth


def _origin(chain: list[tuple[Path, yaml.Node | None]], loc: tuple[Any, ...]) -> tuple[Path, yaml.Node | None]:
    """The file that set the value at `loc`: the one holding most of its key path, nearest file first."""
    return max(chain, key=lambda item: _depth_of(item[1], loc))


def _format_validation(chain: list[tuple[Path, yaml.Node | None]], exc: ValidationError) -> SpecError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    path, node = _origin(chain, loc)
    field = ".".join(str(p) for p in loc) or "(top level)"
    line = _line_of(node, loc)
    where = f"{path}:{line}" if line else str(path)
    if err["type"] == "extra_forbidden":
        return SpecError(f"{where}: unknown key '{field}'", hint="remove it or check its spelling against "
                         "`fsabench tasks show atsa-rest14`")
    if err["type"] == "missing":
        return SpecError(f"{where}: missing required field '{field}'", hint="add it (see the built-in tasks)")
    more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
    if err["type"] == "value_error":  # a rule across fields: its message names the fields and the fix
        problem = str(err.get("ctx", {}).get("error", err["msg"]))
        prefix = "" if field == "(top level)" else f"field '{field}': "
        return SpecError(f"{where}: {prefix}{problem}{more}", hint="see the task format in the README (Tasks)")
    return SpecError(f"{where}: field '{field}': {err['msg']}{more}", hint="correct the value")


def load_spec_file(path: str | Path, roots: Sequence[Path] = ()) -> TaskSpec | GroupSpec:
    """Load and validate one task or group YAML file; includes may come from `roots` or the file's folder."""
    path = Path(path)
    data, node = _read_yaml(path)
    allowed = [Path(r).resolve() for r in roots] + [path.resolve().parent, BUILTIN_DIR.resolve()]
    chain = [(path, node)]
    data = _resolve_includes(path, data, allowed, chain=chain)
    model = GroupSpec if "group" in data else TaskSpec
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _format_validation(chain, exc) from None


@dataclass(frozen=True)
class TaskRegistry:
    """Name -> YAML path for every task and group on the search path (user dirs shadow built-ins)."""

    tasks: dict[str, Path]
    groups: dict[str, Path]
    roots: tuple[Path, ...] = ()

    def names(self) -> list[str]:
        return sorted(set(self.tasks) | set(self.groups))

    def spec(self, name: str) -> TaskSpec:
        if not isinstance(name, str):
            raise SpecError(f"a task name must be text, not {type(name).__name__} {name!r:.40}",
                            hint=f"e.g. 'atsa-rest14' (known: {', '.join(self.names()[:6])}, ...)")
        if name not in self.tasks:
            raise UnknownName("task", name, self.names())
        spec = load_spec_file(self.tasks[name], self.roots)
        if not isinstance(spec, TaskSpec):
            raise SpecError(f"{self.tasks[name]}: '{name}' is a group, not a task", hint="use one of its tasks")
        from fsabench.tasks.checks import check_task

        check_task(spec, str(self.tasks[name]))
        return spec

    def expand(self, names: list[str], _seen: frozenset[str] = frozenset()) -> list[str]:
        """Task names from a list of task and group names, groups expanded, order kept, no repeats."""
        out: list[str] = []
        for name in names:
            if name in self.groups:
                if name in _seen:
                    raise SpecError(f"{self.groups[name]}: group '{name}' includes itself", hint="remove the cycle")
                group = load_spec_file(self.groups[name], self.roots)
                assert isinstance(group, GroupSpec)
                members = self.expand(group.tasks, _seen | {name})
            elif name in self.tasks:
                members = [name]
            else:
                raise UnknownName("task", name, self.names())
            out += [m for m in members if m not in out]
        return out


def _scan(directory: Path, tasks: dict[str, Path], groups: dict[str, Path], user: dict[str, Path] | None = None) -> None:
    """Register every task and group file in `directory`. A user file shadows a built-in of the same
    name (documented), but two user files claiming one name are refused: which one ran would depend
    on the order of folders and files, silently."""
    for path in sorted(directory.rglob("*.y*ml")):
        if path.suffix not in (".yaml", ".yml") or path.name.startswith("_"):
            continue
        data, _ = _read_yaml(path)
        if "group" in data or "name" in data:
            key, table = ("group", groups) if "group" in data else ("name", tasks)
            name = str(data[key])
            if user is not None:
                if name in user and user[name].resolve() != path.resolve():
                    raise SpecError(f"{path}: {key} {name!r} is also declared by {user[name]}",
                                    hint="rename one of the two (task and group names are unique)")
                user[name] = path
            table[name] = path
        else:
            raise SpecError(f"{path}: no 'name' (task) or 'group' key", hint="add `name: my-task`")


def build_registry(tasks_dirs: list[str] | None = None) -> TaskRegistry:
    """Scan the built-in tasks, then --tasks-dir and FSABENCH_TASKS_PATH directories."""
    tasks: dict[str, Path] = {}
    groups: dict[str, Path] = {}
    roots = [BUILTIN_DIR.resolve()]
    if BUILTIN_DIR.is_dir():
        _scan(BUILTIN_DIR, tasks, groups)
    user: dict[str, Path] = {}
    for directory in extra_task_dirs(tasks_dirs):
        if not directory.is_dir():
            raise SpecError(f"{directory}: tasks directory does not exist", hint="check --tasks-dir / FSABENCH_TASKS_PATH")
        _scan(directory, tasks, groups, user)
        roots.append(directory.resolve())
    return TaskRegistry(tasks, groups, tuple(roots))
