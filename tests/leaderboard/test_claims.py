"""Every claim in a bundle is checked, not only its scores: bundles the tests build with one claim
broken (copied seeds, renamed model, relabelled protocol, edited task definition, bidi name, gold
outputs under a model's name) are each refused with one line naming the claim."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path

import pytest

from fsabench.leaderboard.submission import SubmissionError
from tests.conftest import DATA_DIR, DroppingGold

LIMIT = 40
BOARD = """name: mini
title: Mini board
tasks: [atsa-rest14]
metric: f1
subsets: [all, implicit, multi, hard]
allow_partial: true
categories:
  fine-tuned: {label: Fine-tuned, protocols: [fine-tuned], min_seeds: 2, same_model: false, require_audit: true}
  zero-shot: {label: Zero-shot LLM, protocols: [zero-shot], require_audit: true}
  few-shot: {label: Few-shot LLM, protocols: [few-shot]}
  baseline: {label: Baseline, protocols: [baseline], ranked: false}
"""


class ChatDropper(DroppingGold):
    """DroppingGold as an instruction model: it is sent chat prompts (so its runs are zero/few-shot)."""

    prompt_style = "chat"


def make_board(root: Path) -> Path:
    (root / "mini" / "submissions").mkdir(parents=True, exist_ok=True)
    (root / "mini" / "leaderboard.yaml").write_text(BOARD, encoding="utf-8")
    return root


@lru_cache(maxsize=None)
def _board(root: str):
    from fsabench.leaderboard.spec import load_leaderboard

    return load_leaderboard("mini", root)


def verifier(root: Path):
    from fsabench.leaderboard.verify import Verifier

    return Verifier(_board(str(root)), DATA_DIR)


@lru_cache(maxsize=None)
def run(adapter_kind: str, name: str, seed: int, shots: int = 0, drop: float = 0.3):
    """One real run of atsa-rest14 (first LIMIT test examples) through a test adapter or a baseline."""
    from fsabench.models import load_model
    from fsabench.runner import RunOptions, run_task
    from fsabench.tasks.registry import build_registry

    spec = build_registry().spec("atsa-rest14")
    if adapter_kind == "baseline":
        adapter = load_model(name)
    else:
        cls = ChatDropper if adapter_kind == "chat" else DroppingGold
        adapter = cls(name, drop=drop, parameters=1000, cost=None, seed=seed)
    return run_task(spec, adapter, DATA_DIR, RunOptions(limit=LIMIT, seed=seed, num_shots=shots))


def bundle(results, category: str, name: str = "Entry") -> dict:
    from fsabench.leaderboard.submission import EntryInfo, build_bundle, bundle_json

    entry = EntryInfo(name=name, category=category, date=dt.date(2026, 1, 2))
    return json.loads(bundle_json(build_bundle("mini", entry, list(results))))


def refused(root: Path, payload: dict) -> str:
    with pytest.raises(SubmissionError) as info:
        verifier(root).verify_bytes(json.dumps(payload).encode(), "bundle.json")
    message = str(info.value)
    assert "\n" not in message  # one line
    return message


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return make_board(tmp_path_factory.mktemp("boards"))


def test_honest_bundles_pass_and_say_what_was_verified(root):
    fine = verifier(root).verify_bytes(json.dumps(bundle(
        [run("raw", "hf:./student", 1), run("raw", "hf:./student", 2)], "fine-tuned")).encode(), "ft")
    zero = verifier(root).verify_bytes(json.dumps(bundle([run("chat", "hf:./llm", 0)], "zero-shot")).encode(), "zs")
    few = verifier(root).verify_bytes(json.dumps(bundle([run("chat", "hf:./llm", 3, shots=2)], "few-shot")).encode(), "fs")
    assert fine.row["partial"] == {"atsa-rest14": [LIMIT, 1140]}  # --limit runs are accepted and labelled
    claims = {c["claim"]: c["status"] for c in zero.row["claims"]}
    assert claims["protocol"] == claims["task definition"] == claims["scores"] == "verified"
    assert claims["parameters"] == claims["cost"] == claims["license"] == "claimed"
    assert few.results[0].protocol == "few-shot" and not fine.row["flags"]


def test_copied_seeds_are_refused(root):
    one = bundle([run("raw", "hf:./student", 1)], "fine-tuned")
    copy = json.loads(json.dumps(one["runs"][0]))
    copy["seed"] = 2
    one["runs"].append(copy)
    assert "seeds: atsa-rest14 seeds 1 and 2 give identical outputs on all 40 examples" in refused(root, one)


def test_a_collapsed_model_is_flagged_not_refused_but_one_checkpoint_twice_is(root):
    # two distinct checkpoints that both answer "" to everything: a collapsed model, shown with a flag
    collapsed = verifier(root).verify_bytes(json.dumps(bundle(
        [run("raw", "hf:./ckpt-a", 1, drop=1.0), run("raw", "hf:./ckpt-b", 2, drop=1.0)], "fine-tuned")).encode(), "c")
    assert "1 of 1 seed pairs answer one and the same constant string to all 40 examples" in collapsed.row["flags"][0]
    # the same checkpoint under two seeds is one run, whatever it answers
    same = bundle([run("raw", "hf:./ckpt-a", 1, drop=1.0), run("raw", "hf:./ckpt-a", 2, drop=1.0)], "fine-tuned")
    assert "give identical outputs on all 40 examples" in refused(root, same)


def test_renamed_model_is_refused(root):
    # baseline:gold answers renamed to an API model and relabelled zero-shot: raw input is never zero-shot
    gold = bundle([run("baseline", "baseline:gold", 0)], "zero-shot", name="GPT-5")
    gold["runs"][0].update(protocol="zero-shot")
    gold["runs"][0]["model"].update(name="litellm:openai/gpt-5", scheme="litellm", identity={"model": "openai/gpt-5"})
    assert "protocol: 'zero-shot' but the model was sent the bare sentence" in refused(root, gold)
    # the name alone changed: it no longer agrees with the scheme the run recorded
    renamed = bundle([run("baseline", "baseline:gold", 0)], "baseline")
    renamed["runs"][0]["model"]["name"] = "litellm:openai/gpt-5"
    assert "model identity: model name 'litellm:openai/gpt-5' has scheme 'litellm'" in refused(root, renamed)
    # baseline:gold calling itself baseline:lexicon
    lexicon = bundle([run("baseline", "baseline:gold", 0)], "baseline")
    lexicon["runs"][0]["model"]["name"] = "baseline:lexicon"
    assert "its identity records baseline 'gold'" in refused(root, lexicon)
    # one run of a two-seed entry renamed to another model
    two = bundle([run("chat", "hf:./llm", 0), run("chat", "hf:./llm", 3, shots=0)], "zero-shot")
    two["runs"][1]["model"].update(name="hf:./other-llm", identity={"test": "hf:./other-llm"})
    assert "model identity: category 'zero-shot' needs one model in every run" in refused(root, two)


def test_gold_answers_under_a_model_name_are_refused(root):
    perfect = bundle([run("chat", "hf:./oracle", 0, drop=0.0)], "zero-shot")
    assert "outputs: every prediction equals the gold on all 40 examples" in refused(root, perfect)


def test_relabelled_protocol_is_refused(root):
    zero = bundle([run("chat", "hf:./llm", 0)], "few-shot")
    zero["runs"][0]["protocol"] = "few-shot"
    assert "protocol: 'few-shot' but the run used no shots" in refused(root, zero)
    few = bundle([run("chat", "hf:./llm", 3, shots=2)], "zero-shot")
    few["runs"][0].update(protocol="zero-shot", meta={**few["runs"][0]["meta"], "num_shots": 0})
    assert "protocol: the recorded prompts are not the task's prompts with 0 shots" in refused(root, few)
    raw = bundle([run("raw", "hf:./student", 1)], "zero-shot")
    raw["runs"][0]["protocol"] = "zero-shot"
    assert "never zero- or few-shot" in refused(root, raw)
    model_as_baseline = bundle([run("raw", "hf:./student", 1)], "baseline")
    model_as_baseline["runs"][0]["protocol"] = "baseline"
    assert "protocol 'baseline' is for baseline: models only" in refused(root, model_as_baseline)


def test_edited_task_definition_is_refused(root):
    edited = bundle([run("chat", "hf:./llm", 0)], "zero-shot")
    edited["runs"][0]["task"]["definition"]["metric"] = "accuracy"
    assert "task definition: the recorded definition does not hash" in refused(root, edited)
    rehashed = bundle([run("chat", "hf:./llm", 0)], "zero-shot")
    definition = rehashed["runs"][0]["task"]["definition"]
    definition["max_new_tokens"] = 7
    from fsabench.leaderboard.claims import definition_sha256

    rehashed["runs"][0]["task"]["sha256"] = definition_sha256(definition)
    assert "task definition: field 'max_new_tokens' differs from the leaderboard's atsa-rest14" in refused(root, rehashed)


@pytest.mark.parametrize("field,value,expected", [
    ("name", "Best\u202emodel", "bidi control U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("name", "Best\u2067model", "bidi control U+2067 (RIGHT-TO-LEFT ISOLATE)"),
    ("base_model", "t5\u200bbase", "zero-width/format character U+200B (ZERO WIDTH SPACE)"),
    ("license", "mit\x07", "control character U+0007"),
    ("notes", "great\u2066 model", "bidi control U+2066"),
])
def test_invisible_characters_in_names_and_free_text_are_refused(root, field, value, expected):
    payload = bundle([run("chat", "hf:./llm", 0)], "zero-shot")
    payload["entry"][field] = value
    message = refused(root, payload)
    assert expected in message and f"entry.{field}" in message


def test_invisible_characters_in_a_run_model_name_are_refused(root):
    payload = bundle([run("chat", "hf:./llm", 0)], "zero-shot")
    payload["runs"][0]["model"]["name"] = "hf:./l\u200dlm"
    assert "field 'runs.0.model.name' holds zero-width/format character U+200D" in refused(root, payload)


def test_cli_submit_refuses_a_bidi_name_in_one_line(root, tmp_path, cli):
    from fsabench.results import save_result

    save_result(run("chat", "hf:./llm", 0), tmp_path / "runs" / "run.json")
    res = cli("leaderboard", "submit", tmp_path / "runs", "--leaderboard", "mini", "--leaderboards-dir", root,
              "--name", "Evil\u202egnp.exe", "--category", "zero-shot", "-o", tmp_path / "out.json")
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "bidi control U+202E" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out.json").exists()


def test_old_bundle_versions_are_refused(root):
    payload = bundle([run("chat", "hf:./llm", 0)], "zero-shot")
    payload["bundle_version"] = 1
    assert "bundle_version 1 is not 2" in refused(root, payload)


def test_identical_outputs_under_two_names_are_flagged_and_baselines_are_not_ranked(root):
    from fsabench.leaderboard.site import table_rows

    rows = []
    for name in ("Model A", "Model A renamed"):
        verified = verifier(root).verify_bytes(json.dumps(bundle([run("chat", "hf:./llm", 0)], "zero-shot", name)).encode(), name)
        verified.row.update(slug=verified.slug, audit={"status": "passed", "badge": "audited"})
        rows.append(verified.row)
    base = verifier(root).verify_bytes(json.dumps(bundle([run("baseline", "baseline:lexicon", 0)], "baseline", "Lex")).encode(), "b")
    rows.append({**base.row, "slug": base.slug})
    table = {r["name"]: r for r in table_rows(_board(str(root)), rows)}
    assert "identical outputs to Model A renamed" in table["Model A"]["flags"]
    assert "identical outputs to Model A" in table["Model A renamed"]["flags"]
    assert table["Lex"]["rank"] is None and table["Lex"]["standing"] == "reference"
    assert table["Model A"]["rank"] == table["Model A renamed"]["rank"] == 1  # same score, same rank


def test_verify_with_nothing_to_verify_exits_1_naming_where_it_looked(tmp_path, cli):
    root = make_board(tmp_path / "boards")
    res = cli("leaderboard", "verify", "--leaderboards-dir", root)
    assert res.returncode == 1
    assert f"nothing to verify: no submission files in {root / 'mini' / 'submissions'}" in res.stderr
