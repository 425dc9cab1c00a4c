"""Issue 22, class 8: a task file cannot silently change a subset or a count."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fsabench
from fsabench.errors import DataError, FsabenchError, SpecError
from fsabench.tasks.registry import load_spec_file
from tests.evaluation.test_trust import GOOD, make_task


def edit(tasks, old: str, new: str) -> None:
    path = tasks / "mycafe.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("subset, words", [
    ("{any_aspect_empty: opinion_wordz, aspects_field: opinions}", "subsets.odd names aspect field 'opinion_wordz'"),
    ("{min_distinct: {field: polarityy, count: 2}, aspects_field: opinions}", "names aspect field 'polarityy'"),
    ("{field_equals: {knd: x}}", "subsets.odd names record field 'knd'"),
    ("{any_aspect_is: {trm: coffee}, aspects_field: opinions}", "names aspect field 'trm'"),
    ("{any_aspect_empty: term}", "names record field 'aspects'")])
def test_a_subset_filter_naming_a_field_no_record_has_is_refused_by_run_and_validate(tmp_path, cli, subset, words):
    tasks = make_task(tmp_path, GOOD)
    edit(tasks, "  all: {}\n", f"  all: {{}}\n  odd: {subset}\n")
    with pytest.raises(DataError, match=words):
        fsabench.evaluate("baseline:empty", "mycafe", tasks_dir=[tasks], data_dir=tmp_path / "data")
    done = cli("tasks", "validate", str(tasks / "mycafe.yaml"), "--check-data", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 1 and words in done.stdout + done.stderr


@pytest.mark.parametrize("old, new, words", [
    ("metric: tuple_f1", "metric: tuple_f1\nmax_new_tokens: yes", "max_new_tokens"),
    ("metric: tuple_f1", "metric: tuple_f1\nmax_new_tokens: '50'", "max_new_tokens"),
    ("metric: tuple_f1", "metric: tuple_f1\nmax_new_tokens: 50.0", "max_new_tokens"),
    ("metric: tuple_f1", "metric: tuple_f1\nversion: true", "version"),
    ("  all: {}\n", "  all: {}\n  multi: {min_distinct: {field: sentiment, count: 0}}\n", "count"),
    ("  all: {}\n", "  all: {}\n  multi: {min_distinct: {field: sentiment, count: '2'}}\n", "count")])
def test_counts_and_types_in_a_task_file_are_strict(tmp_path, old, new, words):
    tasks = make_task(tmp_path, GOOD)
    edit(tasks, old, new)
    with pytest.raises(SpecError, match=words):
        load_spec_file(tasks / "mycafe.yaml")


VALUES = st.recursive(st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False) | st.text(max_size=12),
                      lambda x: st.lists(x, max_size=3) | st.dictionaries(st.text(max_size=8), x, max_size=3),
                      max_leaves=10)
KEYS = ["name", "version", "type", "data", "gold", "output", "metric", "subsets", "prompt", "max_new_tokens", "include",
        "tags", "elements"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8) | st.text(max_size=200))
def test_any_task_yaml_loads_or_raises_one_spec_error(tmp_path, doc):
    path = tmp_path / "t.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc), encoding="utf-8")
    try:
        load_spec_file(path)
    except FsabenchError as exc:
        assert "\n" not in str(exc)
