"""`fsabench serve`: an OpenAI-compatible server over any adapter (FastAPI + uvicorn).

    schemas.py  the request bodies (pydantic, strict: unknown fields and wrong types are refused)
    engine.py   continuous (T5, Llama) or dynamic batching with per-request budgets, early answers,
                cancellation, streaming (the steppers: fsabench/models/hf_stepper.py, hf_causal_stepper.py)
    card.py     the model card of /v1/models and the identity key it hashes
    engine_process.py  the same engine in a process of its own (`serve`'s default for models that decode
                continuously): decoding and HTTP no longer share one GIL. Forked after the load on Linux
                for a CPU model from a single-threaded server (shares the weights, starts at once); else
                spawned, loading its own copy of the model (GPU models: a second copy of the weights and
                a model load's start-up time). `--engine-start auto|fork|spawn` chooses.
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

from typing import Any

from fsabench.serve.card import DEFAULT_CAP, model_card
from fsabench.web import Limits, ServerThread, run_app

__all__ = ["DEFAULT_CAP", "LIMITS", "ModelServer", "model_card", "start_server"]

LIMITS = Limits.for_app("serve")  # see fsabench.web.limits.APP_DEFAULTS


class ModelServer:
    """Engine + app; `run(host, port)` blocks (CLI), `start(host, port)` serves on a thread (tests).
    `engine_process=True` decodes in a process of its own (serve/engine_process.py) when the model
    batches continuously, else in threads of this process. `engine_start` (auto|fork|spawn) says how
    that process starts; spawn needs `engine_load` (an engine_process.EngineLoad: the model's load spec),
    and without one, auto decodes in a thread when fork is not safe."""

    def __init__(self, adapter: Any, served_name: str = "model", batch_size: int = 16, batch_wait: float = 0.005,
                 max_tokens: int = DEFAULT_CAP, limits: Limits = LIMITS, quiet: bool = True,
                 engine_process: bool = False, engine_start: str = "auto", engine_load: Any = None) -> None:
        from fsabench.serve.app import build_app
        from fsabench.serve.engine import Engine, decodes_continuously
        from fsabench.serve.engine_process import start_engine_process

        self.engine: Any = None
        if engine_process and decodes_continuously(adapter):  # decoding on a core of its own
            self.engine = start_engine_process(adapter, batch_size, batch_wait, engine_start, engine_load)
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
