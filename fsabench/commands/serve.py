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
                  model_options: dict[str, Any], max_tokens: int = 512, quiet: bool = False) -> None:
    """Load the model, bind, print `READY <url>` on stdout, serve until SIGINT/SIGTERM (graceful)."""
    from fsabench.serve import ModelServer

    from fsabench.threads import use_threads

    if max_tokens < 1:
        raise FsabenchError(f"--max-tokens {max_tokens} must be at least 1", hint="e.g. --max-tokens 512")
    threads = use_threads(model_options.pop("threads", None))
    adapter = load_model(model, **{k: v for k, v in model_options.items() if v is not None})
    use_threads(threads)
    server = ModelServer(adapter, name or served_name(model), batch_size, batch_wait_ms / 1000.0, max_tokens,
                         quiet=quiet)

    def ready(url: str) -> None:
        err.print(f"serving {model} as '{server.card['id']}' on {url}/v1 (docs {url}/docs; Ctrl-C to stop)",
                  markup=False, highlight=False)
        print(f"READY {url}/v1", flush=True)

    try:
        server.run(host, port, quiet=quiet, on_ready=ready)
    except OSError as exc:
        raise FsabenchError(f"cannot listen on {host}:{port} ({exc.strerror})",
                            hint="pick another --port, or stop what uses it") from None
