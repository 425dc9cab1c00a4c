"""Model schemes: a lazy registry from a short prefix to the adapter class that serves it.

`hf:google-t5/t5-base` -> HFAdapter("google-t5/t5-base"). Third-party adapters register through
the `fsabench.models` entry-point group (name = scheme, value = "module:Class").
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from fsabench.errors import FsabenchError, UnknownName
from fsabench.models.base import ModelAdapter

SCHEMES: dict[str, str] = {
    "baseline": "fsabench.models.baseline:BaselineAdapter",
    "hf": "fsabench.models.hf:HFAdapter",
    "litellm": "fsabench.models.api:LiteLLMAdapter",
    "openai-compat": "fsabench.models.openai_compat:OpenAICompatAdapter",
    "lm-eval": "fsabench.models.lmeval:LMEvalAdapter",
    "vllm": "fsabench.models.engines:VLLMAdapter",
    "sglang": "fsabench.models.engines:SGLangAdapter",
    "llamacpp": "fsabench.models.llamacpp:LlamaCppAdapter",
}
# Options that only some schemes read: given to another scheme they would be silently ignored.
SCHEME_OPTIONS = {"launch": ("openai-compat",), "engine_bin": ("vllm", "sglang"), "engine_args": ("vllm", "sglang")}

DEFAULT_MODEL = "baseline:lexicon"


def _all_schemes() -> dict[str, str]:
    schemes = dict(SCHEMES)
    for ep in entry_points(group="fsabench.models"):
        schemes.setdefault(ep.name, ep.value)
    return schemes


def split_model_name(name: str) -> tuple[str, str]:
    scheme, sep, rest = name.partition(":")
    if not sep or not rest:
        raise FsabenchError(f"model {name!r} has no scheme prefix",
                            hint=f"write SCHEME:NAME, e.g. hf:google-t5/t5-base; schemes: {', '.join(sorted(_all_schemes()))}")
    return scheme, rest


def adapter_class(scheme: str) -> type:
    schemes = _all_schemes()
    if scheme not in schemes:
        raise UnknownName("model scheme", scheme, schemes)
    module, _, attr = schemes[scheme].partition(":")
    try:
        return getattr(import_module(module), attr)
    except ImportError as exc:
        extra = {"hf": "hf", "litellm": "api", "openai-compat": "api", "vllm": "api", "sglang": "api",
                 "lm-eval": "lmeval", "llamacpp": "gguf"}.get(scheme, "all")
        raise FsabenchError(f"model scheme {scheme!r} needs a package that is not installed ({exc.name})",
                            hint=f"pip install 'fsabench[{extra}]'") from None


def load_model(name: str, **options: Any) -> ModelAdapter:
    """Build the adapter for a model string; options are the CLI's settings (batch size, device...).

    Each adapter takes `(name, target, **options)` and ignores options it does not use.
    """
    scheme, target = split_model_name(name)
    for option, schemes in SCHEME_OPTIONS.items():
        if options.get(option) and scheme not in schemes:
            flag = "--" + option.replace("_", "-")
            raise FsabenchError(f"{flag} is for {' and '.join(s + ':' for s in schemes)} models, not {scheme}:",
                                hint=f"drop {flag}, or use a {schemes[0]}: model")
    return adapter_class(scheme)(name=name, target=target, **options)
