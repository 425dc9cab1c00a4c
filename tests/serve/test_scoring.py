"""Prompt scoring on `fsabench serve` (echo + logprobs, token-id prompts) and GET /v1/models/{id}:
lm-eval's `local-completions` likelihood requests answered as `hf:` likelihood scores them."""

from __future__ import annotations

import math

import pytest

from fsabench.models import load_model
from fsabench.models.base import Request
from fsabench.models.hf import _choice_tokens, _sum_logprobs
from fsabench.serve import start_server
from tests.conftest import DATA_DIR
from tests.serve.test_app import post

LIMIT = 12


@pytest.fixture(scope="module")
def served_llama(tiny_llama):
    adapter = load_model(f"hf:{tiny_llama}", batch_size=8, device="cpu")
    server = start_server(adapter, served_name="tiny")
    yield adapter, server
    server.shutdown()


def lmeval_payload(ids: list, **extra) -> dict:
    """What lm-eval's local-completions sends for loglikelihood (openai_completions._create_payload)."""
    return {"model": "tiny", "prompt": ids, "temperature": 0, "max_tokens": 1, "logprobs": 1, "seed": 1234,
            "echo": True, **extra}


def test_echo_logprobs_equal_hf_likelihood(served_llama):
    adapter, server = served_llama
    context = adapter._text_of(Request(id="", prompt="Text: a dull, lifeless film\nSentiment:"))
    pairs = [_choice_tokens(adapter, context, choice) for choice in ("negative", "positive")]
    status, out = post(f"{server.url}/completions", lmeval_payload([c + t for c, t in pairs]))
    assert status == 200, out
    expected = _sum_logprobs(adapter, pairs)
    for (ctx, cont), choice, want in zip(pairs, out["choices"], expected):
        lp = choice["logprobs"]
        assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(ctx) + len(cont) + 1
        assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
        assert math.isclose(sum(lp["token_logprobs"][len(ctx):-1]), want, abs_tol=1e-4)  # lm-eval's sum
        assert lp["text_offset"][1] == len(lp["tokens"][0]) and choice["text"] == "".join(lp["tokens"])
        for token, value, top in zip(lp["tokens"][1:], lp["token_logprobs"][1:], lp["top_logprobs"][1:]):
            assert top[token] == value and 1 <= len(top) <= 2  # the top-1 plus the token that is there
    assert out["usage"]["completion_tokens"] == 2
    # max_tokens 0 (vLLM's and OpenAI's prompt-only scoring), one flat token list, 3 alternatives
    status, out = post(f"{server.url}/completions", lmeval_payload(pairs[0][0] + pairs[0][1], max_tokens=0, logprobs=3))
    assert status == 200 and len(out["choices"]) == 1
    lp = out["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == sum(map(len, pairs[0])) and all(3 <= len(t) <= 4 for t in lp["top_logprobs"][1:])


@pytest.mark.parametrize("change, field, words", [
    ({"max_tokens": 5}, "max_tokens", "at most 1 token"),
    ({"prompt": [[1, 2, 10 ** 6]]}, "prompt", "outside the model's vocabulary"),
    ({"prompt": [[]]}, "prompt", "is empty"),
    ({"logprobs": 21}, "logprobs", "less than or equal to 20"),
    ({"prompt": [1, "a"]}, "prompt", ""),
    ({"prompt": [[1] * 10 + ["x"] * 30_000]}, "prompt", "token ids are integers >= 0; item 10 is 'x'"),  # 1 error
    ({"prompt": [[1] * 32_769]}, "prompt", "at most 32768 entries"),
    ({"stream": True}, "stream", "not supported"),
    ({"echo": False, "max_tokens": 4}, "prompt", "token-id prompts are only scored"),
    ({"echo": False, "prompt": "Great.", "logprobs": None, "max_tokens": 0}, "max_tokens", "only for prompt scoring"),
])
def test_scoring_refusals_name_the_field(served_llama, change, field, words):
    _, server = served_llama
    status, error = post(f"{server.url}/completions", {**lmeval_payload([[5, 6, 7]]), **change})
    assert status == 400 and error["error"]["param"].split(".")[0] == field and words in error["error"]["message"], error


def test_text_prompt_is_scored_too(served_llama):
    adapter, server = served_llama
    status, out = post(f"{server.url}/completions", lmeval_payload("The soup was cold.", max_tokens=0))
    ids = adapter.tokenizer("The soup was cold.", add_special_tokens=adapter._special_tokens()).input_ids
    assert status == 200 and len(out["choices"][0]["logprobs"]["tokens"]) == len(ids)
    assert out["choices"][0]["text"] == "The soup was cold."


def test_seq2seq_model_refuses_prompt_logprobs(tiny_t5):
    server = start_server(load_model(f"hf:{tiny_t5}", batch_size=2, device="cpu"), served_name="student")
    try:
        status, error = post(f"{server.url}/completions", {"prompt": [[5, 6, 7]], "echo": True, "logprobs": 1,
                                                           "max_tokens": 1})
        assert status == 400 and "need a decoder-only model" in error["error"]["message"]
        assert "\n" not in error["error"]["message"]
    finally:
        server.shutdown()


def test_models_retrieve_with_the_openai_client(served_llama):
    import openai

    _, server = served_llama
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
    found = client.models.retrieve("tiny")
    assert found.id == "tiny" and found.object == "model" and found.owned_by == "fsabench"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-4o")
    assert missing.value.status_code == 404 and "not served here" in missing.value.body["message"]


@pytest.mark.slow  # lm-eval in-process: its local-completions model over loopback, 2 x LIMIT requests (~5 s)
def test_lm_eval_likelihood_export_through_serve_scores_as_hf(served_llama, tiny_llama, cli, tmp_path):  # noqa: F811
    """`fsabench export lm-eval --scoring likelihood` run by lm-eval's local-completions against
    `fsabench serve` gives the scores `fsabench run --scoring likelihood` gives with hf: on the same weights."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    import fsabench

    _, server = served_llama
    exported = tmp_path / "lmeval"
    assert cli("export", "lm-eval", exported, "--tasks", "sc-sst2", "--scoring", "likelihood",
               "--prompt-style", "chat").returncode == 0
    args = (f"base_url={server.url}/completions,model=tiny,tokenizer={tiny_llama},tokenizer_backend=huggingface,"
            "tokenized_requests=True,max_retries=1")
    results = simple_evaluate(model="local-completions", model_args=args, tasks=["fsabench_sc_sst2"], limit=LIMIT,
                              apply_chat_template=True,  # fsabench's hf: renders an instruct model's template too
                              task_manager=TaskManager(include_path=str(exported), include_defaults=False))
    theirs = results["results"]["fsabench_sc_sst2"]
    ours = fsabench.evaluate(f"hf:{tiny_llama}", "sc-sst2", limit=LIMIT, scoring="likelihood", data_dir=DATA_DIR,
                             output_dir=tmp_path / "hf", device="cpu")[0]
    assert ours.usage.failed == 0 and ours.scores["all"].accuracy is not None
    for subset, score in ours.scores.items():
        for metric in ("accuracy", "macro_f1"):
            name = metric if subset == "all" else f"{metric}_{subset}"
            value, want = theirs.get(f"{name},none"), getattr(score, metric)
            assert (value is None or math.isnan(value)) if want is None else value == want, (name, value, want)
    # per example: lm-eval's choice log-likelihoods (it moves the template's trailing "\n" into every choice,
    # adding the same log p("\n") to each) differ between choices exactly as hf: likelihood's do
    adapter, samples = served_llama[0], results["samples"]["fsabench_sc_sst2"]
    mine = adapter.score_choices([Request(id="", prompt=s["doc"]["prompt"], choices=tuple(s["doc"]["choices"]),
                                          messages=({"role": "user", "content": s["doc"]["prompt"]},))
                                  for s in samples])
    assert len(samples) == LIMIT
    for sample, completion in zip(samples, mine):
        lls = [float(r[0]) for r in sample["filtered_resps"]]
        assert math.isclose(lls[1] - lls[0], completion.logprobs[1] - completion.logprobs[0], abs_tol=1e-4)


def test_forward_passes_are_bounded(served_llama, monkeypatch):
    from fsabench.models import prompt_scores

    assert prompt_scores.passes([3, 10, 5, 2], budget=20) == [[1, 2], [0, 3]]  # longest first, padded <= 20
    assert prompt_scores.passes([50, 4], budget=20) == [[0], [1]]  # a row over the budget goes alone
    adapter, server = served_llama
    monkeypatch.setattr(prompt_scores, "MAX_LOGIT_FLOATS", len(adapter.tokenizer) * 4)  # 4 positions of logits
    status, error = post(f"{server.url}/completions", lmeval_payload([[5, 6, 7, 8, 9]]))
    assert status == 400 and "the 4 tokens one prompt may hold for scoring" in error["error"]["message"]
    assert post(f"{server.url}/completions", lmeval_payload([[5, 6, 7, 8]]))[0] == 200


def test_lm_eval_finds_the_served_tokenizer(served_llama):
    """lm-eval's `tokenizer_backend=auto` probes /tokenizer_info and /tokenize and then uses them: a
    likelihood run needs no local tokenizer."""
    from lm_eval.utils import RemoteTokenizer, check_remote_tokenizer_support

    adapter, server = served_llama
    completions = f"{server.url}/completions"
    assert check_remote_tokenizer_support(completions, max_retries=1)
    remote, local = RemoteTokenizer(completions, max_retries=1), adapter.tokenizer
    text = "Text: the pasta was cold\nSentiment: negative"
    ids = local(text, add_special_tokens=False).input_ids
    assert remote.encode(text) == ids and remote.decode(ids) == local.decode(ids)
    assert remote.eos_token_id == local.eos_token_id and remote.tokenizer_info["model_max_length"] == 1024
    chat = [{"role": "user", "content": "Hi"}]
    assert remote.apply_chat_template(chat) == local.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    status, error = post(f"{server.url.removesuffix('/v1')}/detokenize", {"tokens": [1, 10 ** 6]})
    assert status == 400 and error["error"]["param"] == "tokens"
    assert post(f"{server.url.removesuffix('/v1')}/tokenize", {"prompt": "x", "model": "gpt-4o"})[0] == 404


def test_scoring_stops_when_its_client_leaves(served_llama):
    """A client that disconnects mid-scoring frees the scorer at its next forward pass (the work one
    request may cause is ~2 s here; nobody should pay it for a reader that is gone)."""
    import json
    import socket
    import time

    _, server = served_llama
    rows = [[5 + (i % 50) + k % 7 for k in range(1000)] for i in range(65)]  # 65,000 tokens: the most one request may send
    body = json.dumps(lmeval_payload(rows, max_tokens=0)).encode()
    host, port = server.thread.sock.getsockname()[:2]
    before = len(server.engine.stats.scoring_cancelled)
    leaver = socket.create_connection((host, port), timeout=10)
    leaver.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    time.sleep(0.3)
    leaver.close()
    deadline = time.monotonic() + 10
    while len(server.engine.stats.scoring_cancelled) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.engine.stats.scoring_cancelled) == before + 1
    start = time.monotonic()
    status, out = post(f"{server.url}/completions", lmeval_payload([[5, 6, 7]], max_tokens=0))
    assert status == 200 and time.monotonic() - start < 2  # the lock was given back
