"""docs/python.md runs as written: every ```python block, in order, in one namespace, in a fresh folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_the_notebook_walk_through_runs_without_torch(tmp_path):
    blocks = python_blocks((ROOT / "docs" / "python.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    script = "\n".join(blocks) + "\nimport sys\nassert 'torch' not in sys.modules, 'the API imported torch'\n"
    (tmp_path / "walkthrough.py").write_text(script, encoding="utf-8")
    done = subprocess.run([sys.executable, "walkthrough.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "atsa-rest14 100.0" in done.stdout
    assert "--num-shots 3" in done.stdout  # the error example printed its one line


def test_import_fsabench_is_light_and_evaluate_prints_100():
    code = ("import sys, fsabench; r = fsabench.evaluate('baseline:gold', 'fsa'); print(r[0].scores['all'].f1); "
            "print(sorted(m for m in ('torch', 'transformers', 'litellm', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.split("\n")[:2] == ["100.0", "[]"], done.stderr
