"""Write-ahead bookkeeping of provider batches, in the response cache's own SQLite file.

A batch is a paid, remote, long-lived job: losing track of one costs money. So every step is recorded
before (or the moment) it happens, and a process killed at any point leaves enough to pick the job up:

    recorded   items (cache key = custom_id, the exact input line) committed; nothing sent yet
    uploaded   the provider's input file id is known (OpenAI); Anthropic goes straight here
    creating   the create call is about to be sent (a kill now: adopt the batch by its metadata or
               creation time instead of creating a second one)
    submitted  the provider's batch id is known: anyone may poll it
    ended      the provider says it ended (completed, expired, cancelled, failed); files are named
    collected  every item is done (answer in the cache) or failed (with the cause)

Claims run in one `BEGIN IMMEDIATE` transaction, so two processes on one cache never put the same
request into two live batches: the second finds the key pending in the first's job and waits for it.
Until a job has a batch id only its owner (host:pid) drives it; a job whose owner died is taken over.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    job TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    model_name TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT,
    heartbeat REAL,
    file_id TEXT,
    batch_id TEXT,
    status TEXT,
    output_file_id TEXT,
    error_file_id TEXT,
    results_url TEXT,
    counts TEXT,
    creating_at REAL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_items (
    job TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    request TEXT NOT NULL,
    line TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (job, key)
);
CREATE INDEX IF NOT EXISTS batch_items_by_key ON batch_items (key, state);
"""
LIVE_STATES = ("recorded", "uploaded", "creating", "submitted", "ended")
LEASE_S = 120.0  # an owner on another host that has not touched its job this long is presumed dead
REUSED_PID_S = 3600.0  # no upload or create call takes this long


def me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None, heartbeat: float | None) -> bool:
    """Same host: is the pid alive? Another host: has it written within the lease?"""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        if int(pid) == os.getpid():
            return True
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        # a live pid whose job has not moved in an hour is a reused pid, not the owner
        return _not_zombie(int(pid)) and (heartbeat is None or time.time() - heartbeat < REUSED_PID_S)
    return heartbeat is not None and time.time() - heartbeat < LEASE_S


def _not_zombie(pid: int) -> bool:
    from fsabench.processes import process_state

    return process_state(pid) != "Z"  # no /proc: unknown, and kill(pid, 0) already found it


@dataclass
class Job:
    job: str
    provider: str
    endpoint: str
    model: str
    model_name: str
    state: str
    owner: str | None
    heartbeat: float | None
    file_id: str | None
    batch_id: str | None
    status: str | None
    output_file_id: str | None
    error_file_id: str | None
    results_url: str | None
    counts: str | None
    creating_at: float | None
    created: float
    updated: float


