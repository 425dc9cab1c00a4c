"""`fsabench tasks list|show|ids|validate`."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from fsabench.console import emit_json, out
from fsabench.errors import SpecError
from fsabench.io import files_under
from fsabench.tasks.registry import build_registry, load_spec_file
from fsabench.tasks.spec import GroupSpec


def list_tasks(tasks_dir: list[str] | None, json_out: bool) -> None:
    registry = build_registry(tasks_dir)
    rows = [{"name": n, "kind": "task", "path": str(p)} for n, p in sorted(registry.tasks.items())]
    rows += [{"name": n, "kind": "group", "path": str(p)} for n, p in sorted(registry.groups.items())]
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        out.print(f"{row['name']:<24} {row['kind']:<6} {row['path']}", highlight=False, soft_wrap=True)


def show_task(name: str, tasks_dir: list[str] | None, json_out: bool) -> None:
    registry = build_registry(tasks_dir)
    if name in registry.groups:
        spec = load_spec_file(registry.groups[name], registry.roots)
        payload = {**spec.model_dump(mode="json"), "expanded": registry.expand([name])}
    else:
        spec = registry.spec(name)
        payload = {**spec.model_dump(mode="json"), "definition_sha256": spec.definition_hash()}
    if json_out:
        emit_json(payload)
    else:
        out.print(yaml.safe_dump(payload, sort_keys=False, allow_unicode=True), highlight=False)


def validate_one(path: Path, data_dir: Path | None, check_data: bool, roots: list[Path]) -> dict:
    """Schema, builder params and templates; with data: every split loaded (gold lossless), n and n_gold."""
    from fsabench.tasks.checks import check_prompts, check_task

    spec = load_spec_file(path, roots)
    info: dict = {"path": str(path), "ok": True}
    if isinstance(spec, GroupSpec):
        return {**info, "group": spec.group}
    check_task(spec, str(path))
    info.update(name=spec.name, sha256=spec.definition_hash())
    if check_data:
        from fsabench.examples import load_split
        from fsabench.settings import data_dir as resolve

        root = resolve(data_dir)
        info["splits"] = {}
        for split in spec.data.splits:
            examples = load_split(spec, root, split).examples
            counts: dict[str, dict[str, int]] = {}
            for name in spec.subsets:
                members = [e for e in examples if name in e.subsets]
                counts[name] = {"n": len(members), "n_gold": sum(len(e.gold) for e in members)}
            info["splits"][split] = counts
            if split == "test" and examples:
                shot = examples[min(1, len(examples) - 1)]
                check_prompts(spec, str(path), examples[0].input, shot.input, shot.target, [shot])
        info["subsets"] = {name: c["n"] for name, c in info["splits"].get("test", {}).items()}
    return info


def format_counts(splits: dict[str, dict[str, dict[str, int]]]) -> str:
    """`test: all 1140 (n_gold 1299), implicit 477 (...)` per split, one line each."""
    lines = []
    for split, subsets in splits.items():
        parts = [f"{name} {c['n']} (n_gold {c['n_gold']})" for name, c in subsets.items()]
        lines.append(f"    {split}: " + ", ".join(parts))
    return "\n".join(lines)


def validate_tasks(paths: list[Path], data_dir: Path | None, check_data: bool, json_out: bool) -> None:
    files = [f for f in files_under(paths, "*.y*ml", SpecError, "pass task YAML files or folders")
             if f.suffix in (".yaml", ".yml")]
    roots = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    report = [validate_one(f, data_dir, check_data, roots) for f in files]
    if json_out:
        emit_json(report)
        return
    for row in report:
        out.print(f"ok  {row['path']}  {row.get('name') or row.get('group')}", highlight=False, soft_wrap=True)
        if "splits" in row:
            out.print(format_counts(row["splits"]), highlight=False, soft_wrap=True)


def task_ids(name: str, split: str, subset: str | None, limit: int | None, data_dir: Path | None,
             tasks_dir: list[str] | None) -> list[dict]:
    """The examples `run --limit` would score (first `limit` of the split), optionally one subset's:
    what a predictions file for `fsabench score` must answer, id by id."""
    from fsabench.errors import UnknownName
    from fsabench.examples import load_split
    from fsabench.settings import data_dir as resolve

    spec = build_registry(tasks_dir).spec(name)
    if subset is not None and subset not in spec.subsets:
        raise UnknownName("subset", subset, list(spec.subsets))
    examples = load_split(spec, resolve(data_dir), split).examples
    examples = examples[:limit] if limit else examples
    return [{"id": e.id, "input": e.input, "subsets": list(e.subsets)}
            for e in examples if subset is None or subset in e.subsets]


def list_ids(name: str, split: str, subset: str | None, limit: int | None, data_dir: Path | None,
             tasks_dir: list[str] | None, json_out: bool) -> None:
    """One id per line (pipe-friendly); --json adds each example's input text and subsets."""
    rows = task_ids(name, split, subset, limit, data_dir, tasks_dir)
    if json_out:
        emit_json(rows)
        return
    sys.stdout.write("".join(f"{row['id']}\n" for row in rows))
