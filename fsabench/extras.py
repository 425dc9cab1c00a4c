"""The one guard for optional imports: a module that belongs to an extra is named with its extra.

On the core install (`pip install fsabench`), `report`, `serve`, `leaderboard serve/build`, `human
serve/stats` and `run -m litellm:...` reach modules of an extra. `require` is the import they use; the
CLI's edge turns any other ImportError of a known module into the same one line, so a path nobody
guarded still says which extra to install instead of "internal error: ModuleNotFoundError".
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fsabench.errors import FsabenchError

# extra -> the top-level modules it installs (pyproject's optional-dependencies; starlette comes with fastapi)
EXTRAS = {
    "hf": ("torch", "transformers", "tokenizers", "safetensors", "accelerate", "sentencepiece"),
    "gguf": ("gguf",), "api": ("litellm", "tenacity", "httpx", "aiohttp"), "lmeval": ("lm_eval", "datasets"),
    "report": ("matplotlib",), "serve": ("fastapi", "starlette", "uvicorn", "h11"),
    "leaderboard": ("matplotlib", "fastapi", "starlette", "uvicorn", "h11"),
    "human": ("fastapi", "starlette", "uvicorn", "krippendorff", "httpx"), "distill": ("ray",),
}
EXTRA_OF = {module: extra for extra, modules in reversed(EXTRAS.items()) for module in modules}  # first listed wins
EXTRA_OF.update({"fastapi": "serve", "starlette": "serve", "uvicorn": "serve", "h11": "serve", "httpx": "api"})
COMMAND_EXTRA = {"serve": "serve", "leaderboard": "leaderboard", "human": "human", "report": "report",
                 "distill": "distill"}


def extra_for(module: str, command: str | None = None) -> str | None:
    """The extra to install for `module`; the running command's own extra when it has the module
    (`human serve` without fastapi: fsabench[human], not fsabench[serve] and its torch)."""
    name = module.split(".")[0]
    own = COMMAND_EXTRA.get(command or "")
    if own and name in EXTRAS[own]:
        return own
    return EXTRA_OF.get(name)


class MissingExtra(FsabenchError):
    """An optional dependency is not installed; the hint names the extra that installs it."""


def missing_extra(exc: ImportError, what: str | None = None, extra: str | None = None,
                  command: str | None = None) -> MissingExtra | None:
    """The one-line error for an ImportError of a module that an extra installs (None: not one of ours)."""
    name = (getattr(exc, "name", None) or "").split(".")[0]
    extra = extra or extra_for(name, command)
    if extra is None:
        return None
    need = f"{what} needs" if what else "this needs"
    return MissingExtra(f"{need} the Python package {name!r}, which is not installed",
                        hint=f"pip install 'fsabench[{extra}]'")


def require(module: str, extra: str | None = None, what: str | None = None) -> ModuleType:
    """import_module(module), or a MissingExtra naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        error = missing_extra(exc, what, extra or extra_for(module))
        if error is None:
            raise
        raise error from None


def available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
