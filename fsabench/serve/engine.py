"""Batching for `fsabench serve`: concurrent requests share the model's decoding steps.

Why it is shaped this way:
- Continuous batching for local T5-family models and full-attention causal LMs of verified families
  (Llama, Qwen2/3, Mistral, Phi-3, Gemma, GPT-2 ...: `hf_causal_stepper.VERIFIED_FAMILIES`; `hf:`;
  `fsabench.models.hf_stepper`, `hf_causal_stepper`): a lane keeps up to `batch_size` rows decoding and admits a queued job into a
  freed row at the next step, so a short answer never waits for the longest row of a batch (a static
  batch runs until its longest row ends: ~2.5x the decoding steps over atsa-rest14). Greedy outputs
  equal in-process `hf:`. Other local models share one static `generate` call per batch (below).
- Each request keeps exactly its own token budget inside a shared batch: local (`hf:`) models stop
  each row at its own `max_tokens` (`HFAdapter._generate_batch` budgets per row), other adapters
  are called once per distinct budget. A 3-token request batched with a 300-token one gets 3.
- A row is answered the step it finishes (EOS, budget, stop string), not when its batch ends.
- Two lanes, each with its own worker thread: budgets up to `long_budget` tokens and longer ones.
  A huge request shares its batch only with other long ones, so short requests keep flowing.
- Within a lane, clients take turns (`FairQueue`): a batch (or a freed row) is filled round-robin,
  one job per client address at a time. A client that sends 256 prompts in one request (or 64 such requests) gets the
  rows nobody else wants; anyone else's prompt rides in the next batch instead of waiting behind
  all of them (it waited 20 s behind one such request before).
- A client that disconnects sets `Job.cancelled`; its row stops at the next decoding step (the
  per-step hook returns True for it) and a job still queued is dropped unanswered.
- Streaming jobs get text deltas per step on their asyncio queue (thread-safe hand-off).
- `fsabench serve` runs this engine in a forked process of its own for models that decode
  continuously on the CPU (engine_process.py), so HTTP work never holds the decoding thread's GIL.
- A batch waits (at most `batch_wait`) for more jobs only while requests are on their way: the
  HTTP handlers announce a request (`expect`) before checking and tokenizing it and hand its jobs
  over with `submit_all`. A lone request starts at once; it used to pay the whole batch-fill wait.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from fsabench.models.base import Request


class BadRequest(ValueError):
    """A client error, answered with HTTP 400 in OpenAI's error shape (`param` names the field)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Answer:
    text: str
    finish_reason: str  # "stop" (EOS or a stop string) | "length" (the budget cut it)
    prompt_tokens: int
    completion_tokens: int


