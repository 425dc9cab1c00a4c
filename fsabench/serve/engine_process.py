"""The decoding engine in a process of its own (`fsabench serve` on a continuous-batching model).

Why: in one process the HTTP side (h11 parsing, FastAPI routing and validation, JSON, the token
count of each request's check) and the decoding thread take turns on one GIL. A small model's
decoding step is mostly Python (a few hundred torch calls), so every request the event loop handled
was a pause in decoding: served at concurrency 32 ran at 0.65-0.81x of the same model in-process
(scripts/bench_serve.py). Here the HTTP side and the decoder run on different cores, as vLLM's API
server and engine core do.

How it starts (`fsabench serve --engine-start auto|fork|spawn`; auto = fork unless `fork_unsafe` says why not):
- fork: the engine process is forked from the server once the model is loaded and before any thread
  starts. It shares the weights' memory pages (copy-on-write, and nothing writes them) instead of
  loading a second copy, and starts in milliseconds. Only on Linux, from a single-threaded server,
  for a model on the CPU (CUDA and MPS cannot be used in a forked child).
- spawn: everywhere else (a GPU model, a server with other threads, macOS). A fresh interpreter
  loads ITS OWN copy of the model from the same spec (`EngineLoad`: model name, adapter keyword
  arguments, thread count), so it costs a second copy of the weights (in RAM, or on the GPU) and
  the start-up time of a model load. The server waits for its "ready" (at most START_WAIT seconds),
  and refuses to serve if the child cannot load the model, dies while starting, or loaded a model
  whose identity differs from the server's (a checkpoint replaced between the two loads).
Either way the engine process runs the same `Engine` (lanes, fair queues, steppers, stop strings,
streaming deltas, cancellation) as the in-process one. The HTTP side keeps its adapter for what does
not decode: the checks and token counts, the tokenizer routes, prompt scoring.

Messages (pickled tuples over two one-way pipes):
    to the engine    ("expect", budget, +1|-1)   ("jobs", budget, [spec, ...])   ("cancel", id)
                     ("stats",)   ("close",)
    from the engine  ("delta", id, text)   ("done", id, Answer | error text)   ("stats", Stats)
                     spawn only, first: ("ready", identity key) or ("failed", one-line error)
Each side watches the other: the engine exits when the server is gone (its pipe reads EOF; and a
parent-death signal, for kill -9 of the server), and when the engine dies every waiting request is
answered with an error, new ones are refused, and /health says 503.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from dataclasses import dataclass
from typing import Any, get_args

from fsabench.errors import FsabenchError, ModelError
from fsabench.models.base import Request
from fsabench.options import EngineStart
from fsabench.processes import die_with_parent
from fsabench.serve.card import identity_key
from fsabench.serve.engine import Checks, Engine, Job, Stats

ENGINE_STARTS = get_args(EngineStart)  # --engine-start
STATS_WAIT = 5.0  # seconds to wait for the engine's statistics (tests and logs only)
CLOSE_WAIT = 10.0  # seconds the engine gets to stop before it is killed
START_WAIT = 900.0  # seconds a spawned engine gets to load its model and say "ready"


@dataclass(frozen=True)
class EngineLoad:
    """How a spawned engine process loads its own copy of the model: `load_model(model_name, **kwargs)`
    with `threads` torch threads (plain, picklable data: the server's own load spec)."""

    model_name: str
    kwargs: dict
    threads: int | None = None


@dataclass(frozen=True)
class JobSpec:
    """What the engine needs of a job (no event queue, no loop: those stay on the HTTP side)."""

    id: int
    request: Request
    index: int
    prompt_tokens: int
    min_tokens: int
    stream: bool
    client: str


class EngineProcess(Checks):
    """The HTTP side's handle on an engine process: the same calls as `Engine` (expect, refused,
    submit_all, close, stats), each one a message."""

    def __init__(self, adapter: Any, batch_size: int = 16, batch_wait: float = 0.005, long_budget: int = 128,
                 load: EngineLoad | None = None) -> None:
        """Fork the engine (shares the loaded weights), or with `load` spawn one that loads its own copy
        and wait for it (ModelError if it fails to load, dies while starting or loads another model)."""
        super().__init__(adapter)
        context = multiprocessing.get_context("fork" if load is None else "spawn")
        from_server, self._outbox = context.Pipe(duplex=False)
        self._inbox, to_server = context.Pipe(duplex=False)
        if load is None:
            target, args = _engine_main, (adapter, from_server, to_server, (self._outbox, self._inbox))
        else:  # the server's ends are not inherited by a spawned child: nothing to close there
            target, args = _spawned_main, (load, from_server, to_server)
        self.process = context.Process(target=target, name="fsabench-engine", daemon=True,
                                       args=(*args, batch_size, batch_wait, long_budget))
        if load is None:
            self.process.start()
        else:
            _start_without_main(self.process)
        from_server.close()
        to_server.close()
        if load is not None:
            self._wait_ready(load, identity_key(adapter))
        self._send_lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._dead = False
        self._scoring_cancelled = Stats().scoring_cancelled  # prompt scoring runs on this side
        self._stats: Stats | None = None
        self._stats_ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True, name="fsabench-engine-reader")
        self._reader.start()

    @property
    def alive(self) -> bool:
        return not self._dead

    @property
    def stats(self) -> Stats:
        """The engine's statistics now (a round trip), with this side's prompt-scoring figures."""
        self._stats_ready.clear()
        if self._send(("stats",)) and self._stats_ready.wait(STATS_WAIT) and self._stats is not None:
            stats = self._stats
        else:
            stats = Stats()
        stats.scoring_cancelled = self._scoring_cancelled
        return stats

    # --- the Engine calls, as messages ---------------------------------------------------------------
    def expect(self, budget: int) -> None:
        self._send(("expect", budget, +1))

    def refused(self, budget: int) -> None:
        self._send(("expect", budget, -1))

    def submit_all(self, jobs: list[Job], budget: int) -> None:
        specs = []
        for job in jobs:
            job_id = next(self._ids)
            job.on_cancel = lambda _job, job_id=job_id: self._cancel(job_id)
            self._jobs[job_id] = job
            specs.append(JobSpec(job_id, job.request, job.index, job.prompt_tokens, job.min_tokens, job.stream,
                                 job.client))
        if not self._send(("jobs", budget, specs)) or self._dead:
            self._fail_all()

    def close(self) -> None:
        """Stop the engine (its queued jobs are dropped) and wait for it; kill it if it does not stop."""
        self._send(("close",))
        self.process.join(CLOSE_WAIT)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(CLOSE_WAIT)
        self._outbox.close()

    # --- plumbing ----------------------------------------------------------------------------------
    def _wait_ready(self, load: EngineLoad, expected: str, timeout: float | None = None) -> None:
        """The spawned engine's first message: "ready" with its model's identity, or why it failed."""
        timeout = START_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        try:
            while not self._inbox.poll(min(1.0, max(0.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    self._stop_starting()
                    raise ModelError(f"the engine process for {load.model_name} did not load the model within "
                                     f"{timeout:.0f} s", hint="use --engine-start fork on a CPU model, or "
                                                             "--no-engine-process")
            kind, detail = self._inbox.recv()
        except (EOFError, OSError):  # it died without a word (killed, out of memory, a crash in native code)
            self.process.join(CLOSE_WAIT)
            kind, detail = "failed", f"it stopped (exit code {self.process.exitcode})"
        if kind == "ready" and detail == expected:
            return
        self._stop_starting()
        if kind == "ready":
            raise ModelError(f"the engine process loaded a different {load.model_name} than the server (its "
                             "identity differs: were the files replaced meanwhile?)", hint="restart the server")
        raise ModelError(f"the engine process could not load {load.model_name}: {detail}",
                         hint="check the model loads with `fsabench run`, or pass --no-engine-process")

    def _stop_starting(self) -> None:
        self.process.kill()
        self.process.join(CLOSE_WAIT)
        self._outbox.close()
        self._inbox.close()

    def _cancel(self, job_id: int) -> None:
        """The client left: nobody reads this job's events any more, and its row stops at the next step."""
        self._jobs.pop(job_id, None)
        self._send(("cancel", job_id))

    def _send(self, message: tuple) -> bool:
        with self._send_lock:
            try:
                self._outbox.send(message)
                return True
            except (OSError, ValueError):  # the engine is gone (broken pipe) or we closed
                return False

    def _read(self) -> None:
        """Hand the engine's events to the waiting requests; when it dies, fail them all."""
        while True:
            try:
                kind, *rest = self._inbox.recv()
            except (EOFError, OSError):
                break
            if kind == "stats":
                self._stats = rest[0]
                self._stats_ready.set()
                continue
            job_id, payload = rest
            job = self._jobs.pop(job_id, None) if kind == "done" else self._jobs.get(job_id)
            if job is not None:
                job.finished = job.finished or kind == "done"
                job.put(kind, payload)
        self._dead = True
        self._fail_all()

    def _fail_all(self) -> None:
        code = self.process.exitcode
        why = "the decoding engine process stopped" + (f" (exit code {code})" if code is not None else "")
        for job_id in list(self._jobs):
            job = self._jobs.pop(job_id, None)
            if job is not None:
                job.finish(why)


class _EngineJob(Job):
    """A job on the engine side: its events go back over the pipe."""

    def __init__(self, spec: JobSpec, send: Any, forget: Any) -> None:
        super().__init__(spec.request, spec.index, None, None, spec.prompt_tokens, spec.min_tokens,  # type: ignore[arg-type]
                         spec.stream, client=spec.client)
        self.id, self._send, self._forget = spec.id, send, forget

    def put(self, kind: str, payload: Any) -> None:
        if kind == "done":
            self._forget(self.id)
        self._send((kind, self.id, payload))


def _start_without_main(process: Any) -> None:
    """Spawn `process` without the server's __main__: multiprocessing would re-run the main script in the
    child (a script without an `if __name__ == "__main__"` guard would start a server there; `python -`
    cannot be re-run at all), and the engine needs nothing of it: its code is this module."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        process.start()
    finally:
        sys.modules["__main__"] = main


def last_line(exc: BaseException) -> str:
    """An exception as the one line a user needs: a FsabenchError's message, else `Type: last line`."""
    if isinstance(exc, FsabenchError):
        return exc.message
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[-1]}" if lines else type(exc).__name__


def _spawned_main(load: EngineLoad, inbox: Any, outbox: Any, batch_size: int, batch_wait: float,
                  long_budget: int) -> None:
    """A spawned engine process: load the model's own copy, say "ready" (or why not), run the engine."""
    die_with_parent(signal.SIGKILL)  # before the load: a server killed meanwhile takes us with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from fsabench.models import load_model
        from fsabench.threads import use_threads

        use_threads(load.threads)
        adapter = load_model(load.model_name, **load.kwargs)
        use_threads(load.threads)
    except BaseException as exc:  # noqa: BLE001 -- whatever it is, the server reports it in one line
        outbox.send(("failed", last_line(exc)))
        os._exit(1)
    outbox.send(("ready", identity_key(adapter)))
    _engine_main(adapter, inbox, outbox, (), batch_size, batch_wait, long_budget)


def _engine_main(adapter: Any, inbox: Any, outbox: Any, server_ends: tuple, batch_size: int, batch_wait: float,
                 long_budget: int) -> None:
    """The engine process: run an Engine, take messages until the server closes it or goes away."""
    import gc

    for end in server_ends:  # the server's ends, inherited by the fork: only the server may hold them
        end.close()
    die_with_parent(signal.SIGKILL)  # kill -9 of the server; elsewhere than Linux the pipe's EOF still stops us
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the whole group: the server closes us in order
    gc.collect()
    gc.freeze()  # the loaded model's objects: the collector never walks (or copies on write) those pages
    lock = threading.Lock()

    def send(message: tuple) -> None:
        with lock:
            try:
                outbox.send(message)
            except (OSError, ValueError):  # the server is gone
                os._exit(0)

    jobs: dict[int, _EngineJob] = {}
    engine = Engine(adapter, batch_size, batch_wait, long_budget)
    while True:
        try:
            kind, *rest = inbox.recv()
        except (EOFError, OSError):
            break
        if kind == "jobs":
            budget, specs = rest
            batch = [_EngineJob(spec, send, lambda job_id: jobs.pop(job_id, None)) for spec in specs]
            jobs.update((job.id, job) for job in batch)
            engine.submit_all(batch, budget)
        elif kind == "expect":
            budget, change = rest
            engine.lane(budget).expect(change)
        elif kind == "cancel":
            job = jobs.pop(rest[0], None)
            if job is not None:
                job.cancelled = True
        elif kind == "stats":
            send(("stats", engine.stats))
        elif kind == "close":
            break
    engine.close()
    os._exit(0)  # no atexit handlers or finalizers of the server's objects run twice


def fork_unsafe(adapter: Any) -> str | None:
    """Why an engine process must not be forked here, or None: only on Linux (macOS frameworks do not
    survive a fork), only from a process with no other thread (a lock another thread held at the fork
    would stay held in the child forever), and only for a model on the CPU (CUDA and MPS cannot be used
    in a forked child)."""
    device = str(getattr(adapter, "device", "cpu"))
    if not sys.platform.startswith("linux"):
        return f"fork is only safe on Linux, not {sys.platform}"
    if threading.active_count() > 1:
        return f"the server process runs {threading.active_count()} threads"
    if not device.startswith("cpu"):
        return f"the model is on {device}, which a forked child cannot use"
    return None


def start_engine_process(adapter: Any, batch_size: int, batch_wait: float, start: str = "auto",
                         load: Any = None) -> Any:
    """An EngineProcess started as `start` says (auto: fork when `fork_unsafe` finds no reason not to,
    else spawn), or None (auto with no `load` spec to spawn from, or a fork the system refused: the
    caller decodes in a thread). Explicit choices that cannot run are one-line errors."""
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
