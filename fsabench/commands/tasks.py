"""`fsabench tasks list|show|validate`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import yaml

from fsabench.console import out
from fsabench.errors import SpecError
from fsabench.tasks import gold
from fsabench.tasks.registry import build_registry, load_spec_file
from fsabench.tasks.spec import GroupSpec, TaskSpec


def list_tasks(tasks_dir: list[str] | None, json_out: bool) -> None:
    registry = build_registry(tasks_dir)
    rows = [{"name": n, "kind": "task", "path": str(p)} for n, p in sorted(registry.tasks.items())]
    rows += [{"name": n, "kind": "group", "path": str(p)} for n, p in sorted(registry.groups.items())]
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return
    for row in rows:
        out.print(f"{row['name']:<24} {row['kind']:<6} {row['path']}", highlight=False, soft_wrap=True)


def show_task(name: str, tasks_dir: list[str] | None, json_out: bool) -> None:
    registry = build_registry(tasks_dir)
    if name in registry.groups:
        spec = load_spec_file(registry.groups[name])
        payload = {**spec.model_dump(mode="json"), "expanded": registry.expand([name])}
    else:
        spec = registry.spec(name)
        payload = {**spec.model_dump(mode="json"), "definition_sha256": spec.definition_hash()}
    if json_out:
        sys.stdout.write(json.dumps(payload, indent=1) + "\n")
    else:
        out.print(yaml.safe_dump(payload, sort_keys=False, allow_unicode=True), highlight=False)


def validate_one(path: Path, data_dir: Path | None, check_data: bool) -> dict:
    spec = load_spec_file(path)
    info: dict = {"path": str(path), "ok": True}
    if isinstance(spec, GroupSpec):
        return {**info, "group": spec.group}
    assert isinstance(spec, TaskSpec)
    gold.check_params(spec.gold.builder, spec.gold.params, str(path))
    info.update(name=spec.name, sha256=spec.definition_hash())
    if check_data:
        from fsabench.examples import load_split
        from fsabench.settings import data_dir as resolve

        split = load_split(spec, resolve(data_dir), "test")
        counts = Counter(s for e in split.examples for s in e.subsets)
        info["subsets"] = {name: counts.get(name, 0) for name in spec.subsets}
    return info


def validate_tasks(paths: list[Path], data_dir: Path | None, check_data: bool, json_out: bool) -> None:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(q for q in p.rglob("*.y*ml") if not q.name.startswith("_"))
        elif p.exists():
            files.append(p)
        else:
            raise SpecError(f"{p}: no such file or folder", hint="pass task YAML files or folders")
    report = [validate_one(f, data_dir, check_data) for f in files]
    if json_out:
        sys.stdout.write(json.dumps(report, indent=1) + "\n")
        return
    for row in report:
        extra = f" subsets={row['subsets']}" if "subsets" in row else ""
        out.print(f"ok  {row['path']}  {row.get('name') or row.get('group')}{extra}", highlight=False, soft_wrap=True)
