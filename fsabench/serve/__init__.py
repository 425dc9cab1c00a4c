"""`fsabench serve`: an OpenAI-compatible server over any adapter (FastAPI + uvicorn).

    schemas.py  the request bodies (pydantic, strict: unknown fields and wrong types are refused)
    engine.py   continuous (T5, Llama) or dynamic batching with per-request budgets, early answers,
                cancellation, streaming (the steppers: fsabench/models/hf_stepper.py, hf_causal_stepper.py)
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

import hashlib
import json
from typing import Any

from fsabench.web import Limits, ServerThread, run_app

DEFAULT_CAP = 512  # --max-tokens: the most tokens one request may ask for
LIMITS = Limits.for_app("serve")  # see fsabench.web.limits.APP_DEFAULTS


ENGINE_STARTS = ("auto", "fork", "spawn")  # --engine-start


def identity_key(adapter: Any) -> str:
    """The model's name and identity as one string: the card's hash, and what a spawned engine must match."""
    return json.dumps({"name": adapter.name, "identity": adapter.identity()}, sort_keys=True, default=str)


def model_card(adapter: Any, served_name: str, max_tokens: int = DEFAULT_CAP, window: int | None = None) -> dict[str, Any]:
    info = {"model": adapter.name, "identity_sha256": hashlib.sha256(identity_key(adapter).encode()).hexdigest(),
            "prompt_style": getattr(adapter, "prompt_style", "chat"), "max_tokens": max_tokens}
    card: dict[str, Any] = {"id": served_name, "object": "model", "created": 0, "owned_by": "fsabench", "fsabench": info}
    if window:
        card["max_model_len"] = window  # vLLM's name for the same figure
        info["context_window"] = window
    return card


def fork_unsafe(adapter: Any) -> str | None:
    """Why an engine process must not be forked here, or None: only on Linux (macOS frameworks do not
    survive a fork), only from a process with no other thread (a lock another thread held at the fork
    would stay held in the child forever), and only for a model on the CPU (CUDA and MPS cannot be used
    in a forked child)."""
    import sys
    import threading

    device = str(getattr(adapter, "device", "cpu"))
    if not sys.platform.startswith("linux"):
        return f"fork is only safe on Linux, not {sys.platform}"
    if threading.active_count() > 1:
        return f"the server process runs {threading.active_count()} threads"
    if not device.startswith("cpu"):
        return f"the model is on {device}, which a forked child cannot use"
    return None


def fork_is_safe(adapter: Any) -> bool:
    return fork_unsafe(adapter) is None


def start_engine_process(adapter: Any, batch_size: int, batch_wait: float, start: str = "auto",
                         load: Any = None) -> Any:
    """An EngineProcess started as `start` says (auto: fork when `fork_unsafe` finds no reason not to,
    else spawn), or None (auto with no `load` spec to spawn from, or a fork the system refused: the
    caller decodes in a thread). Explicit choices that cannot run are one-line errors."""
    from fsabench.errors import FsabenchError
    from fsabench.serve.engine_process import EngineProcess

    if start not in ENGINE_STARTS:
        raise FsabenchError(f"--engine-start {start!r} is not one of {', '.join(ENGINE_STARTS)}",
                            hint="--engine-start auto")
    why = fork_unsafe(adapter)
    if start == "fork" and why:
        raise FsabenchError(f"--engine-start fork is not safe here: {why}",
                            hint="--engine-start spawn (the engine loads its own copy of the model) or auto")
    if start == "fork" or (start == "auto" and not why):
        try:
            return EngineProcess(adapter, batch_size, batch_wait)
        except OSError as exc:  # the system refused the fork (memory, process limit)
            if start == "fork":
                raise FsabenchError(f"cannot fork the engine process ({exc.strerror})",
                                    hint="--no-engine-process, or free memory") from None
            return None
    if load is None:
        if start == "spawn":
            raise FsabenchError("--engine-start spawn needs the model's load spec (engine_load)",
                                hint="pass engine_load=EngineLoad(model_name, kwargs, threads), as open_server does")
        return None
    try:
        return EngineProcess(adapter, batch_size, batch_wait, load=load)
    except OSError as exc:
        raise FsabenchError(f"cannot start the engine process ({exc.strerror})",
                            hint="--no-engine-process, or free memory") from None


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
