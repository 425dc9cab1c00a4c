"""Submissions are re-scored from their own outputs; every tampered bundle is rejected with a reason."""

from __future__ import annotations

import json

import pytest

from fsabench.leaderboard.submission import SubmissionError
from tests.leaderboard.support import boards_dir, good_bundle, good_bundle_text, lexicon_runs, verifier


def _gold_outputs(bundle: dict) -> None:
    """Edit run 0's outputs into the gold answers, keeping the old (lower) claimed scores."""
    gold = {e.id: e.target for e in verifier().split(bundle["runs"][0]["task"]["name"]).examples}
    for example in bundle["runs"][0]["examples"]:
        example["output"] = gold[example["id"]]


def _set(path: str, value):
    def mutate(bundle: dict) -> None:
        *parents, last = path.split(".")
        node = bundle
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    return mutate


def _bump_score(bundle: dict) -> None:
    bundle["runs"][0]["scores"]["all"]["f1"] = round(bundle["runs"][0]["scores"]["all"]["f1"] + 0.01, 2)


def _fine_tuned_one_seed(bundle: dict) -> None:
    bundle["entry"]["category"] = "fine-tuned"
    for run in bundle["runs"]:  # a consistent fine-tuned model (raw prompts), but one seed
        run["protocol"] = "fine-tuned"
        run["model"].update(name="hf:./student", scheme="hf")


# (case, mutation, words the rejection must contain)
TAMPERED = [
    ("changed score", _bump_score, "subset 'all' f1: claimed"),
    ("edited outputs, old scores", _gold_outputs, "re-computed from the outputs"),
    ("missing example", lambda b: b["runs"][0]["examples"].pop(), "test examples are missing"),
    ("duplicated example", lambda b: b["runs"][0]["examples"].append(b["runs"][0]["examples"][0]), "appears 2 times"),
    ("unknown example", lambda b: b["runs"][0]["examples"][0].update(id="no-such-id"), "is not in the"),
    ("wrong task hash", _set("runs.0.task.sha256", "0" * 64), "does not hash to the recorded sha256 000000000000"),
    ("wrong data hash", lambda b: b["runs"][1]["task"]["data"].update(
        {k: "f" * 64 for k in b["runs"][1]["task"]["data"]}), "differs from the leaderboard's"),
    ("html in model name", _set("entry.name", "<b>Best</b> model"), "holds HTML markup"),
    ("script in model name", _set("entry.name", "x<script>alert(1)</script>"), "holds HTML markup"),
    ("html in run model name", _set("runs.2.model.name", "baseline:<img src=x onerror=alert(1)>"), "holds HTML markup"),
    ("control character", _set("entry.name", "Lexicon\x1bbaseline"), "control character U+001B"),
    ("invisible character", _set("entry.base_model", "t5\u202ebase"), "bidi control U+202E"),
    ("javascript link", _set("entry.link", "javascript:alert(1)"), "is not a plain http(s) URL"),
    ("oversized output", _set("runs.0.examples.0.output", "x" * 20_001), "over the limit of 20,000"),
    ("unknown category", _set("entry.category", "oracle"), "is not one of fine-tuned"),
    ("protocol breaks category", _set("entry.category", "zero-shot"), "has protocol 'baseline'"),
    ("too few seeds", _fine_tuned_one_seed, "needs 5 seeds per task"),
    ("missing task", lambda b: b["runs"].pop(), "no run for task"),
    ("repeated seed", lambda b: b["runs"].append(b["runs"][0]), "has two runs with seed 0"),
    ("incomplete run", _set("runs.3.complete", False), "marked incomplete"),
    ("other leaderboard", _set("leaderboard", "sentibench"), "not 'fsa'"),
    ("extra field", _set("entry.verified", True), "unknown key 'entry.verified'"),
]


@pytest.mark.parametrize("case,mutate,expected", TAMPERED, ids=[t[0] for t in TAMPERED])
def test_tampered_bundle_is_rejected(case, mutate, expected):
    bundle = good_bundle()
    mutate(bundle)
    with pytest.raises(SubmissionError) as info:
        verifier().verify_bytes(json.dumps(bundle).encode(), "bundle.json")
    assert expected in str(info.value), str(info.value)
    assert str(info.value).startswith("bundle.json: ")


