"""API names never clash with subpackages: `fsabench.build_report` / `fsabench.list_tasks`, and the old
`fsabench.report(...)` / `fsabench.tasks()` keep working (deprecated) any number of times, before and
after the subpackages are imported (they once worked only until `fsabench.report` was imported)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

import fsabench


@pytest.fixture(scope="module")
def results():
    return fsabench.evaluate("baseline:gold", "atsa-rest14", limit=5)


def test_report_works_twice_and_after_importing_the_subpackage(results, tmp_path):
    built = fsabench.build_report(results, tmp_path / "a", formats="md")
    assert (tmp_path / "a" / "report.md").is_file() and built.files
    importlib.import_module("fsabench.report")  # `import fsabench.report`: the import that used to shadow it
    from fsabench.report import build_report  # noqa: F401  (what docs/report.md teaches)

    for name in ("b", "c"):  # twice: the second call used to raise "'module' object is not callable"
        with pytest.warns(DeprecationWarning, match="build_report"):
            fsabench.report(results, tmp_path / name, formats="md")
        assert (tmp_path / name / "report.md").is_file()
    fsabench.build_report(results, tmp_path / "d", formats="md")
    assert (tmp_path / "d" / "report.md").is_file()


def test_tasks_works_twice_and_after_importing_the_subpackage():
    importlib.import_module("fsabench.tasks.registry")

    names = fsabench.list_tasks()
    assert "atsa-rest14" in names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert fsabench.tasks() == names == fsabench.tasks()
    assert fsabench.task("atsa-rest14").name == "atsa-rest14"


def test_no_api_name_equals_a_subpackage_or_module():
    from pathlib import Path

    root = Path(fsabench.__file__).parent
    modules = {p.stem for p in root.glob("*.py")} | {p.name for p in root.iterdir() if (p / "__init__.py").exists()}
    assert not (set(fsabench._API) & modules), set(fsabench._API) & modules


def test_report_in_a_fresh_process_after_from_import(tmp_path):
    """The exact order from the bug report, in a process where nothing was imported before."""
    code = ("import fsabench, warnings; warnings.simplefilter('ignore'); "
            "from fsabench.report import load_runs; r = fsabench.evaluate('baseline:gold', 'atsa-rest14', limit=3); "
            f"fsabench.report(r, {str(tmp_path / 'x')!r}, formats='md'); fsabench.report(r, {str(tmp_path / 'y')!r}, "
            "formats='md'); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
