"""Issue 22, class 10: the Python API raises only FsabenchError for bad arguments."""

from __future__ import annotations

import pytest

import fsabench
from fsabench.api import build_report
from fsabench.errors import FsabenchError


@pytest.mark.parametrize("call", [
    lambda: fsabench.task(None), lambda: fsabench.task(5), lambda: fsabench.score(None, {}),
    lambda: fsabench.load_results([None]), lambda: fsabench.load_results([5]),
    lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, max_cost=float("nan")),
    lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, max_cost=-1.0),
    lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, output_dir=5),
    lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, data_dir=5),
    lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, tasks_dir=[5]),
    lambda: fsabench.load_results(None), lambda: fsabench.load_results(5),
    lambda: build_report(None, "out"), lambda: build_report([], None),
])
def test_bad_arguments_end_in_one_fsabench_error(call):
    with pytest.raises(FsabenchError) as info:
        call()
    assert "\n" not in str(info.value)


def test_a_lone_string_is_one_folder_not_a_list_of_characters(tmp_path):
    with pytest.raises(FsabenchError, match="tasks directory does not exist"):
        fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, tasks_dir=str(tmp_path / "nope"))
    assert "sc-sst2" in fsabench.list_tasks(tasks_dir=str(tmp_path))



def test_the_deprecated_tasks_call_takes_a_lone_folder_too(tmp_path):
    with pytest.warns(DeprecationWarning), pytest.raises(FsabenchError, match="tasks directory does not exist"):
        fsabench.tasks(tasks_dir=str(tmp_path / "nope"))
