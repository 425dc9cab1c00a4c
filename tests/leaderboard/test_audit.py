"""Audit by reproduction, end to end with the real commands: `fsabench run`, `leaderboard submit`,
`leaderboard audit`, `leaderboard build`. A bundle made by the model it names passes; a bundle whose
outputs came from another model (relabelled as the audited one) fails and is marked on the site.
Once with a local `hf:` tiny T5, once with that model behind `fsabench serve` and `openai-compat:`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import read_train
from tests.leaderboard.support import free_port

BOARD = """name: mini
title: Mini board
tasks: [atsa-rest14]
metric: f1
subsets: [all, implicit, multi, hard]
allow_partial: true
categories:
  fine-tuned: {label: Fine-tuned, protocols: [fine-tuned], min_seeds: 1, same_model: false, require_audit: true}
"""
RUN = ["-t", "atsa-rest14", "--limit", "12", "--max-new-tokens", "8", "-q"]


def talkative_t5(out: Path, seed: int) -> Path:
    """A tiny random T5 that never emits a special token, so it answers text (a random T5 otherwise
    answers "" to everything, and two of them would be indistinguishable)."""
    import torch
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    from fsabench.tiny import build_tiny_t5

    texts = [r["sentence"] for r in read_train("atsa/rest14")]
    path = build_tiny_t5(texts, out, seed=seed)
    model = T5ForConditionalGeneration.from_pretrained(path)
    with torch.no_grad():
        for token in AutoTokenizer.from_pretrained(path).all_special_ids:
            model.lm_head.weight[token] = 0.0
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory) -> Path:
    return talkative_t5(tmp_path_factory.mktemp("model_a"), seed=0)


@pytest.fixture(scope="module")
def other_t5(tmp_path_factory) -> Path:
    """A second tiny T5 (other weights): the model the dishonest bundle's outputs really came from."""
    return talkative_t5(tmp_path_factory.mktemp("model_b"), seed=7)


def board(tmp_path: Path) -> Path:
    (tmp_path / "boards" / "mini" / "submissions").mkdir(parents=True)
    (tmp_path / "boards" / "mini" / "leaderboard.yaml").write_text(BOARD, encoding="utf-8")
    return tmp_path / "boards"


def only_result(folder: Path) -> Path:
    (path,) = folder.rglob("*.json")
    return path


def relabel(real: Path, claimed: Path) -> None:
    """Give the run in `real` the model record of the run in `claimed` (outputs untouched)."""
    payload, model = json.loads(real.read_text()), json.loads(claimed.read_text())["model"]
    payload["model"] = model
    real.write_text(json.dumps(payload))


def submit_and_audit(cli, boards: Path, runs: Path, name: str) -> subprocess.CompletedProcess:
    res = cli("leaderboard", "submit", runs, "-l", "mini", "--leaderboards-dir", boards, "--name", name,
              "--category", "fine-tuned")
    assert res.returncode == 0, res.stderr  # every checkable claim holds: only reproduction can tell
    slug = name.lower().replace(" ", "-")
    return cli("leaderboard", "audit", boards / "mini" / "submissions" / f"{slug}.json", "--sample", "8", "--seed", "3")


def check_site(cli, boards: Path, out: Path, passed: str, failed: str) -> None:
    res = cli("leaderboard", "build", "mini", "--leaderboards-dir", boards, "-o", out)
    assert res.returncode == 0, res.stderr
    html = (out / "index.html").read_text()
    assert "audited: 8/8 identical" in html and "audit FAILED: " in html
    page = (out / "models" / f"{failed}.html").read_text()
    assert "audit failed, not ranked" in page
    assert "rank 1" in (out / "models" / f"{passed}.html").read_text()


@pytest.mark.slow
def test_hf_audit_passes_for_the_real_model_and_fails_for_another_models_outputs(tiny_t5, other_t5, tmp_path, cli):
    boards = board(tmp_path)
    assert cli("run", "-m", f"hf:{tiny_t5}", *RUN, "-o", tmp_path / "a").returncode == 0
    good = submit_and_audit(cli, boards, tmp_path / "a", "Tiny A")
    assert good.returncode == 0, good.stderr
    assert "audited: 8/8 identical" in good.stdout
    audit = json.loads((boards / "mini" / "audits" / "tiny-a.json").read_text())
    assert audit["passed"] and audit["n"] == audit["identical"] == 8 and audit["agreement_f1"] in (None, 100.0)
    assert audit["f1_submitted"] == audit["f1_reproduced"]

    assert cli("run", "-m", f"hf:{other_t5}", *RUN, "-o", tmp_path / "b").returncode == 0
    relabel(only_result(tmp_path / "b"), only_result(tmp_path / "a"))  # B's outputs, claimed as A's
    bad = submit_and_audit(cli, boards, tmp_path / "b", "Tiny A again")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "audit failed: " in bad.stderr and "Traceback" not in bad.stderr
    assert json.loads((boards / "mini" / "audits" / "tiny-a-again.json").read_text())["passed"] is False
    check_site(cli, boards, tmp_path / "site", passed="tiny-a", failed="tiny-a-again")


def wait_until_up(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"fsabench serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not come up")


@pytest.mark.slow
def test_openai_compat_audit_through_fsabench_serve(tiny_t5, other_t5, tmp_path, cli):
    port = free_port()
    exe = Path(sys.executable).parent / "fsabench"
    proc = subprocess.Popen([str(exe), "serve", "--model", f"hf:{tiny_t5}", "--name", "student", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=os.environ.copy())
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_up(url, proc)
        boards = board(tmp_path)
        model = f"openai-compat:{url}#student"
        res = cli("run", "-m", model, "--prompt-style", "raw", *RUN, "-o", tmp_path / "a")
        assert res.returncode == 0, res.stderr
        good = submit_and_audit(cli, boards, tmp_path / "a", "Served A")
        assert good.returncode == 0 and "audited: 8/8 identical" in good.stdout, good.stderr

        assert cli("run", "-m", f"hf:{other_t5}", *RUN, "-o", tmp_path / "b").returncode == 0
        relabel(only_result(tmp_path / "b"), only_result(tmp_path / "a"))  # another model's outputs as "served A"
        bad = submit_and_audit(cli, boards, tmp_path / "b", "Served A again")
        assert bad.returncode == 1 and "audit failed: " in bad.stderr, bad.stderr
        check_site(cli, boards, tmp_path / "site", passed="served-a", failed="served-a-again")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
