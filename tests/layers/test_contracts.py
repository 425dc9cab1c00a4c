"""The import-linter contracts in pyproject.toml ([tool.importlinter]): cli over api over the feature
packages over the core, and no import cycles anywhere (late imports inside functions included)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"

pytest.importorskip("importlinter")


def lint(root: Path) -> subprocess.CompletedProcess:
    """lint-imports in a real process whose `fsabench` is the copy under `root` (grimp finds the package
    through the import system, so an in-process run would always see the already imported one)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_layers_and_acyclic_contracts_are_kept():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("fsabench/results.py", "from fsabench.api import evaluate  # noqa\n", "cli over api"),  # core -> api
    ("fsabench/tasks/spec.py", "\ndef _late():\n    import fsabench.cli  # noqa\n", "cli over api"),  # late import
    ("fsabench/web/limits.py", "\ndef _cycle():\n    from fsabench.web import stack  # noqa\n", "no import cycles"),
])
def test_an_upward_import_or_a_cycle_breaks_a_contract(tmp_path, module, line, broken):
    """A deliberate violation in a copy of the package makes lint-imports fail, naming the contract."""
    shutil.copytree(ROOT / "fsabench", tmp_path / "fsabench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / module, "a", encoding="utf-8") as handle:
        handle.write(line)
    done = lint(tmp_path)
    assert done.returncode == 1, done.stdout[-2000:]
    assert f"{broken}" in done.stdout and "BROKEN" in done.stdout
