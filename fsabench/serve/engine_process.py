"""The decoding engine in a process of its own (`fsabench serve` on a continuous-batching model).

Why: in one process the HTTP side (h11 parsing, FastAPI routing and validation, JSON, the token
count of each request's check) and the decoding thread take turns on one GIL. A small model's
decoding step is mostly Python (a few hundred torch calls), so every request the event loop handled
was a pause in decoding: served at concurrency 32 ran at 0.65-0.81x of the same model in-process
(scripts/bench_serve.py). Here the HTTP side and the decoder run on different cores, as vLLM's API
server and engine core do.

The engine process is forked from the server once the model is loaded and before any thread
starts: it shares the weights' memory pages (copy-on-write, and nothing writes them) instead of
loading a second copy, and runs the same `Engine` (lanes, fair queues, steppers, stop strings,
streaming deltas, cancellation) as the in-process one. The HTTP side keeps the adapter for what does
not decode: the checks and token counts, the tokenizer routes, prompt scoring.

Messages (pickled tuples over two one-way pipes):
    to the engine    ("expect", budget, +1|-1)   ("jobs", budget, [spec, ...])   ("cancel", id)
                     ("stats",)   ("close",)
    from the engine  ("delta", id, text)   ("done", id, Answer | error text)   ("stats", Stats)
Each side watches the other: the engine exits when the server is gone (its pipe reads EOF; and a
parent-death signal, for kill -9 of the server), and when the engine dies every waiting request is
answered with an error, new ones are refused, and /health says 503.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any

from fsabench.models.base import Request
from fsabench.processes import die_with_parent
from fsabench.serve.engine import Checks, Engine, Job, Stats

STATS_WAIT = 5.0  # seconds to wait for the engine's statistics (tests and logs only)
CLOSE_WAIT = 10.0  # seconds the engine gets to stop before it is killed


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

    def __init__(self, adapter: Any, batch_size: int = 16, batch_wait: float = 0.005, long_budget: int = 128) -> None:
        super().__init__(adapter)
        context = multiprocessing.get_context("fork")  # shares the loaded weights; see the module docstring
        from_server, self._outbox = context.Pipe(duplex=False)
        self._inbox, to_server = context.Pipe(duplex=False)
        self.process = context.Process(target=_engine_main, name="fsabench-engine", daemon=True,
                                       args=(adapter, from_server, to_server, (self._outbox, self._inbox),
                                             batch_size, batch_wait, long_budget))
        self.process.start()
        from_server.close()
        to_server.close()
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
