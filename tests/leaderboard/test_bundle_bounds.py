"""Issue 22, class 1: a bundle's size, counts and depth are checked while it is read, before objects are built."""

from __future__ import annotations

import gzip
import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsabench.errors import FsabenchError
from fsabench.jsonstrict import JSONProblem, check_bounds
from fsabench.leaderboard.spec import Limits
from fsabench.leaderboard.submission import Submission, SubmissionError, parse_bundle

HEAD = {"kind": "fsabench-leaderboard-submission", "bundle_version": 2, "leaderboard": "fsa",
        "fsabench_version": "0", "entry": {"name": "x", "category": "baseline", "date": "2026-01-01"}}
LIMITS = Limits()


def bundle(runs_json: str) -> bytes:
    return (json.dumps(HEAD)[:-1] + ', "runs": ' + runs_json + "}").encode()


def test_a_small_gzip_of_empty_objects_is_refused_before_it_is_built():
    raw = gzip.compress(bundle("[" + ",".join(["{}"] * 3_000_000) + "]"), 9)
    assert len(raw) < 20_000  # ~9 MB of JSON in a few KB
    tracemalloc.start()
    try:
        with pytest.raises(SubmissionError, match=r"holds about 3,000,0\d\d JSON values, over the limit of 1,000,000"):
            parse_bundle(raw, "bomb.json.gz", LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20  # the JSON text and one blanked copy; before: gigabytes of dicts


def test_deep_nesting_is_refused_by_depth_not_by_recursion():
    with pytest.raises(SubmissionError, match="nests 5001 levels deep, over the limit of 16"):
        parse_bundle(bundle("[" * 5000 + "]" * 5000), "deep.json", LIMITS)


def test_runs_and_examples_are_counted_before_the_schema_builds_them():
    with pytest.raises(SubmissionError, match="201 runs, over the limit of 200"):
        parse_bundle(bundle("[" + ",".join(["{}"] * 201) + "]"), "many.json", LIMITS)
    small = Limits(max_examples_per_run=3)
    with pytest.raises(SubmissionError, match="run 0 has 4 examples, over the limit of 3"):
        parse_bundle(bundle('[{"examples": [{},{},{},{}]}]'), "ex.json", small)


def test_one_schema_error_per_list_not_one_per_element():
    with pytest.raises(SubmissionError) as caught:
        parse_bundle(bundle("[" + ",".join(["{}"] * 150) + "]"), "x.json", LIMITS)
    assert "(and " not in str(caught.value) or "more problems" in str(caught.value)
    assert str(caught.value).count("\n") == 0


def test_strings_hide_no_brackets_and_an_unterminated_string_scans_linearly():
    check_bounds(b'{"a": "[[[[{{{{,,,,\\"]]]"}', max_values=2, max_depth=1)
    check_bounds(b'"' + b'\\"' * 200_000, max_values=1, max_depth=1)  # no end quote: still one linear pass
    with pytest.raises(JSONProblem, match="nests 2 levels"):
        check_bounds(b'[["x"]]', max_values=10, max_depth=1)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), JSON.map(lambda v: json.dumps(v).encode()),
                 st.dictionaries(st.sampled_from(["kind", "bundle_version", "leaderboard", "entry", "runs", "x"]),
                                 JSON, max_size=6).map(lambda d: json.dumps({**HEAD, **d}).encode())))
def test_any_bytes_end_in_a_bundle_or_one_submission_error(raw):
    try:
        assert isinstance(parse_bundle(raw, "h.json", LIMITS), Submission)
    except FsabenchError as exc:
        assert "\n" not in str(exc)
