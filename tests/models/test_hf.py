"""`hf:<path>` end to end: a tiny T5 trained on atsa-rest14 for about a minute, run through the CLI,
and its scores equal `fsabench score` on the same outputs."""

import json

import pytest

from fsabench.results import load_result


@pytest.mark.slow
def test_trained_tiny_t5_runs_through_hf_and_scores_like_score(cli, tmp_path, trained_tiny_t5):
    model = f"hf:{trained_tiny_t5}"
    res = cli("run", "--model", model, "--tasks", "atsa-rest14", "--batch-size", "64", "--max-new-tokens", "48",
              "--output", tmp_path, "--json")
    assert res.returncode == 0, res.stderr
    [path] = list(tmp_path.rglob("atsa-rest14.json"))
    result = load_result(path)
    assert result.model.settings["architecture"] == "seq2seq" and result.model.parameters > 100_000
    assert result.model.identity["fingerprint"] and result.protocol == "fine-tuned"
    assert len(result.examples) == 1140
    # it learned the output format: most outputs parse, and it gets some pairs right
    assert result.scores["all"].unparseable < 50
    assert result.scores["all"].n_pred > 0 and result.scores["all"].f1 > 1.0

    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": r.id, "output": r.output}) + "\n" for r in result.examples))
    scored = cli("score", "--task", "atsa-rest14", preds, "--json")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout) == {k: v.model_dump(exclude_none=True) for k, v in result.scores.items()}
    assert json.loads(res.stdout)[0]["scores"] == json.loads(scored.stdout)


@pytest.mark.slow
def test_hf_batch_size_does_not_change_predictions(tiny_t5):
    from fsabench.models import load_model
    from fsabench.models.base import Request

    sentences = ["The food was great.", "Service was slow but friendly and the pasta was cold.", "Nice."] * 3
    requests = [Request(id=str(i), prompt=s, max_new_tokens=12) for i, s in enumerate(sentences)]
    one = [c.text for c in load_model(f"hf:{tiny_t5}", batch_size=1).generate(requests)]
    many = [c.text for c in load_model(f"hf:{tiny_t5}", batch_size=4).generate(requests)]
    assert one == many


def test_hf_missing_model_is_one_line(cli, tmp_path):
    res = cli("run", "-m", f"hf:{tmp_path}/no-such-model", "-t", "atsa-rest14", "-o", tmp_path)
    assert res.returncode == 1 and "no-such-model does not exist" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
