"""The store's connections under threads: the service reads from its thread pool and the page composer
while shutdown closes the store. Closing a sqlite3 connection another thread is reading through crashes
CPython (a segfault that took down a CI run), so each thread's connection is closed by that thread."""

from __future__ import annotations

import threading
import time

from fsabench.errors import FsabenchError
from fsabench.leaderboard.store import Store


def test_closing_the_store_while_other_threads_read_never_crashes(tmp_path):
    store = Store(tmp_path / "lb.sqlite3")
    errors: list[str] = []
    reads = [0] * 4

    def reader(index: int) -> None:
        try:
            while True:
                store.rows("fsa")
                store.tail_meta("fsa")
                reads[index] += 1
        except FsabenchError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while min(reads) < 20 and time.monotonic() < deadline:  # every thread is reading when the store closes
        time.sleep(0.01)
    store.close()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert len(errors) == 4 and all("store is closed" in e and "lb.sqlite3" in e for e in errors)


def test_a_closed_store_refuses_reads_in_one_line(tmp_path):
    store = Store(tmp_path / "lb.sqlite3")
    assert store.rows("fsa") == []
    store.close()
    try:
        store.rows("fsa")
    except FsabenchError as exc:
        assert "lb.sqlite3" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("a closed store answered")
