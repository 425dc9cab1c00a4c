"""The local executor: units in worker processes on this machine, at most `max_parallel` at once.

Each worker is a spawned process (torch is not fork-safe) that runs one unit and sends each cell's
outcome down its own pipe as the cell ends. A worker that dies (kill -9, out of memory) loses only the
cell it was running: finished cells are already on disk, and the unit's remaining cells are started
again in a new worker (`retries` times), then reported failed with the exit signal as the cause.
Workers die with the driver (PR_SET_PDEATHSIG), so a killed sweep leaves no orphan behind.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import wait

from fsabench.processes import die_with_parent
from fsabench.sweep.cells import Unit
from fsabench.sweep.worker import CellOutcome, run_unit

Done = Callable[[CellOutcome], None]
POLL_SECONDS = 0.5


@dataclass
class _Running:
    process: multiprocessing.process.BaseProcess
    conn: object
    unit: Unit
    attempt: int
    reported: set


def _child(conn, unit: Unit, parent: int) -> None:
    die_with_parent(signal.SIGKILL)
    if os.getppid() != parent:  # the driver died before the signal was armed
        os._exit(1)
    try:
        run_unit(unit, report=conn.send)
    finally:
        conn.close()


def run_local(units: Sequence[Unit], max_parallel: int, on_done: Done, retries: int = 1) -> list[CellOutcome]:
    """Every cell's outcome (order of completion)."""
    context = multiprocessing.get_context("spawn")
    queue: list[tuple[Unit, int]] = [(u, 0) for u in units]
    running: list[_Running] = []
    outcomes: list[CellOutcome] = []

    def record(entry: _Running, outcome: CellOutcome) -> None:
        entry.reported.add(outcome.cell)
        outcomes.append(outcome)
        on_done(outcome)

    try:
        while queue or running:
            while queue and len(running) < max(1, max_parallel):
                unit, attempt = queue.pop(0)
                reader, writer = context.Pipe(duplex=False)
                process = context.Process(target=_child, args=(writer, unit, os.getpid()), daemon=True)
                process.start()
                writer.close()
                running.append(_Running(process, reader, unit, attempt, set()))
            ready = wait([r.conn for r in running] + [r.process.sentinel for r in running], timeout=POLL_SECONDS)
            for entry in list(running):
                if entry.conn in ready or entry.process.sentinel in ready:
                    _drain(entry, record)
                if not entry.process.is_alive():
                    entry.process.join()
                    _drain(entry, record)
                    running.remove(entry)
                    left = tuple(c for c in entry.unit.cells if c not in entry.reported)
                    if not left:
                        continue
                    cause = _death(entry.process.exitcode)
                    if entry.attempt < retries:
                        queue.insert(0, (replace(entry.unit, cells=left), entry.attempt + 1))
                    else:
                        for cell in left:
                            record(entry, CellOutcome(cell, "failed", f"worker {cause} (after {retries} retries)"))
    finally:
        for entry in running:  # interrupted: stop our own workers
            entry.process.kill()
            entry.process.join(5)
    return outcomes


def _drain(entry: _Running, record) -> None:
    try:
        while entry.conn.poll():
            record(entry, entry.conn.recv())
    except (EOFError, OSError):
        pass


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"died ({signal.Signals(-code).name})"
        except ValueError:
            return f"died (signal {-code})"
    return f"exited with code {code}"