@dataclass(eq=False)
class Job:
    """One prompt's generation; `events` receives ("delta", index, text) and ("done", index, Answer|str)."""

    request: Request
    index: int
    events: asyncio.Queue
    loop: asyncio.AbstractEventLoop
    prompt_tokens: int = 0
    min_tokens: int = 0
    stream: bool = False
    cancelled: bool = False
    finished: bool = False
    sent: str = ""  # streamed text so far
    generated: int = 0  # tokens when it finished or was cancelled
    client: str = ""  # who asked (the peer address): lanes take turns between clients
    on_cancel: Any = None  # called by cancel() (the engine process forwards it to the decoding side)

    def cancel(self) -> None:
        """The client left: the job's row stops at the next decoding step (a queued job is dropped)."""
        self.cancelled = True
        if self.on_cancel is not None:
            self.on_cancel(self)

    def put(self, kind: str, payload: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, self.index, payload))
        except RuntimeError:  # its event loop has closed (the server is stopping): nobody is waiting
            pass

    def finish(self, answer: Answer | str) -> None:
        """Final answer (or an error message); streaming jobs first get the text not yet sent."""
        if self.finished:
            return
        self.finished = True
        if isinstance(answer, Answer) and self.stream and answer.text.startswith(self.sent) and \
                len(answer.text) > len(self.sent):
            self.put("delta", answer.text[len(self.sent):])
            self.sent = answer.text
        self.put("done", answer)


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class FairQueue:
    """A lane's queue: FIFO per client, round-robin between clients (the subset of queue.Queue's
    interface the worker uses: put, get with a timeout, get_nowait; put(None) stops the worker)."""

    def __init__(self) -> None:
        self._clients: OrderedDict[str, deque] = OrderedDict()
        self._ready = threading.Condition()
        self._closed = False
        self._expected = 0  # requests announced (being checked and tokenized) whose jobs are not queued yet

    def put(self, job: "Job | None") -> None:
        with self._ready:
            if job is None:
                self._closed = True
            else:
                self._clients.setdefault(job.client, deque()).append(job)
            self._ready.notify()

    def expect(self, change: int) -> None:
        """+1: a request is on its way to this lane; -1: it was refused (no jobs will come)."""
        with self._ready:
            self._expected = max(0, self._expected + change)
            self._ready.notify()

    def put_all(self, jobs: "list[Job]") -> None:
        """Queue an announced request's jobs, all at once (one wake-up of the worker)."""
        with self._ready:
            for job in jobs:
                self._clients.setdefault(job.client, deque()).append(job)
            self._expected = max(0, self._expected - 1)
            self._ready.notify()

    def get_more(self, deadline: float) -> "Job | None":
        """The next job for a batch being filled: one already queued, else wait until `deadline` but only
        while announced requests are still on their way; raises queue.Empty when none comes."""
        with self._ready:
            while not self._clients and not self._closed and self._expected > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._ready.wait(remaining)
        return self.get_nowait()

    def get(self, block: bool = True, timeout: float | None = None) -> "Job | None":
        with self._ready:
            if block and not self._ready.wait_for(lambda: self._clients or self._closed, timeout):
                raise queue.Empty
            if self._closed:
                return None
            if not self._clients:
                raise queue.Empty
            client, jobs = next(iter(self._clients.items()))
            job = jobs.popleft()
            if jobs:
                self._clients.move_to_end(client)  # its next job waits for everyone else's turn
            else:
                del self._clients[client]
            return job

    def get_nowait(self) -> "Job | None":
        return self.get(block=False)

    def __len__(self) -> int:  # jobs waiting (tests and logs)
        with self._ready:
            return sum(len(jobs) for jobs in self._clients.values())


@dataclass
class Stats:
    """What tests and logs read: batch sizes sent (continuous batching: rows decoding together after
    each admission), how far cancelled jobs got, and decoding steps taken (continuous batching)."""

    batches: deque = field(default_factory=lambda: deque(maxlen=10_000))  # bounded: the server runs for weeks
    cancelled: deque = field(default_factory=lambda: deque(maxlen=10_000))  # tokens made when each cancelled job stopped
    scoring_cancelled: deque = field(default_factory=lambda: deque(maxlen=10_000))  # seconds each cancelled scoring request ran (0: it was still waiting)
    steps: int = 0  # decoding steps taken (continuous batching)
    cancelled_total: int = 0  # jobs cancelled since the start (the deques keep only the last 10,000)

    def note_cancelled(self, tokens: int) -> None:
        self.cancelled.append(tokens)
        self.cancelled_total += 1

    def prometheus(self, alive: bool) -> str:
        """The figures in Prometheus' text format (GET /metrics)."""
        figures = [("engine_up", "gauge", "1 while the decoding engine runs", int(alive)),
                   ("decoding_steps_total", "counter", "decoding steps taken (continuous batching)", self.steps),
                   ("cancelled_jobs_total", "counter", "generation jobs whose client left", self.cancelled_total),
                   ("scoring_cancelled_total", "counter", "prompt-scoring requests whose client left",
                    len(self.scoring_cancelled))]
        return "".join(f"# HELP fsabench_{name} {text}\n# TYPE fsabench_{name} {kind}\nfsabench_{name} {value}\n"
                       for name, kind, text, value in figures)


