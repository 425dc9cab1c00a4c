"""Issue 22, class 9: files fed to reports are validated (human stats files, RunResult usage)."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fsabench
from fsabench.errors import FsabenchError, ResultError
from fsabench.human.report import load_stats
from fsabench.results import load_result, save_result

STATS = {"study": "s", "items": 4, "humans": ["ann", "bob"], "judges": [],
         "bootstrap": {"resamples": 100, "seed": 0, "method": "percentile"},
         "rubric": {"name": "r", "version": 1, "dimensions": [
             {"name": "faithful", "title": "Faithful", "level": "ordinal", "per": "item", "min": 1, "max": 5}]},
         "models": [{"model": "m1", "dimension": "faithful", "statistic": "mean", "n_items": 4, "n_ratings": 8,
                     "value": 3.5, "ci_low": 3.0, "ci_high": 4.0}],
         "agreement": [{"dimension": "faithful", "level": "ordinal", "alpha": 0.61, "units": 4}],
         "judges_vs_humans": [], "disagreements": []}


def write(tmp_path, stats, raw: str | None = None):
    path = tmp_path / "stats.json"
    path.write_text(raw if raw is not None else json.dumps(stats))
    return path


def mutated(path: list, value):
    stats = copy.deepcopy(STATS)
    target = stats
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return stats


def test_a_valid_stats_file_loads(tmp_path):
    assert load_stats(write(tmp_path, STATS))["models"][0]["value"] == 3.5


def test_a_mean_off_the_rubric_scale_is_refused(tmp_path):
    stats = mutated(["models", 0], {**STATS["models"][0], "value": 9.0, "ci_low": 8.0, "ci_high": 9.5})
    with pytest.raises(ResultError, match="mean 9.0 is off the scale 1..5"):
        load_stats(write(tmp_path, stats))


@pytest.mark.parametrize("path, value, words", [
    (["models", 0, "ci_low"], 4.5, "does not hold the value"),  # reversed / wrong interval
    (["models", 0, "value"], "3.5", "value"),
    (["models", 0, "value"], 9.0, "does not hold the value 9.0"),
    (["agreement", 0, "alpha"], 2.5, "alpha"),
    (["rubric", "dimensions", 0, "max"], 0, "min 1.0 is not below max"),
    (["models", 0, "n_items"], -1, "n_items"),
])
def test_bad_numbers_in_a_stats_file_are_refused_naming_the_field(tmp_path, path, value, words):
    with pytest.raises(ResultError, match=words):
        load_stats(write(tmp_path, mutated(path, value)))


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_a_stats_file_are_refused(tmp_path, token):
    raw = json.dumps(STATS).replace('"value": 3.5', f'"value": {token}')
    with pytest.raises(ResultError, match="not a number JSON allows"):
        load_stats(write(tmp_path, None, raw))


@pytest.mark.parametrize("field, value", [("prompt_tokens", -5), ("cost_usd", -0.5), ("failed", -1)])
def test_negative_usage_in_a_result_file_is_refused_before_a_report_sums_it(tmp_path, field, value):
    result = fsabench.evaluate("baseline:lexicon", "sc-sst2", limit=3, cache=False)[0]
    path = tmp_path / "r.json"
    save_result(result, path)
    data = json.loads(path.read_text())
    data["usage"][field] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ResultError, match=f"usage.{field}"):
        load_result(path)


NUMBER = st.none() | st.floats() | st.integers(-5, 10) | st.text(max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from([["models", 0, "value"], ["models", 0, "ci_low"], ["models", 0, "ci_high"],
                                           ["agreement", 0, "alpha"], ["rubric", "dimensions", 0, "min"],
                                           ["models", 0, "statistic"], ["models", 0, "n_items"], ["items"]]), NUMBER),
                max_size=3))
def test_any_stats_file_loads_and_renders_or_raises_one_result_error(tmp_path, edits):
    stats = copy.deepcopy(STATS)
    for path, value in edits:
        target = stats
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(stats))
    try:
        from fsabench.human.report import human_table_rows

        human_table_rows(load_stats(path))
    except FsabenchError as exc:
        assert "\n" not in str(exc)


def test_the_human_chart_fits_a_page_width_with_four_dimensions(tmp_path):
    pytest.importorskip("matplotlib")
    from fsabench.human.report import human_chart

    stats = copy.deepcopy(STATS)
    stats["rubric"]["dimensions"] = [{**STATS["rubric"]["dimensions"][0], "name": f"d{i}", "title": f"D{i}"} for i in range(4)]
    stats["models"] = [{**STATS["models"][0], "dimension": f"d{i}", "model": m} for i in range(4) for m in ("m1", "m2")]
    stats["agreement"] = [{"dimension": f"d{i}", "alpha": 0.5} for i in range(4)]
    fig = human_chart(load_stats(write(tmp_path, stats)))
    width, height = fig.get_size_inches()
    assert width <= 7.0 and height < 9  # was 12.8 in wide: four panels side by side
