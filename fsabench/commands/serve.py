"""`fsabench serve --model hf:PATH`: put a local model behind an OpenAI-compatible API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsabench.console import err
from fsabench.errors import FsabenchError
from fsabench.models import load_model, split_model_name


def served_name(model: str) -> str:
    """The id clients send: the folder name of a local model, else the model string's last part."""
    _, target = split_model_name(model)
    return Path(target.rstrip("/")).name or target


def serve_command(model: str, host: str, port: int, name: str | None, batch_size: int, batch_wait_ms: float,
                  model_options: dict[str, Any]) -> None:
    from fsabench.serve import ModelServer

    from fsabench.threads import use_threads

    threads = use_threads(model_options.pop("threads", None))
    adapter = load_model(model, **{k: v for k, v in model_options.items() if v is not None})
    use_threads(threads)
    try:
        server = ModelServer(adapter, host, port, name or served_name(model), batch_size, batch_wait_ms / 1000.0)
    except OSError as exc:
        raise FsabenchError(f"cannot listen on {host}:{port} ({exc.strerror})",
                            hint="pick another --port, or stop what uses it") from None
    err.print(f"serving {model} as '{server.card['id']}' on {server.url} (Ctrl-C to stop)")
    print(f"READY {server.url}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
