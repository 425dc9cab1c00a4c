"""The sweep section of a report: spread over prompts x seeds and Kendall's tau across prompts."""

from __future__ import annotations

import json

import pytest

import fsabench
from fsabench.report.build import build_report
from fsabench.report.sweep import cells_of, kendall_tau, rank_table, spread_table
from fsabench.results import save_result


def test_kendall_tau_on_hand_cases():
    assert kendall_tau([3, 2, 1], [30, 20, 10]) == pytest.approx(1.0)
    assert kendall_tau([3, 2, 1], [10, 20, 30]) == pytest.approx(-1.0)
    assert kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)  # one discordant pair of six
    assert kendall_tau([1, 1], [1, 2]) is None and kendall_tau([1], [1]) is None


def test_spread_and_ranks_from_cell_values():
    values = {("m1", "t", 0, "default", 1): 50.0, ("m1", "t", 0, "default", 2): 52.0,
              ("m1", "t", 0, "terse", 1): 40.0, ("m1", "t", 0, "terse", 2): 42.0,
              ("m2", "t", 0, "default", 1): 45.0, ("m2", "t", 0, "default", 2): 47.0,
              ("m2", "t", 0, "terse", 1): 44.0, ("m2", "t", 0, "terse", 2): 46.0}
    spread = spread_table(values)
    m1 = next(r for r in spread.rows if r[0].text == "m1")
    assert [c.text for c in m1[3:]] == ["4", "46.00", "5.89", "51.00", "41.00", "10.00"]  # sd of 50,52,40,42
    ranks = rank_table(values)
    row = next(r for r in ranks.rows if r[0].text == "t")
    assert row[2].text == "default vs terse" and row[4].text == "-1.00"  # m1 > m2 under default, m2 > m1 terse
    assert row[5].text == "m1 > m2" and row[6].text == "m2 > m1"


def test_report_on_a_sweep_folder_has_the_section(tmp_path):
    runs = tmp_path / "runs"
    for model in ("baseline:lexicon", "baseline:gold"):
        for prompt in ("default", "terse"):
            for seed in (0, 1):
                result, = fsabench.evaluate(model, "atsa-rest14", limit=5, seed=seed, prompt=prompt)
                result.meta["sweep"] = {"cell": f"{model} {prompt} {seed}"}
                save_result(result, runs / f"{model.split(':')[1]}-{prompt}-{seed}.json")
    built = build_report([runs], tmp_path / "report", formats="md,json", figure_formats="none", n_boot=0)
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Sweep: prompt and seed sensitivity" in text and "atsa-rest14 [prompt terse]" in text
    tables = {t["name"] for t in json.loads((tmp_path / "report" / "report.json").read_text())["tables"]}
    assert {"sweep_spread", "sweep_ranks"} <= tables
    assert built.files and len(cells_of(fsabench.load_results(runs))) == 8


def test_kendall_tau_equals_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    a, b = [1, 2, 2, 3, 5, 4], [2, 1, 3, 3, 6, 6]
    assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic)
