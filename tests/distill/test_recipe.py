"""Recipes: the shipped tiny recipe, shortened, end to end through the CLI (corpus from the real
teacher file, tiny student, pretraining, 2-seed fine-tuning, RunResults), stage skipping, the
no-pretrain ablation on 2 local worker processes, and strict recipe validation."""

from __future__ import annotations

import json

import pytest

from fsabench.results import load_result

SHORT = ["--set", "student.tiny.vocab_size=600", "--set", "pretrain.steps=4", "--set", "pretrain.batch_size=8",
         "--set", "pretrain.micro_batch_size=4", "--set", "pretrain.max_target_tokens=64",
         "--set", "pretrain.save_every=2", "--set", "pretrain.eval_every=2", "--set", "finetune.epochs=1",
         "--set", "finetune.train_limit=64", "--set", "finetune.dev_limit=16", "--set", "finetune.test_limit=24"]


@pytest.mark.slow
def test_tiny_recipe_end_to_end_then_skips_finished_stages_then_ablation(cli, tmp_path):
    out = tmp_path / "tiny"
    first = cli("distill", "recipe", "tiny.yaml", "--out", out, *SHORT, "--workers", "1", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["corpus"]["responses"] == 500 and summary["corpus"]["cut"] == {}  # raw teacher text, as paper.yaml
    assert summary["student"] == f"hf:{out / 'student'}"
    seconds = summary["stage_seconds"]  # what the recipe's wall time is made of (issue 26)
    assert list(seconds) == ["corpus", "contamination", "student", "pretrain", "finetune"]
    assert all(v["wall"] >= 0 and v["cpu"] >= 0 for v in seconds.values())
    pretrain = json.loads((out / "student" / "pretrain.json").read_text())
    assert pretrain["complete"] and pretrain["steps"] == 4 and len(pretrain["valid"]) == 2
    task = summary["finetune"]["tasks"]["atsa-rest14"]
    assert task["seeds"] == [42, 52]
    for path in task["results"]:
        result = load_result(path)
        assert result.protocol == "fine-tuned" and len(result.examples) == 24
        distill = result.meta["distill"]  # what the report's paper sections read
        assert distill["ablation"] is None and distill["student"] == summary["student"]
        assert distill["corpus"]["responses"] == 500 and distill["corpus"]["teacher"] == "mixtral"
        assert distill["corpus"]["prompts"] == ["analysis", "rewrite"]
        leak = result.meta["contamination"]  # the teacher corpus holds 3 sentences of the restaurant hard set
        assert leak["ngram"] == 13 and leak["overlapping"]["hard"] == summary["contamination"]["atsa-rest14"] == 3
        assert leak["clean"]["n"] == 24 - len(set(leak["ids"]) & {r.id for r in result.examples})

    again = cli("distill", "recipe", "tiny.yaml", "--out", out, *SHORT, "--workers", "1")
    assert again.returncode == 0, again.stderr
    for stage in ("corpus", "student", "pretrain"):
        assert f"{stage}: " in again.stderr and "skipping" in again.stderr
    assert "skipped (result exists)" in again.stderr

    changed = cli("distill", "recipe", "tiny.yaml", "--out", out, *SHORT, "--set", "pretrain.lr=0.1", "-q")
    assert changed.returncode == 1 and "stage 'pretrain' ran with other settings (changed: lr)" in changed.stderr

    ablation = cli("distill", "recipe", "tiny.yaml", "--out", out, *SHORT, "--ablation", "no-pretrain",
                   "--workers", "2", "--keep", "--json")
    assert ablation.returncode == 0, ablation.stderr
    result = json.loads(ablation.stdout)
    assert result["student"] == f"hf:{out / 'student-init'}" and result["ablation"] == "no-pretrain"
    assert (out / "summary-no-pretrain.json").is_file()
    ablated = [load_result(p) for p in result["finetune"]["tasks"]["atsa-rest14"]["results"]]
    assert {r.meta["distill"]["ablation"] for r in ablated} == {"no-pretrain"}
    assert len(list((out / "finetune-no-pretrain").rglob("best"))) == 2  # --keep kept both checkpoints


def test_recipe_errors_name_the_field(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncorpus: {import: [a.jsonl]}\nstudent: {model: hf:x}\npretrain: {stepz: 3}\n")
    res = cli("distill", "recipe", bad, "--out", tmp_path / "o")
    assert res.returncode == 1
    assert res.stderr.strip() == f"error: {bad}: unknown key 'pretrain.stepz' " \
                                 "(fix: remove it or fix its spelling; see docs/distill.md for the recipe schema)"
    missing = cli("distill", "recipe", "nope.yaml")
    assert missing.returncode == 1 and "shipped recipe: paper, tiny" in missing.stderr


def test_shipped_recipes_validate_and_a_changed_stage_is_refused(tmp_path):
    from fsabench.distill.recipe import load_recipe
    from fsabench.distill.stages import guard
    from fsabench.errors import FsabenchError

    paper, _ = load_recipe("paper.yaml")
    assert paper.student.model == "hf:google-t5/t5-base" and paper.pretrain.steps == 200_000
    assert paper.pretrain.lr == 1.5e-3 and paper.finetune.seeds == [42, 52, 62, 72, 82, 142, 152, 162, 172, 182]
    assert paper.finetune.executor == "ray" and paper.finetune.tasks == ["fsa"]
    tiny, _ = load_recipe("tiny", ["finetune.epochs=3"])
    assert tiny.finetune.epochs == 3 and tiny.finetune.seeds == [42, 52]
    tiny, _ = load_recipe("tiny")  # the faithful settings at a small size (issue 26)
    assert tiny.pretrain.batching == paper.pretrain.batching == "random" and tiny.corpus.filters == paper.corpus.filters
    assert tiny.pretrain.max_target_tokens == paper.pretrain.max_target_tokens and tiny.finetune.config().dev_limit is None
    guard(tmp_path, "pretrain", {"steps": 4, "lr": 0.1})
    guard(tmp_path, "pretrain", {"steps": 4, "lr": 0.1})
    with pytest.raises(FsabenchError, match=r"changed: lr"):
        guard(tmp_path, "pretrain", {"steps": 4, "lr": 0.2})


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_recipe_on_two_processes_rank0_builds_and_finetunes_all_pretrain(tmp_path):
    """`accelerate launch` / torchrun on 2 CPU processes (gloo): rank 0 alone builds the corpus and the student
    and fine-tunes; both ranks pretrain one model together (data parallel), waiting between stages."""
    import subprocess
    import sys

    out = tmp_path / "dist"
    # torch.distributed.run is what `accelerate launch` runs for several processes: the same env contract
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(free_port()), "-m", "fsabench.cli", "distill", "recipe", "tiny.yaml", "--output", str(out), *SHORT,
               "--set", "finetune.seeds=[42]", "--set", "finetune.test_limit=8", "--set", "finetune.dev_limit=8",
               "--set", "finetune.train_limit=32", "--workers", "1"]
    res = subprocess.run(command, capture_output=True, text=True, timeout=600)
    log = res.stderr
    assert res.returncode == 0, log[-3000:]
    assert "rank 0: corpus: imported 500 responses" in log and "rank 1: corpus" not in log
    assert "rank 0: student: building" in log and "rank 1: student" not in log
    assert "rank 0: pretrain: 4 steps" in log and "rank 1: pretrain: 4 steps" in log
    assert "rank 1: pretraining done; rank 0 fine-tunes" in log
    pretrain = json.loads((out / "student" / "pretrain.json").read_text())
    assert pretrain["processes"] == 2 and 2 * pretrain["micro_batch_size"] * pretrain["accumulation"] == 8
    assert [p.name for p in (out / "results").rglob("*.json")] == ["atsa-rest14__seed42.json"]