@dataclass(frozen=True)
class Claim:
    """What one process must do for its missing keys: jobs to drive (its own new ones and others' live
    ones holding its keys) and keys a finished batch already failed (resent only with --retry-failed)."""

    jobs: list[str]
    failed: dict[str, str]  # key -> cause


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- claims -----------------------------------------------------------------------------
    def claim(self, provider: str, endpoint: str, model: str, model_name: str, wanted: dict[str, tuple[str, str]],
              retry_failed: bool, max_requests: int, max_bytes: int) -> Claim:
        """`wanted`: key -> (request JSON, input line JSON). In one transaction: keys pending in a live job
        are left to it; keys whose last batch failed them are reported (or, with `retry_failed`, sent
        again); the rest go into new jobs split at `max_requests` lines / `max_bytes` bytes."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            live, failed = self._state_of_keys(model, list(wanted))
            jobs = sorted(set(live.values()))
            fresh = [k for k in wanted if k not in live and (retry_failed or k not in failed)]
            if retry_failed:
                self._mark_retried([k for k in fresh if k in failed], model)
            failed = {} if retry_failed else failed
            now = time.time()
            for part in split(fresh, wanted, max_requests, max_bytes):
                job = f"fsb{uuid.uuid4().hex[:20]}"
                self.db.execute("INSERT INTO batch_jobs (job, provider, endpoint, model, model_name, state, owner, "
                                "heartbeat, created, updated) VALUES (?, ?, ?, ?, ?, 'recorded', ?, ?, ?, ?)",
                                (job, provider, endpoint, model, model_name, me(), now, now, now))
                self.db.executemany("INSERT INTO batch_items (job, key, seq, request, line, state) "
                                    "VALUES (?, ?, ?, ?, ?, 'pending')",
                                    [(job, k, i, wanted[k][0], wanted[k][1]) for i, k in enumerate(part)])
                jobs.append(job)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return Claim(jobs, failed)

    def _state_of_keys(self, model: str, keys: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
        """key -> live job holding it pending; key -> cause, for keys whose latest item failed."""
        live: dict[str, str] = {}
        latest: dict[str, tuple[float, str, str | None]] = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT i.key, i.job, i.state, i.error, j.created, j.state FROM batch_items i JOIN batch_jobs j "
                f"ON i.job = j.job WHERE j.model = ? AND i.key IN ({marks})", [model, *part])
            for key, job, state, error, created, job_state in rows:
                if state == "pending" and job_state in LIVE_STATES:
                    live[key] = job
                if state in ("failed", "done") and (key not in latest or created > latest[key][0]):
                    latest[key] = (created, state, error)
        failed = {k: v[2] or "failed in an earlier batch" for k, v in latest.items()
                  if v[1] == "failed" and k not in live}
        return live, failed

    def _mark_retried(self, keys: Sequence[str], model: str) -> None:
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            marks = ",".join("?" * len(part))
            self.db.execute(f"UPDATE batch_items SET state = 'retried' WHERE state = 'failed' AND key IN ({marks}) "
                            "AND job IN (SELECT job FROM batch_jobs WHERE model = ?)", [*part, model])

    # --- jobs -------------------------------------------------------------------------------
    def job(self, job: str) -> Job:
        row = self.db.execute(f"SELECT {', '.join(Job.__dataclass_fields__)} FROM batch_jobs WHERE job = ?",
                              (job,)).fetchone()
        return Job(*row)

    def jobs(self, states: Iterable[str] = LIVE_STATES) -> list[Job]:
        states = list(states)
        rows = self.db.execute(f"SELECT {', '.join(Job.__dataclass_fields__)} FROM batch_jobs WHERE state IN "
                               f"({','.join('?' * len(states))}) ORDER BY created", states)
        return [Job(*row) for row in rows]

    def update(self, job: str, **values: Any) -> None:
        values["updated"] = time.time()
        values["heartbeat"] = values["updated"]
        sets = ", ".join(f"{k} = ?" for k in values)
        self.db.execute(f"UPDATE batch_jobs SET {sets} WHERE job = ?", [*values.values(), job])

    def take_over(self, job: str) -> bool:
        """Become the owner of a job not yet submitted, if its owner is this process or dead."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT owner, heartbeat, state FROM batch_jobs WHERE job = ?", (job,)).fetchone()
            mine = row is not None and row[2] in ("recorded", "uploaded", "creating") and \
                (row[0] == me() or not owner_alive(row[0], row[1]))
            if mine:
                self.db.execute("UPDATE batch_jobs SET owner = ?, heartbeat = ? WHERE job = ?", (me(), time.time(), job))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return mine

    def items(self, job: str) -> list[tuple[str, str, str, str, str | None]]:
        """(key, request JSON, line JSON, state, error) in input order."""
        return self.db.execute("SELECT key, request, line, state, error FROM batch_items WHERE job = ? ORDER BY seq",
                               (job,)).fetchall()

    def finish_items(self, job: str, done: Sequence[str], failed: dict[str, str]) -> None:
        """Mark a job's items answered or failed, and the job collected, in one transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("UPDATE batch_items SET state = 'done', error = NULL WHERE job = ? AND key = ? "
                                "AND state = 'pending'", [(job, k) for k in done])
            self.db.executemany("UPDATE batch_items SET state = 'failed', error = ? WHERE job = ? AND key = ? "
                                "AND state = 'pending'", [(cause, job, k) for k, cause in failed.items()])
            self.db.execute("UPDATE batch_jobs SET state = 'collected', updated = ? WHERE job = ?", (time.time(), job))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def live(self, model: str, keys: Sequence[str]) -> set[str]:
        """The keys pending in a live job (submitted or about to be)."""
        return set(self._state_of_keys(model, list(keys))[0])

    def failures(self, model: str, keys: Sequence[str]) -> dict[str, str]:
        return self._state_of_keys(model, list(keys))[1]


def split(keys: Sequence[str], wanted: dict[str, tuple[str, str]], max_requests: int,
          max_bytes: int) -> list[list[str]]:
    """Keys in input order, cut so no part has more than `max_requests` lines or `max_bytes` bytes of input."""
    parts: list[list[str]] = []
    current: list[str] = []
    size = 0
    for key in keys:
        line_bytes = len(wanted[key][1].encode("utf-8")) + 1
        if current and (len(current) >= max_requests or size + line_bytes > max_bytes):
            parts.append(current)
            current, size = [], 0
        current.append(key)
        size += line_bytes
    if current:
        parts.append(current)
    return parts
