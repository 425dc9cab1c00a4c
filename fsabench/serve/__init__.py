"""`fsabench serve`: an OpenAI-compatible server over any adapter (FastAPI + uvicorn).

    schemas.py  the request bodies (pydantic, strict: unknown fields and wrong types are refused)
    engine.py   continuous (T5, Llama) or dynamic batching with per-request budgets, early answers,
                cancellation, streaming (the steppers: fsabench/models/hf_stepper.py, hf_causal_stepper.py)
    engine_process.py  the same engine in a forked process of its own (`serve`'s default for models
                that decode continuously): decoding and HTTP no longer share one GIL
    app.py      the routes, OpenAI's error shape and server-sent events
    scoring.py  prompt scoring on /v1/completions (echo + logprobs: lm-eval's loglikelihood requests)
    tokens.py   vLLM's tokenizer routes (/tokenizer_info, /tokenize, /detokenize), which lm-eval probes

/v1/models carries an `fsabench` entry: a hash of the model's identity (fsabench's own
`openai-compat:` client puts it into its cache key, so a retrained model behind the same URL is
never answered from an old model's cache), the prompt style the model expects (`raw` sentence for
a fine-tuned student, `chat` prompt for an instruct model; the client adopts it, so a served
student is scored with the same prompts as `hf:` on the same weights), and the token limits.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fsabench.web import Limits, ServerThread, run_app

DEFAULT_CAP = 512  # --max-tokens: the most tokens one request may ask for
LIMITS = Limits.for_app("serve")  # see fsabench.web.limits.APP_DEFAULTS


def model_card(adapter: Any, served_name: str, max_tokens: int = DEFAULT_CAP, window: int | None = None) -> dict[str, Any]:
    identity = json.dumps({"name": adapter.name, "identity": adapter.identity()}, sort_keys=True, default=str)
    info = {"model": adapter.name, "identity_sha256": hashlib.sha256(identity.encode()).hexdigest(),
            "prompt_style": getattr(adapter, "prompt_style", "chat"), "max_tokens": max_tokens}
    card: dict[str, Any] = {"id": served_name, "object": "model", "created": 0, "owned_by": "fsabench", "fsabench": info}
    if window:
        card["max_model_len"] = window  # vLLM's name for the same figure
        info["context_window"] = window
    return card


def fork_is_safe(adapter: Any) -> bool:
    """An engine process is forked: only on Linux (macOS frameworks do not survive a fork), only from a
    process with no other thread (a lock another thread held at the fork would stay held in the child
    forever), and only for a model on the CPU (CUDA and MPS cannot be used in a forked child)."""
    import sys
    import threading

    return sys.platform.startswith("linux") and threading.active_count() == 1 and \
        str(getattr(adapter, "device", "cpu")).startswith("cpu")


class ModelServer:
    """Engine + app; `run(host, port)` blocks (CLI), `start(host, port)` serves on a thread (tests).
    `engine_process=True` decodes in a forked process of its own (serve/engine_process.py) when the model
    batches continuously on the CPU and `fork_is_safe`; else in threads of this process."""

    def __init__(self, adapter: Any, served_name: str = "model", batch_size: int = 16, batch_wait: float = 0.005,
                 max_tokens: int = DEFAULT_CAP, limits: Limits = LIMITS, quiet: bool = True,
                 engine_process: bool = False) -> None:
        from fsabench.serve.app import build_app
        from fsabench.serve.engine import Engine, decodes_continuously

        self.engine: Any = None
        if engine_process and decodes_continuously(adapter) and fork_is_safe(adapter):
            from fsabench.serve.engine_process import EngineProcess  # decoding on a core of its own

            try:
                self.engine = EngineProcess(adapter, batch_size, batch_wait)
            except OSError:  # the system refused the fork (memory, process limit): decode in a thread
                self.engine = None
        if self.engine is None:
            self.engine = Engine(adapter, batch_size, batch_wait)
        self.card = model_card(adapter, served_name, max_tokens, self.engine.window())
        self.limits = limits
        self.app = build_app(self.engine, self.card, max_tokens, limits, quiet=quiet)
        self.thread: ServerThread | None = None

    @property
    def batcher(self):  # the engine keeps the old name's `batches` list
        return self.engine

    @property
    def url(self) -> str:
        assert self.thread is not None, "start() the server first"
        return self.thread.url + "/v1"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> "ModelServer":
        self.thread = ServerThread(self.app, host, port, self.limits)
        return self

    def shutdown(self) -> None:
        if self.thread is not None:
            self.thread.stop()
        self.engine.close()

    def run(self, host: str, port: int, quiet: bool = False, on_ready: Any = None) -> None:
        try:
            run_app(self.app, host, port, self.limits, quiet=quiet, on_ready=on_ready)
        finally:
            self.engine.close()


def start_server(adapter: Any, host: str = "127.0.0.1", port: int = 0, served_name: str = "model",
                 batch_size: int = 16, batch_wait: float = 0.005, max_tokens: int = DEFAULT_CAP) -> ModelServer:
    """Serve on a daemon thread (tests, notebooks, benchmarks); `server.shutdown()` stops it."""
    return ModelServer(adapter, served_name, batch_size, batch_wait, max_tokens).start(host, port)
