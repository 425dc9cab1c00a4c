"""The paper's analyses as named sections of `--preset paper`, with "missing runs" instead of empty charts."""

from __future__ import annotations

import pytest

import json
import shutil

from fsabench.report import analyze, load_runs
from fsabench.report.charts import tick_overlaps
from fsabench.report.paper import paper_sections
from fsabench.results import load_result, save_result


def _distill(responses: int, prompts=("analysis", "rewrite"), ablation=None, teacher="mixtral") -> dict:
    return {"recipe": "tiny", "ablation": ablation, "student": "hf:x",
            "corpus": {"responses": responses, "train": responses, "prompts": list(prompts), "teacher": teacher}}


def _students(report_runs, tmp_path, variants: dict[str, dict]):
    """Copies of the fixture's 3-seed student, one per variant, each with its `meta.distill`."""
    runs = tmp_path / "runs"
    shutil.copytree(report_runs / "test_llm-7b", runs / "llm")
    for name, info in variants.items():
        for path in (report_runs / "test_student-220m").glob("atsa-rest14__seed*.json"):
            result = load_result(path)
            result.model.name = f"hf:runs/{name}/student"
            result.meta["distill"] = info
            (runs / name).mkdir(parents=True, exist_ok=True)
            save_result(result, runs / name / path.name)
    return runs


def test_sections_draw_what_the_runs_allow_and_list_what_is_missing(report_runs, tmp_path):
    runs = _students(report_runs, tmp_path, {
        "full": _distill(500), "small": _distill(250), "analysis": _distill(500, ("analysis",)),
        "ablation": _distill(500, ablation="no-pretrain")})
    sections = {s.name: s for s in paper_sections(analyze(load_runs([runs]), n_boot=0, tests=False))}
    assert list(sections) == ["scaling", "ablation", "teachers", "zero_shot", "human"]
    scaling = sections["scaling"]
    assert not scaling.missing and [r[0].text for r in scaling.tables[0].rows] == ["250", "500"]
    name, caption, draw = scaling.figures[0]
    fig = draw()
    assert name == "scaling" and fig.axes[0].get_xscale() == "log" and not tick_overlaps(fig)
    ablation = sections["ablation"]
    assert [(r[0].text, r[1].text) for r in ablation.tables[0].rows] == [
        ("analysis + rewrite", "250"), ("analysis + rewrite", "500"), ("analysis only", "500"),
        ("no pretraining", "500")]  # never pooled across corpus sizes
    assert len(ablation.missing) == 1 and ablation.missing[0].startswith("rewrite only")
    assert sections["teachers"].missing == ["students distilled from two teachers or more (found only mixtral)"]
    zero = sections["zero_shot"]
    assert "a zero-shot run of the teacher (mixtral)" in zero.missing[0]
    assert [r[0].text for r in zero.tables[0].rows][0] == "test:llm-7b (zero-shot)"
    assert sections["human"].missing and not sections["human"].tables


@pytest.mark.slow
def test_paper_preset_without_distillation_runs_says_missing_runs(report_runs, tmp_path, cli):
    runs = tmp_path / "runs"
    shutil.copytree(report_runs / "baseline_lexicon", runs / "lexicon")
    res = cli("report", runs, "--out", tmp_path / "out", "--preset", "paper", "--figures", "none",
              "--format", "md,json", "--bootstrap", "0")
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "out" / "report.md").read_text()
    for title in ("Corpus-size scaling", "Ablation: analysis vs rewrite", "Teacher comparison",
                  "Zero-shot LLMs, the teacher among them", "Human evaluation"):
        assert f"## {title}" in md
    assert md.count("Missing runs: ") == 5
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [s["name"] for s in report["sections"]] == ["scaling", "ablation", "teachers", "zero_shot", "human"]
    assert all(s["missing"] and not s["figures"] for s in report["sections"])


def test_an_ablation_found_only_as_partial_runs_is_said_to_be_set_aside(report_runs, tmp_path):
    """Issue 22 class 15: 'Missing runs: ... --ablation no-pretrain' right after that run (on --limit) misled."""
    runs = _students(report_runs, tmp_path, {"full": _distill(500), "ablation": _distill(500, ablation="no-pretrain")})
    for path in (runs / "ablation").glob("*.json"):  # the ablation was run on the first examples only
        result = load_result(path)
        result.examples = result.examples[:5]
        result.scores = {"all": result.scores["all"].model_copy(update={"n": 5})}  # re-scored when read
        save_result(result, path)

    sections = {s.name: s for s in paper_sections(analyze(load_runs([runs]), n_boot=0, tests=False))}
    note = next(m for m in sections["ablation"].missing if m.startswith("no pretraining"))
    assert "only partial runs were found (n=5 examples, --limit): set aside" in note