class Checks:
    """What the HTTP side asks before queueing (the same for an engine in this process or its own)."""

    adapter: Any
    local: bool

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter
        self.local = is_local(adapter)
        self.continuous = decodes_continuously(adapter)

    @property
    def alive(self) -> bool:
        """False once the decoding side is gone (only an engine process can die on its own)."""
        return True

    @property
    def batches(self) -> deque:
        return self.stats.batches

    def window(self) -> int | None:
        return self.adapter.context_window() if self.local else None

    def prompt_tokens(self, request: Request, budget: int) -> int:
        """Count the prompt's tokens; refuse prompts (or prompt + answer) the model cannot hold."""
        if not self.local:
            return 0
        window = self.window() or 0
        text = self.adapter._text_of(request)
        if len(text) > window * 32:  # no tokenizer packs 32 characters into a token: refuse before tokenizing
            raise BadRequest(f"prompt of {len(text):,} characters is longer than the model's input window "
                             f"of {window} tokens", "messages")
        with self.adapter.lock:
            count = self.adapter.encode_length(text)
        if count > window:
            raise BadRequest(f"prompt of {count} tokens is longer than the model's input window of {window} tokens",
                             "messages")
        if not self.adapter.seq2seq and count + budget > window:
            raise BadRequest(f"prompt ({count} tokens) + max_tokens ({budget}) is over the model's window of "
                             f"{window} tokens", "max_tokens")
        return count


