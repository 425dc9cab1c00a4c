"""`fsabench serve`'s torch thread count: one core stays free for the HTTP loop."""

from __future__ import annotations

from fsabench.serve.launch import serve_threads
from fsabench.threads import physical_cores


def test_serve_leaves_a_core_for_the_http_loop(monkeypatch):
    monkeypatch.delenv("FSABENCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert serve_threads(None) == max(1, physical_cores() - 1)
    assert serve_threads(3) == 3  # --threads
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's BLAS setting is a request too
    assert serve_threads(None) == 3
    monkeypatch.setenv("FSABENCH_THREADS", "2")
    assert serve_threads(None) == 2
