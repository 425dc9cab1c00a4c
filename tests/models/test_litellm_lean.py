"""`litellm:` over OpenAI-protocol providers takes the lean aiohttp client when it is safe (models/api.py)."""

from __future__ import annotations

from fsabench.models import load_model
from fsabench.models.api import lean_route
from fsabench.models.base import Request
from fsabench.models.cache import model_key


def test_lean_route_only_where_litellm_adds_nothing(monkeypatch):
    local = "http://127.0.0.1:8000/v1"
    assert lean_route("hosted_vllm/Qwen2.5-7B", local) == (local, "Qwen2.5-7B", ("HOSTED_VLLM_API_KEY",))
    assert lean_route("openai/my-local-model", local + "/")[:2] == (local, "my-local-model")
    assert lean_route("openai/gpt-4o-mini", local) is None  # priced: litellm's cost per call is kept
    assert lean_route("hosted_vllm/x", "https://api.openai.com/v1") is None
    assert lean_route("hosted_vllm/x", None) is None and lean_route("anthropic/claude", local) is None
    monkeypatch.setenv("FSABENCH_LITELLM_LEAN", "0")
    assert lean_route("hosted_vllm/x", local) is None


def test_lean_litellm_answers_like_litellm_with_the_same_cache_key(scripted, monkeypatch):
    requests = [Request(id=str(i), prompt=f"review number {i}", max_new_tokens=4) for i in range(12)]
    lean = load_model("litellm:hosted_vllm/scripted", api_base=scripted.url, concurrency=4)
    assert lean.settings()["client"] == "aiohttp (lean)"
    fast = lean.generate(requests)
    lean.close()
    monkeypatch.setenv("FSABENCH_LITELLM_LEAN", "0")
    slow_adapter = load_model("litellm:hosted_vllm/scripted", api_base=scripted.url, concurrency=4)
    assert slow_adapter.settings()["client"] == "litellm"
    slow = slow_adapter.generate(requests)
    slow_adapter.close()
    assert [c.text for c in fast] == [c.text for c in slow] and all(c.text for c in fast)
    assert [c.prompt_tokens for c in fast] == [c.prompt_tokens for c in slow]
    assert model_key(lean) == model_key(slow_adapter)  # a cache filled either way serves the other
