"""`fsabench serve` as a library call: load the model, bind, serve until SIGINT/SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from fsabench.errors import FsabenchError
from fsabench.models import load_model, split_model_name
from fsabench.options import ServeOptions
from fsabench.serve import ModelServer


def served_name(model: str) -> str:
    """The id clients send: the folder name of a local model, else the model string's last part."""
    _, target = split_model_name(model)
    return Path(target.rstrip("/")).name or target


def serve_threads(explicit: int | None) -> int:
    """torch threads for a server: --threads, else FSABENCH_THREADS, else OMP_NUM_THREADS, else the physical cores minus one.

    The HTTP event loop (parsing, tokenizing, answering) needs a core of its own while the model
    decodes: with torch on every core, its threads wait at each op's barrier for a core the loop or
    a client holds. On this 2-core machine, 2 torch threads served 0.9-2.2 examples/s where 1 served
    32-44 (scripts/bench_serve.py, tiny T5, concurrency 32, load ~10)."""
    from fsabench.threads import physical_cores, requested_threads

    requested = requested_threads(explicit)
    return requested if requested is not None else max(1, physical_cores() - 1)


def open_server(options: ServeOptions) -> ModelServer:
    """The model loaded (with its thread count) and wrapped in a ModelServer, not yet listening."""
    from fsabench.serve.engine_process import EngineLoad
    from fsabench.threads import use_threads

    threads = use_threads(serve_threads(options.model.threads))
    kwargs = options.model.adapter_kwargs()
    adapter = load_model(options.model_name, **kwargs)
    use_threads(threads)
    load = EngineLoad(options.model_name, kwargs, threads)  # a spawned engine process loads the same model
    return ModelServer(adapter, options.name or served_name(options.model_name), options.model.batch_size,
                       options.batch_wait_ms / 1000.0, options.max_tokens, quiet=options.quiet,
                       engine_process=options.engine_process, engine_start=options.engine_start, engine_load=load)


def serve_model(options: ServeOptions, on_ready: Callable[[str, ModelServer], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM (graceful); `on_ready(url, server)` once the socket listens."""
    server = open_server(options)
    try:
        server.run(options.host, options.port, quiet=options.quiet,
                   on_ready=(lambda url: on_ready(url, server)) if on_ready else None)
    except OSError as exc:
        raise FsabenchError(f"cannot listen on {options.host}:{options.port} ({exc.strerror})",
                            hint="pick another --port, or stop what uses it") from None
