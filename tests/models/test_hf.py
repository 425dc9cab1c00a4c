"""`hf:<path>` end to end: a tiny T5 trained on atsa-rest14 for about a minute, run through the CLI,
and its scores equal `fsabench score` on the same outputs."""

import json

import pytest

from fsabench.results import load_result
from tests.conftest import read_train


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


def _answers(adapter, requests, static: bool, monkeypatch) -> list[tuple]:
    monkeypatch.setenv("FSABENCH_STATIC_GENERATE", "1" if static else "0")
    return [(c.text, c.prompt_tokens, c.completion_tokens) for c in adapter.generate(requests)]


# the random tiny T5 says <pad> at every step whatever its prompt: the trained one (slow to build, cached) it is
@pytest.mark.parametrize("fixture", [pytest.param("trained_tiny_t5", marks=pytest.mark.slow), "tiny_llama"])
def test_hf_generate_through_the_stepper_equals_static_batches(fixture, request, monkeypatch):
    """Continuous batching (`generate`'s default for T5 and verified causal families) answers exactly as the
    static sorted batches (FSABENCH_STATIC_GENERATE=1): text, prompt and completion tokens, with mixed
    budgets, stop strings and rows ending at EOS at different steps; a model in train mode (fine-tuning
    decodes dev with it) decodes in eval mode and is back in train mode after."""
    from fsabench.models import load_model
    from fsabench.models.base import Request
    from fsabench.models.hf_continuous import decode_all, new_stepper

    adapter = load_model(f"hf:{request.getfixturevalue(fixture)}", batch_size=4, device="cpu", prompt_style="raw")
    assert adapter._stepper() is not None
    sentences = [r["sentence"] for r in read_train("atsa/rest14")[:18]]
    requests = [Request(id=str(i), prompt=s, max_new_tokens=3 + 4 * (i % 4), stop=["|", "e"] if i % 3 == 0 else [])
                for i, s in enumerate(sentences)]
    static = _answers(adapter, requests, True, monkeypatch)
    if not adapter.seq2seq:  # random weights rarely say EOS: make a token it often says one, so rows end apart
        rows = decode_all(new_stepper(adapter), sentences, [r.max_new_tokens for r in requests], 4, set())
        said = [t for row in rows for t in row.ids[1:] if t not in {r.ids[0] for r in rows}]
        adapter.model.generation_config.eos_token_id = adapter._eos_ids() + [max(set(said), key=said.count)]
        static = _answers(adapter, requests, True, monkeypatch)
    assert len({c for _, _, c in static}) > 3 and any(c < r.max_new_tokens for (_, _, c), r in zip(static, requests))
    seen: list[bool] = []
    hook = adapter.model.get_output_embeddings().register_forward_pre_hook(lambda m, args: seen.append(m.training))
    adapter.model.train()
    assert _answers(adapter, requests, False, monkeypatch) == static
    assert adapter.model.training and seen and not any(seen)
    hook.remove()