def test_untampered_bundle_is_accepted_and_rescored():
    verified = verifier().verify_bytes(good_bundle_text().encode(), "bundle.json")
    assert verified.slug == "lexicon-baseline"
    assert [r.task.name for r in verified.results] == ["atsa-rest14", "atsa-laptop14", "acsa-rest16", "acsa-laptop16"]
    # the re-scored records carry the leaderboard's gold, not anything from the bundle
    assert all(r.examples[0].gold is not None and r.examples[0].target for r in verified.results)
    row = verified.row
    assert row["score"] == round(sum(row["tasks"][t]["all"]["mean"] for t in row["tasks"]) / 4, 2)
    assert 20 < row["score"] < 60


def test_not_json_and_nan_are_rejected():
    with pytest.raises(SubmissionError, match="not valid JSON"):
        verifier().verify_bytes(b'{"kind": "fsabench-leaderboard-submission", "x": NaN}', "b.json")
    with pytest.raises(SubmissionError, match="not a leaderboard submission"):
        verifier().verify_bytes(b"[]", "b.json")


def test_oversized_file_is_rejected_before_parsing(tmp_path):
    limit = verifier().board.spec.limits.max_submission_bytes
    path = tmp_path / "big.json"
    with path.open("wb") as handle:
        handle.write(good_bundle_text().encode())
        handle.truncate(limit + 1)  # sparse padding: one byte over the limit, no JSON parse needed
    with pytest.raises(SubmissionError, match=f"over the limit of {limit:,}"):
        verifier().verify_file(path)


def test_submit_and_verify_cli(tmp_path, cli):
    lb = boards_dir(tmp_path)
    res = cli("leaderboard", "submit", lexicon_runs(), "--leaderboard", "fsa", "--name", "Lexicon baseline",
              "--category", "baseline", "--license", "Apache-2.0", "--leaderboards-dir", lb)
    assert res.returncode == 0, res.stderr
    assert "accepted: Lexicon baseline (baseline) Avg F1" in res.stdout
    path = lb / "fsa" / "submissions" / "lexicon-baseline.json"
    assert path.is_file()
    res = cli("leaderboard", "verify", "--leaderboards-dir", lb)
    assert res.returncode == 0 and "1 accepted, 0 rejected" in res.stdout, res.stdout + res.stderr

    bundle = json.loads(path.read_text())
    bundle["runs"][0]["scores"]["all"]["f1"] += 1
    path.write_text(json.dumps(bundle))
    res = cli("leaderboard", "verify", path, "--leaderboards-dir", lb)
    assert res.returncode == 1
    assert "REJECTED" in res.stdout and "re-computed from the outputs" in res.stdout, res.stdout

    res = cli("leaderboard", "submit", lexicon_runs(), "--leaderboard", "fsa", "--name", "Lexicon <i>baseline</i>",
              "--category", "baseline", "--leaderboards-dir", lb)
    assert res.returncode == 1 and "holds HTML markup" in res.stderr and "Traceback" not in res.stderr


def test_renamed_submission_file_is_rejected(tmp_path):
    lb = boards_dir(tmp_path)
    path = lb / "fsa" / "submissions" / "best-model-ever.json"
    path.write_text(good_bundle_text())
    with pytest.raises(SubmissionError, match="file name should be lexicon-baseline.json"):
        verifier().verify_file(path)


def test_shipped_submissions_verify():
    """What the maintainers' CI runs (`fsabench leaderboard verify`) on the entries this repository ships."""
    from tests.conftest import ROOT

    from fsabench.leaderboard.submission import bundle_files, bundle_slug

    files = bundle_files(ROOT / "leaderboards" / "fsa" / "submissions")
    assert {bundle_slug(f) for f in files} >= {"lexicon-baseline", "empty-baseline"}
    rows = {bundle_slug(f): verifier().verify_file(f).row for f in files}
    assert rows["empty-baseline"]["score"] == 0.0 and rows["lexicon-baseline"]["category"] == "baseline"
    # the real entries, each built by run + submit + audit (issue 13), and each audit checked against its bundle
    assert {"smollm2-135m-instruct-zero-shot", "smollm2-135m-instruct-4-shot"} <= set(rows)
    # the 5-seed tiny students ship gzipped (2.4 MB of JSON each; the repository takes no file over 1 MB)
    tiny = ("tiny-distilled-t5-small-scale", "tiny-t5-no-distillation-pretraining-small-scale-ablation")
    assert all(any(f.name == f"{slug}.json.gz" for f in files) for slug in tiny)
    assert all(rows[slug]["seeds"] == [42, 52, 62, 72, 82] and rows[slug]["category"] == "fine-tuned" for slug in tiny)
    assert all(row["audit"] and row["audit"]["status"] == "passed" for row in rows.values())
    assert rows["smollm2-135m-instruct-zero-shot"]["partial"] == rows["smollm2-135m-instruct-4-shot"]["partial"] == {}
