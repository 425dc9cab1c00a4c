"""Figures fit for print: sized for one and two columns, fonts embedded, legends outside the plot,
no tick labels overlapping (checked on the drawn bounding boxes), one colour per model."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.colors import to_hex

from fsabench.report import analyze, load_runs
from fsabench.report.charts import (WIDTHS, bar_chart, confusion_chart, drop_chart, figure_bytes, seed_chart,
                                    tick_overlaps)

LONG = ["hf:/srv/models/student-distilled-from-mixtral-2M-responses-t5-base",
        "openai-compat:http://127.0.0.1:8080/v1#smollm2-135m-instruct-q4-k-m-gguf",
        "litellm:hosted_vllm/mistralai/Mixtral-8x7B-Instruct-v0.1", "baseline:lexicon",
        "hf:google-t5/t5-base", "hf:/srv/models/student-no-pretrain-ablation-seed*",
        "lm-eval:hf,pretrained=/srv/models/llama-3-8b-instruct", "test:a-rather-long-model-name-as-well"]


@pytest.fixture(scope="module")
def analysis(report_runs):
    return analyze(load_runs([report_runs]), n_boot=0, tests=False)


def _many_models(analysis) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fixture's rows under eight long display names (as a real paper's comparison has)."""
    summary = analysis.summary[analysis.summary.task == "atsa-rest14"]
    runs = analysis.runs[analysis.runs.task == "atsa-rest14"]
    base = sorted(set(summary.model))
    frames_s, frames_r = [], []
    for i, name in enumerate(LONG):
        src = base[i % len(base)]
        frames_s.append(summary[summary.model == src].assign(model=name, protocol="p"))
        frames_r.append(runs[runs.model == src].assign(model=name, protocol="p"))
    return pd.concat(frames_s), pd.concat(frames_r)


@pytest.mark.slow
@pytest.mark.parametrize("width", ["single", "double"])
def test_no_tick_labels_overlap_at_one_or_two_columns(analysis, width):
    summary, runs = _many_models(analysis)
    figures = [bar_chart(summary, task="atsa-rest14", width=width), seed_chart(runs, "atsa-rest14", width=width),
               drop_chart(summary, "atsa-rest14", width=width), confusion_chart(analysis.groups, "atsa-rest14", width),
               bar_chart(analysis.summary[analysis.summary.task_type == "extraction"], subset="all", width=width)]
    for fig in figures:
        assert fig.get_figwidth() == pytest.approx(WIDTHS[width])
        assert tick_overlaps(fig) == [], fig.axes[0].get_title()
        renderer = fig.canvas.get_renderer()
        for legend in fig.legends:  # outside the plot: it never covers an axes
            box = legend.get_window_extent(renderer)
            assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)
            assert box.x0 >= -1 and box.x1 <= fig.bbox.width + 1  # and not clipped at the page edge


def test_tick_overlap_check_sees_a_crowded_axis(analysis):
    """The check itself: long labels forced flat at one column do collide."""
    summary, runs = _many_models(analysis)
    fig = seed_chart(runs, "atsa-rest14", width="single")
    for label in fig.axes[0].get_xticklabels():
        label.set_rotation(0)
        label.set_fontsize(9)
    assert tick_overlaps(fig)


def test_pdf_embeds_truetype_fonts(analysis):
    pdf = figure_bytes(bar_chart(analysis.summary, task="atsa-rest14", width="single"), "pdf")
    # TrueType outlines embedded (fonttype 42: /CIDFontType2 with /FontFile2), never Type 3 bitmaps
    assert b"/FontFile2" in pdf and b"/Subtype /CIDFontType2" in pdf and b"/Type3" not in pdf
    assert b"CreationDate" not in pdf


def test_one_colour_per_model_across_figures(analysis):
    colors = analysis.colors
    assert len(set(colors.values())) == len(colors)
    bars = bar_chart(analysis.summary, task="atsa-rest14", colors=colors)
    seeds = seed_chart(analysis.runs, "atsa-rest14", colors=colors)
    from matplotlib.collections import PathCollection
    from matplotlib.container import BarContainer

    for container in bars.axes[0].containers:
        if isinstance(container, BarContainer):
            assert to_hex(container.patches[0].get_facecolor()) == colors[container.get_label()].lower()
    labels = [t.get_text().replace("\n", "") for t in seeds.axes[0].get_xticklabels()]
    dots = [c for c in seeds.axes[0].collections if isinstance(c, PathCollection)]
    for label, dots_of in zip(labels, dots):
        assert to_hex(dots_of.get_facecolor()[0]) == colors[label].lower()


@pytest.mark.slow
def test_charts_without_data_are_not_drawn_and_the_report_says_why(report_runs, tmp_path, cli):
    runs = tmp_path / "runs"
    for model in ("baseline_lexicon", "baseline_gold"):
        for path in (report_runs / model).glob("atsa-rest14__seed*.json"):
            (runs / model).mkdir(parents=True, exist_ok=True)
            (runs / model / path.name).write_bytes(path.read_bytes())
    res = cli("report", runs, "--out", tmp_path / "out", "--format", "md", "--figures", "png", "--bootstrap", "0")
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (tmp_path / "out" / "figures").iterdir())
    assert names == ["bars-atsa-rest14.png", "confusion-atsa-rest14.png", "drop-atsa-rest14.png",
                     "seeds-atsa-rest14.png"]
    md = (tmp_path / "out" / "report.md").read_text()
    assert "no parameter-count chart for atsa-rest14: no run records a parameter count" in md
    assert "no cost chart for atsa-rest14: no run records a cost" in md
