"""`distill recipe R.yaml --sweep corpus.size=...`: one command, the teacher corpus built once, nested
corpora per size, and the paper preset's scaling section drawn from the results."""

from __future__ import annotations

import json

import pytest

from fsabench.distill.scaling import parse_sweep
from fsabench.errors import SpecError

SHORT = ["--set", "student.tiny.vocab_size=600", "--set", "pretrain.steps=2", "--set", "pretrain.batch_size=4",
         "--set", "pretrain.micro_batch_size=4", "--set", "pretrain.max_target_tokens=32",
         "--set", "pretrain.save_every=2", "--set", "pretrain.eval_every=2", "--set", "finetune.epochs=1",
         "--set", "finetune.seeds=[42]", "--set", "finetune.train_limit=16", "--set", "finetune.dev_limit=8",
         "--set", "finetune.test_limit=8", "--set", "finetune.workers=1"]


def test_sweep_text_is_key_and_values():
    assert parse_sweep("corpus.size=50000, 100000") == ("corpus.size", ["50000", "100000"])
    for bad in ("corpus.size", "corpus.size=", "=1,2", "corpus.size=1,1"):
        with pytest.raises(SpecError):
            parse_sweep(bad)


@pytest.mark.slow
def test_corpus_size_sweep_runs_each_size_and_feeds_the_scaling_section(cli, tmp_path):
    out = tmp_path / "sweep"
    res = cli("distill", "recipe", "tiny.yaml", "--sweep", "corpus.size=100,200", "--output", out, *SHORT, "--json",
              timeout=1800)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert [p["responses"] for p in summary["points"]] == [100, 200]
    assert json.loads((out / "sweep.json").read_text()) == summary
    small, big = ({(r["ID"], r["prompt_type"]) for name in ("corpus.jsonl", "valid.jsonl")
                   for r in map(json.loads, (out / f"corpus.size={n}" / "corpus" / name).read_text().splitlines())}
                  for n in (100, 200))
    assert len(small) == 100 and small < big  # nested samples of the one teacher corpus
    assert (out / "corpus" / "report.json").is_file()  # the full corpus, built once
    report = cli("report", out, "--out", tmp_path / "report", "--preset", "paper", "--figures", "none",
                 "--format", "json", "--bootstrap", "0")
    assert report.returncode == 0, report.stderr
    sections = {s["name"]: s for s in json.loads((tmp_path / "report" / "report.json").read_text())["sections"]}
    scaling = sections["scaling"]
    assert not scaling["missing"] and len(scaling["tables"][0]["rows"]) == 2, scaling
