"""Read YAML written by someone else (tasks, recipes, rubrics, leaderboards): safe, bounded, one-line errors.

The safe loader never runs code; on top of it a file is capped in bytes and in nodes after alias
expansion, since a 2 KB "billion laughs" file expands to 10^9 nodes in whatever walks it next
(validation, hashing, JSON). Every problem is a SpecError naming the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fsabench.errors import SpecError

MAX_YAML_BYTES = 1_000_000  # declarations are a few KB; anything larger is not one
MAX_YAML_NODES = 50_000  # nodes after alias expansion
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader when built in: same rules, faster


def expanded_size(root: yaml.Node, path: Path | str) -> int:
    """How many nodes the document holds once every alias is expanded (memoised, so linear in the file)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise SpecError(f"{path}: a YAML alias refers to itself", hint="remove the recursive anchor")
        active.add(key)
        if isinstance(node, yaml.MappingNode):
            _no_duplicate_keys(node, path)
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in node.value)
        else:
            total = 1
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def _no_duplicate_keys(node: yaml.MappingNode, path: Path | str) -> None:
    """PyYAML keeps the last of two equal keys without a word: `name: a` ... `name: b` would run task b
    while a reader of the file's top sees a. Refused, naming both lines."""
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        first = seen.get((key.tag, key.value))
        seen.setdefault((key.tag, key.value), line)
        if first is not None:
            raise SpecError(f"{path}:{line}: key {key.value!r} appears twice in one mapping (first on line {first})",
                            hint="keep one of them")


def yaml_problem(exc: yaml.YAMLError) -> str:
    """'line 2: expected ...' from PyYAML's multi-line message."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark else problem


def parse_yaml_text(text: str, path: Path | str, what: str = "file") -> tuple[Any, yaml.Node | None]:
    """Parse YAML text with the safe loader and the node bound; returns the data and its node tree."""
    if len(text.encode("utf-8", "replace")) > MAX_YAML_BYTES:
        raise SpecError(f"{path}: too large for a {what}", hint=f"a {what} is a declaration (limit {MAX_YAML_BYTES} bytes)")
    try:
        node = yaml.compose(text, Loader=LOADER)
        if node is not None and expanded_size(node, path) > MAX_YAML_NODES:
            raise SpecError(f"{path}: YAML aliases expand to more than {MAX_YAML_NODES} nodes",
                            hint="write the values out instead of nesting anchors and aliases")
        return yaml.load(text, Loader=LOADER), node  # noqa: S506 - a safe loader
    except RecursionError:
        raise SpecError(f"{path}: YAML nests too deeply", hint="flatten the file") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: invalid YAML ({yaml_problem(exc)})",
                        hint="fix the syntax; tags such as !function or !!python are not allowed") from None


def read_yaml(path: Path | str, what: str = "file") -> tuple[Any, yaml.Node | None]:
    """Read and parse a YAML file (UTF-8, BOM allowed) within the bounds above."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise SpecError(f"{path}: {path.stat().st_size} bytes is too large for a {what}",
                            hint=f"a {what} is a declaration (limit {MAX_YAML_BYTES} bytes)")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError(f"{path}: {what} not found", hint="check the path") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder, not a {what}", hint="pass the YAML file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})", hint="check the path") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text", hint=f"save the {what} as UTF-8") from None
    return parse_yaml_text(text, path, what)
