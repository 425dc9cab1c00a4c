"""What `fsabench tasks list|show|ids|validate` compute: the task catalogue as plain values."""

from __future__ import annotations

from pathlib import Path

from fsabench.errors import SpecError, UnknownName
from fsabench.io import files_under
from fsabench.tasks.registry import build_registry, load_spec_file
from fsabench.tasks.spec import GroupSpec


def task_rows(tasks_dir: list[str] | None = None) -> list[dict]:
    """Every task and group on the search path: name, kind (task|group), path."""
    registry = build_registry(tasks_dir)
    rows = [{"name": n, "kind": "task", "path": str(p)} for n, p in sorted(registry.tasks.items())]
    rows += [{"name": n, "kind": "group", "path": str(p)} for n, p in sorted(registry.groups.items())]
    return rows


def task_names(tasks_dir: list[str] | None = None) -> list[str]:
    """Names of every task on the search path (built-in, --tasks-dir, FSABENCH_TASKS_PATH)."""
    return sorted(build_registry(tasks_dir).tasks)


def task_definition(name: str, tasks_dir: list[str] | None = None) -> dict:
    """A task's full definition with its hash, or a group's definition with the tasks it expands to."""
    registry = build_registry(tasks_dir)
    if name in registry.groups:
        spec = load_spec_file(registry.groups[name], registry.roots)
        return {**spec.model_dump(mode="json"), "expanded": registry.expand([name])}
    spec = registry.spec(name)
    return {**spec.model_dump(mode="json"), "definition_sha256": spec.definition_hash()}


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


def validate_paths(paths: list[Path], data_dir: Path | None = None, check_data: bool = False) -> list[dict]:
    """Validate every task YAML under `paths`; raises SpecError on the first problem."""
    files = [f for f in files_under(paths, "*.y*ml", SpecError, "pass task YAML files or folders")
             if f.suffix in (".yaml", ".yml")]
    roots = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    return [validate_one(f, data_dir, check_data, roots) for f in files]


def task_ids(name: str, split: str, subset: str | None, limit: int | None, data_dir: Path | None,
             tasks_dir: list[str] | None) -> list[dict]:
    """The examples `run --limit` would score (first `limit` of the split), optionally one subset's:
    what a predictions file for `fsabench score` must answer, id by id."""
    from fsabench.examples import load_split
    from fsabench.settings import data_dir as resolve

    spec = build_registry(tasks_dir).spec(name)
    if subset is not None and subset not in spec.subsets:
        raise UnknownName("subset", subset, list(spec.subsets))
    examples = load_split(spec, resolve(data_dir), split).examples
    examples = examples[:limit] if limit else examples
    return [{"id": e.id, "input": e.input, "subsets": list(e.subsets)}
            for e in examples if subset is None or subset in e.subsets]
