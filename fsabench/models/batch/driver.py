"""Drive one recorded batch job through its states (ledger.py): write and upload its input, create the
batch, poll it, download and file its results into the response cache. Every step is recorded before or
as it happens, so the same call after a kill -9 continues from the last recorded state.

`FSABENCH_BATCH_STALL=writing` (tests only) stops the process forever half-way through writing the input
file, so a test can kill it at exactly that point.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from fsabench.models.base import Completion, Request
from fsabench.models.batch.client import BatchClient, BatchGone, BatchStatus
from fsabench.models.batch.ledger import Job, Ledger
from fsabench.models.engine import scrub

log = logging.getLogger("fsabench")
OWNER_WAIT_S = 0.2  # how often a process waiting on another's unsubmitted job looks again


class Driver:
    def __init__(self, ledger: Ledger, client: BatchClient, cache, inputs_dir: Path, poll: float,
                 label: str = "") -> None:
        self.ledger, self.client, self.cache = ledger, client, cache
        self.inputs_dir, self.poll, self.label = inputs_dir, poll, label
        self._last_report: dict[str, tuple] = {}
        self.collected: dict[str, Completion] = {}  # answers collected here (the result gets them even if the cache broke)

    # --- submit -----------------------------------------------------------------------------
    def submit(self, job_id: str) -> None:
        """Return once the job has a batch id (whoever sent it); create it if this process owns the job."""
        while True:
            job = self.ledger.job(job_id)
            if job.state in ("submitted", "ended", "collected"):
                return
            if not self.ledger.take_over(job_id):
                time.sleep(OWNER_WAIT_S)  # another live process is submitting it
                continue
            if job.state == "recorded":
                self._upload(job)
            elif job.state == "uploaded":
                self._create(job)
            elif job.state == "creating":
                self._adopt_or_recreate(job)

    def _upload(self, job: Job) -> None:
        lines = [line for _, _, line, _, _ in self.ledger.items(job.job)]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        path = self._write_input(job.job, lines)
        if self.client.uploads_file:
            file_id = self.client.upload(job.job, path.read_bytes() if path else data)
            self.ledger.update(job.job, state="uploaded", file_id=file_id)
            log.info(f"batch job {job.job}{self.label}: {len(lines)} requests uploaded as {file_id}")
        else:
            self.ledger.update(job.job, state="uploaded")

    def _write_input(self, job: str, lines: list[str]) -> Path:
        """The input file next to the cache (batches/JOB.jsonl), written atomically: what was sent, for the record."""
        self.inputs_dir.mkdir(parents=True, exist_ok=True)
        path = self.inputs_dir / f"{job}.jsonl"
        for stale in self.inputs_dir.glob(f"{job}.jsonl.tmp*"):  # left by a run killed while writing
            stale.unlink(missing_ok=True)
        tmp = path.with_suffix(f".jsonl.tmp{os.getpid()}")
        stall = os.environ.get("FSABENCH_BATCH_STALL") == "writing"
        with open(tmp, "w", encoding="utf-8") as handle:
            for index, line in enumerate(lines):
                handle.write(line + "\n")
                if stall and index == len(lines) // 2:
                    handle.flush()
                    log.info(f"batch job {job}: FSABENCH_BATCH_STALL=writing, stopped while writing {tmp}")
                    while True:
                        time.sleep(3600)
        os.replace(tmp, path)
        return path

    def _create(self, job: Job) -> None:
        self.ledger.update(job.job, state="creating", creating_at=time.time())  # write-ahead of a paid call
        lines = [line for _, _, line, _, _ in self.ledger.items(job.job)]
        batch_id = self.client.create(job.job, job.file_id, lines)
        self.ledger.update(job.job, state="submitted", batch_id=batch_id, status="created")
        log.info(f"batch {batch_id}{self.label}: created with {len(lines)} requests ({self.client.provider})")

    def _adopt_or_recreate(self, job: Job) -> None:
        """A run died during the create call: the batch may exist. Adopt it if the provider lists it."""
        count = len(self.ledger.items(job.job))
        found = self.client.find(job.job, job.file_id, count, job.creating_at or job.created)
        if found:
            self.ledger.update(job.job, state="submitted", batch_id=found, status="adopted")
            log.info(f"batch {found}{self.label}: found the batch an interrupted run created; resuming it")
        else:
            self.ledger.update(job.job, state="uploaded")

    # --- poll and collect -------------------------------------------------------------------
    def step(self, job_id: str) -> bool:
        """One look at the job: poll it, collect it once it ended. True when collected."""
        job = self.ledger.job(job_id)
        if job.state == "collected":
            return True
        if job.state == "submitted":
            try:
                status = self.client.status(job.batch_id)
            except BatchGone as exc:  # nothing will ever come: fail its requests (--retry-failed resends them)
                status = BatchStatus(status="missing", ended=True, done=0, failed=0, total=0, errors=exc.message)
            self.ledger.update(job_id, status=status.status, counts=json.dumps(
                {"done": status.done, "failed": status.failed, "total": status.total}))
            self._report(job, status)
            if not status.ended:
                return False
            self.ledger.update(job_id, state="ended", output_file_id=status.output_file_id,
                               error_file_id=status.error_file_id, results_url=status.results_url,
                               counts=json.dumps({"done": status.done, "failed": status.failed,
                                                  "total": status.total, "errors": status.errors}))
            job = self.ledger.job(job_id)
        if job.state == "ended":
            self.collect(job)
            return True
        return False

    def wait(self, job_ids: list[str]) -> None:
        left = list(job_ids)
        while left:
            left = [j for j in left if not self.step(j)]
            if left:
                time.sleep(self.poll)

    def _report(self, job: Job, status: BatchStatus) -> None:
        shown = (status.status, status.done, status.failed)
        if self._last_report.get(job.job) != shown:
            self._last_report[job.job] = shown
            log.info(f"batch {job.batch_id}{self.label}: {status.status}, {status.done}/{status.total} done, "
                     f"{status.failed} failed")

    def collect(self, job: Job) -> None:
        """Every result line into the cache (matched by custom_id); lines with errors, and requests the
        provider returned nothing for (expired, cancelled, a failed batch), recorded as failed with the cause."""
        pending = {key: request for key, request, _, state, _ in self.ledger.items(job.job) if state == "pending"}
        status = BatchStatus(status=job.status or "ended", ended=True, done=0, failed=0, total=len(pending),
                             output_file_id=job.output_file_id, error_file_id=job.error_file_id,
                             results_url=job.results_url)
        answers: dict[str, Completion] = {}
        gone = None
        try:
            for custom_id, completion in self.client.results(status):
                if custom_id in pending and (custom_id not in answers or answers[custom_id].error):
                    answers[custom_id] = completion
        except BatchGone as exc:  # the result file expired at the provider: what was read stands, the rest fail
            gone = exc.message
        done, failed = [], {}
        for key, completion in answers.items():
            if completion.error is None and completion.text is not None:
                self.cache.put(key, job.model_name, request_of(pending[key]), completion)
                self.collected[key] = completion
                done.append(key)
            else:
                failed[key] = scrub(completion.error or "no text in the answer")
        detail = gone or json.loads(job.counts or "{}").get("errors")
        for key in pending.keys() - answers.keys():
            failed[key] = f"batch {job.batch_id} {status.status}: no result for this request" + \
                (f" ({detail})" if detail else "")
        self.ledger.finish_items(job.job, done, failed)
        log.info(f"batch {job.batch_id}{self.label}: collected {len(done)} answers, {len(failed)} failed")


def request_of(payload: str) -> Request:
    """A stored request payload (cache.request_payload as JSON) back into a Request with the same cache key."""
    data = json.loads(payload)
    messages = tuple(data["messages"]) if data.get("messages") is not None else None
    choices = tuple(data["choices"]) if data.get("choices") is not None else None
    return Request(id="batch", prompt=data["prompt"], messages=messages, max_new_tokens=data["max_new_tokens"],
                   stop=tuple(data.get("stop") or ()), temperature=data["temperature"], choices=choices)
