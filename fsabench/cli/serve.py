"""`fsabench serve`: a local model behind an OpenAI-compatible API (ServeOptions -> `fsabench.api.serve_model`)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from fsabench.cli.common import BatchSize, Device, Dtype, GgufFile, app

Threads = Annotated[Optional[int], typer.Option("--threads", min=1, envvar="FSABENCH_THREADS",
                                                help="torch CPU threads [env FSABENCH_THREADS; default: physical "
                                                     "cores minus one, so the HTTP loop keeps a core]")]


@app.command()
def serve(
    model: Annotated[str, typer.Option("--model", "-m", help="the model to serve, e.g. hf:./runs/student")],
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port (0 = pick a free one)")] = 8000,
    name: Annotated[Optional[str], typer.Option("--name", help="model id clients send [default: the folder name]")] = None,
    batch_size: BatchSize = 16,
    batch_wait_ms: Annotated[float, typer.Option("--batch-wait-ms", help="how long to gather a batch")] = 5.0,
    device: Device = "auto",
    threads: Threads = None,
    dtype: Dtype = "auto",
    gguf_file: GgufFile = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="the most new tokens one request may ask for")] = 512,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no request log")] = False,
    engine_process: Annotated[bool, typer.Option(
        "--engine-process/--no-engine-process",
        help="decode in a process of its own, so HTTP work never pauses decoding (models that batch "
             "continuously: T5, verified causal families)")] = True,
    engine_start: Annotated[Literal["auto", "fork", "spawn"], typer.Option(
        "--engine-start",
        help="how the engine process starts: fork (shares the loaded weights; Linux, CPU model, single-threaded "
             "server) | spawn (loads its own copy: twice the weights' memory, a model load's start-up) | "
             "auto (fork when safe, else spawn)")] = "auto",
) -> None:
    """Serve a local model over an OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models, /docs)."""
    from fsabench.api import serve_model
    from fsabench.console import err
    from fsabench.options import ModelOptions, ServeOptions

    options = ServeOptions(model_name=model, host=host, port=port, name=name, batch_wait_ms=batch_wait_ms,
                           max_tokens=max_tokens, quiet=quiet, engine_process=engine_process,
                           engine_start=engine_start,
                           model=ModelOptions(batch_size=batch_size, device=device, dtype=dtype, gguf_file=gguf_file,
                                              threads=threads))

    def ready(url: str, server) -> None:
        err.print(f"serving {model} as '{server.card['id']}' on {url}/v1 (docs {url}/docs; Ctrl-C to stop)",
                  markup=False, highlight=False)
        print(f"READY {url}/v1", flush=True)

    serve_model(options, on_ready=ready)
