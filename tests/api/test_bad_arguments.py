"""Issue 22, class 10: the Python API raises only FsabenchError for bad arguments."""

from __future__ import annotations

import pytest

import fsabench
from fsabench.errors import FsabenchError


@pytest.mark.parametrize("call", [
    lambda: fsabench.task(None), lambda: fsabench.task(5), lambda: fsabench.score(None, {}),
    lambda: fsabench.load_results([None]), lambda: fsabench.load_results([5]),
    lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, max_cost=float("nan")),
    lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, max_cost=-1.0),
])
def test_bad_arguments_end_in_one_fsabench_error(call):
    with pytest.raises(FsabenchError) as info:
        call()
    assert "\n" not in str(info.value)
