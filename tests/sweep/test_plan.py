"""Where a sweep's results and cache go for each executor, and the units of work per model."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsabench.errors import FsabenchError
from fsabench.options import SweepOptions
from fsabench.sweep.cells import make_units
from fsabench.sweep.plan import load_plan, placed_dirs


def options(tmp_path, **changes) -> SweepOptions:
    return SweepOptions(**{"sweep_file": tmp_path / "S.yaml", "output_dir": tmp_path / "out", **changes})


def test_shared_dir_must_be_absolute_and_hold_the_output(tmp_path):
    with pytest.raises(FsabenchError, match="relative path means a different folder"):
        placed_dirs(options(tmp_path, executor="ray", shared_dir=Path("shared")))
    with pytest.raises(FsabenchError, match="is not under --shared-dir"):
        placed_dirs(options(tmp_path, executor="ray", shared_dir=tmp_path / "shared"))
    out, cache, write = placed_dirs(options(tmp_path, executor="ray", shared_dir=tmp_path,
                                            output_dir=tmp_path / "sweep"))
    assert (out, cache, write) == (tmp_path / "sweep", tmp_path / "cache", True)


def test_joining_a_cluster_without_shared_dir_returns_results_to_the_driver(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert placed_dirs(options(tmp_path, executor="ray"))[2] is True  # a local head sees this folder
    assert placed_dirs(options(tmp_path, executor="ray", ray_address="10.0.0.1:6379"))[2] is False


def test_costly_models_are_one_unit_and_light_ones_are_split(tmp_path):
    (tmp_path / "S.yaml").write_text("models: [baseline:lexicon, hf:./student]\ntasks: [atsa-rest14, sc-sst2]\n"
                                     "prompts: [default, terse]\nseeds: [1, 2]\n")
    spec, cells, _ = load_plan(tmp_path / "S.yaml")
    units = make_units(spec, cells, tmp_path / "out", split_light=3)
    by_model = {m: [u for u in units if u.entry.model == m] for m in ("baseline:lexicon", "hf:./student")}
    assert len(by_model["hf:./student"]) == 1 and len(by_model["hf:./student"][0].cells) == 8
    assert [len(u.cells) for u in by_model["baseline:lexicon"]] == [3, 3, 2]
    assert sorted(c for u in by_model["baseline:lexicon"] for c in u.cells) == sorted(
        c for c in cells if c.model == "baseline:lexicon")


def test_workers_that_cannot_see_the_output_return_results_and_skip_by_the_stored_key(tmp_path):
    """The path used when joining a Ray cluster without --shared-dir, driven without Ray."""
    from dataclasses import replace

    from fsabench.results import load_result
    from fsabench.sweep.plan import save_returned, stored_keys
    from fsabench.sweep.worker import run_unit

    (tmp_path / "S.yaml").write_text("models: [baseline:lexicon]\ntasks: [atsa-rest14]\nprompts: [default, terse]\n"
                                     "limit: 3\n")
    spec, cells, _ = load_plan(tmp_path / "S.yaml")
    unit, = make_units(spec, cells, tmp_path / "out", split_light=1, write=False)
    outcomes = run_unit(unit)
    assert [o.status for o in outcomes] == ["done", "done"] and not list((tmp_path / "out").glob("*/*.json"))
    for outcome in outcomes:
        save_returned(outcome, unit)  # what the driver does with each returned result
        assert load_result(outcome.cell.path(unit.out_dir)).meta["prompt"] == outcome.cell.prompt
    again = run_unit(replace(unit, tags=stored_keys(unit)))
    assert [o.status for o in again] == ["skipped", "skipped"] and all(o.payload is None for o in again)
