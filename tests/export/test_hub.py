"""`fsabench export hub`: model-index front matter, audit-backed `verified`, .eval_results files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import fsabench
from fsabench.api import export_hub

BOARDS = Path(__file__).resolve().parents[2] / "leaderboards"


@pytest.fixture(scope="module")
def lexicon():
    return fsabench.evaluate("baseline:lexicon", "atsa-rest14")


def front_matter(path: Path) -> dict:
    text = path.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_audited_lexicon_run_is_verified(tmp_path, lexicon):
    """The fsa board's lexicon audit sampled atsa-rest14 outputs that this deterministic run reproduces."""
    export = export_hub(lexicon, tmp_path, leaderboard="fsa", leaderboards_dir=BOARDS, hub_dataset="org/fsa")
    card = front_matter(tmp_path / "README.md")["model-index"][0]
    assert card["name"] == "baseline:lexicon" and export.verified == ["atsa-rest14"]
    result = card["results"][0]
    assert result["dataset"]["type"] == "fsabench/atsa-rest14" and result["dataset"]["split"] == "test"
    f1 = next(m for m in result["metrics"] if m["type"] == "f1" and m["name"].startswith("f1 (all"))
    assert f1["value"] == lexicon[0].scores["all"].f1 and f1["verified"] is True
    assert "audit" in result["source"]["name"]
    entry = yaml.safe_load((tmp_path / ".eval_results" / "atsa-rest14.yaml").read_text())[0]
    assert entry["dataset"] == {"id": "org/fsa", "task_id": "atsa-rest14"} and entry["value"] == f1["value"]


def test_changed_outputs_are_not_verified(tmp_path, lexicon):
    changed = lexicon[0].model_copy(deep=True)
    for record in changed.examples:
        record.output = (record.output or "") + " "
    export = export_hub(changed, tmp_path, leaderboard="fsa", leaderboards_dir=BOARDS)
    card = front_matter(tmp_path / "README.md")["model-index"][0]
    assert export.verified == [] and all(not m["verified"] for r in card["results"] for m in r["metrics"])
    assert not (tmp_path / ".eval_results").exists()


def test_two_models_are_refused(tmp_path, lexicon):
    empty = fsabench.evaluate("baseline:empty", "atsa-rest14", limit=5)
    with pytest.raises(fsabench.FsabenchError, match="the results hold 2 models"):
        export_hub([lexicon[0], empty[0]], tmp_path)