class Engine(Checks):
    """Lanes of queued jobs and a decoding thread for each (this process); see the module docstring."""

    def __init__(self, adapter: Any, batch_size: int = 16, batch_wait: float = 0.005, long_budget: int = 128) -> None:
        super().__init__(adapter)
        self.batch_size, self.batch_wait, self.long_budget = max(1, batch_size), batch_wait, long_budget
        self.stats = Stats()
        self.lanes = {"short": FairQueue(), "long": FairQueue()}
        self.threads = [threading.Thread(target=self._loop, args=(q,), daemon=True, name=f"fsabench-serve-{lane}")
                        for lane, q in self.lanes.items()]
        for thread in self.threads:
            thread.start()

    def lane(self, budget: int) -> FairQueue:
        return self.lanes["long" if budget > self.long_budget else "short"]

    def submit(self, job: Job) -> None:
        self.lane(job.request.max_new_tokens).put(job)

    def expect(self, budget: int) -> None:
        """A request with this budget is on its way: a batch being filled in its lane waits for it."""
        self.lane(budget).expect(+1)

    def refused(self, budget: int) -> None:
        """The announced request was refused before any job was made."""
        self.lane(budget).expect(-1)

    def submit_all(self, jobs: list[Job], budget: int) -> None:
        """Queue the jobs of an announced request (one budget, so one lane)."""
        self.lane(budget).put_all(jobs)

    def close(self) -> None:
        for q in self.lanes.values():
            q.put(None)

    # --- the worker threads --------------------------------------------------------------------------
    def _gather(self, q: FairQueue) -> list[Job] | None:
        first = q.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            try:
                job = q.get_more(deadline)  # no wait unless a request is being checked right now
            except queue.Empty:
                break
            if job is None:
                q.put(None)
                break
            batch.append(job)
        for job in batch:
            if job.cancelled:
                self.stats.note_cancelled(0)
        return [j for j in batch if not j.cancelled]

    def _loop(self, q: FairQueue) -> None:
        if self.continuous:
            return self._loop_continuous(q)
        while True:
            batch = self._gather(q)
            if batch is None:
                return
            if not batch:
                continue
            self.stats.batches.append(len(batch))
            try:
                self._run_local(batch) if self.local else self._run_adapter(batch)
            except Exception as exc:  # noqa: BLE001 - a model error must reach every waiting client
                for job in batch:
                    job.finish(f"{type(exc).__name__}: {exc}")

    def _run_adapter(self, batch: list[Job]) -> None:
        """Any adapter: one generate call per distinct budget, so each request gets exactly its own."""
        budgets = sorted({j.request.max_new_tokens for j in batch})
        for budget in budgets:
            jobs = [j for j in batch if j.request.max_new_tokens == budget]
            for job, done in zip(jobs, self.adapter.generate([j.request for j in jobs])):
                if done.text is None:
                    job.finish(done.error or "model failed")
                    continue
                used = done.completion_tokens or 0
                job.finish(Answer(done.text, "length" if used >= budget else "stop", done.prompt_tokens or 0, used))

    def _run_local(self, batch: list[Job]) -> None:
        adapter = self.adapter
        eos = set(adapter._eos_ids())

        def on_step(new_ids: Any) -> list[bool]:
            rows = new_ids.tolist()
            with adapter.lock:
                return [self._step(job, ids, eos) for job, ids in zip(batch, rows)]

        texts = [adapter._text_of(j.request) for j in batch]
        adapter._generate_batch(texts, [j.request.max_new_tokens for j in batch],
                                [j.min_tokens for j in batch], on_step)
        for job in batch:  # every row finishes inside on_step; this only guards the unexpected
            if not job.finished:
                job.finish("generation ended without an answer")

    def _step(self, job: Job, ids: list[int], eos: set[int]) -> bool:
        """Look at one row after a decoding step; True stops it (done, cancelled, or at a stop string)."""
        if job.finished:
            return True
        if job.cancelled:
            job.finished, job.generated = True, len(ids)
            self.stats.note_cancelled(len(ids))
            return True
        ended = any(t in eos for t in ids)
        at_budget = len(ids) >= job.request.max_new_tokens
        if not (ended or at_budget or job.stream or job.request.stop):
            return False
        text, stopped = cut_at_stop(self.adapter.decode(ids), job.request.stop)
        if ended or at_budget or stopped:
            used = next((k + 1 for k, t in enumerate(ids) if t in eos), len(ids))  # steps, EOS included
            reason = "length" if at_budget and not ended and not stopped else "stop"
            job.generated = len(ids)
            job.finish(Answer(text, reason, job.prompt_tokens, used))
            return True
        held = max((len(s) - 1 for s in job.request.stop), default=0)  # a stop string may be half written
        ready = text[:len(text) - held] if held else text
        if job.stream and ready.startswith(job.sent) and len(ready) > len(job.sent) and not ready.endswith("\ufffd"):
            job.put("delta", ready[len(job.sent):])
            job.sent = ready
        return False

    # --- continuous batching (T5 and verified causal families, `hf:`) ---------------------------------------------------
    def _loop_continuous(self, q: FairQueue) -> None:
        """Decode step by step; between steps, fill freed rows from the lane (round-robin by client).
        With no rows decoding it blocks for work like the static loop (including the batch-fill wait)."""
        stepper, closing = new_stepper(self.adapter), False
        eos = set(self.adapter._eos_ids())
        while True:
            if not len(stepper):
                if closing:
                    return
                jobs = self._gather(q)
                if jobs is None:
                    return
            else:
                jobs, closing = self._take(q, self.batch_size - len(stepper), closing)
            try:
                if jobs:
                    stepper.admit(jobs, [self.adapter._text_of(j.request) for j in jobs], [j.min_tokens for j in jobs])
                    self.stats.batches.append(len(stepper))
                rows = stepper.step()
                self.stats.steps += 1
                with self.adapter.lock:
                    done = [row for row in rows if self._step(row.key, row.ids, eos)]
                stepper.drop(done)
            except Exception as exc:  # noqa: BLE001 - a model error must reach every waiting client
                for row in stepper.rows:
                    row.key.finish(f"{type(exc).__name__}: {exc}")
                for job in jobs or []:
                    job.finish(f"{type(exc).__name__}: {exc}")
                stepper = new_stepper(self.adapter)

    def _take(self, q: FairQueue, free: int, closing: bool) -> tuple[list[Job], bool]:
        """Up to `free` queued jobs without waiting (rows are decoding); cancelled ones are dropped.
        Returns the jobs and whether the lane is closing (then no more are taken)."""
        jobs: list[Job] = []
        while not closing and len(jobs) < free:
            try:
                job = q.get_nowait()
            except queue.Empty:
                break
            if job is None:
                closing = True
            elif job.cancelled:
                self.stats.note_cancelled(0)
            else:
                jobs.append(job)
        return jobs, closing


def is_local(adapter: Any) -> bool:
    """An in-process model whose decoding steps the engine drives (`hf:`), not a client of another server."""
    return hasattr(adapter, "_generate_batch") and hasattr(adapter, "decode")


def decodes_continuously(adapter: Any) -> bool:
    """Whether the engine drives this model step by step (a cheap probe: no weights touched)."""
    return is_local(adapter) and new_stepper(adapter) is not None


def new_stepper(adapter: Any) -> Any:
    """A continuous-batching stepper for the adapter's model, or None: the same choice in-process `hf:`
    makes (`HFAdapter._stepper`: float32 only, FSABENCH_STATIC_GENERATE=1 keeps static batches), so a
    served answer and an in-process one come from the same decoding path."""
    chooser = getattr(adapter, "_stepper", None)  # a local adapter without one keeps static batches
    return chooser() if chooser is not None else None
