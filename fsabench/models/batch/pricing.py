"""Batch prices per token, from litellm's bundled price map (read as JSON: no litellm import, no network).

The map lists `input_cost_per_token_batches` / `output_cost_per_token_batches` for the models the
providers discount; a model priced only online is charged half its online price (both providers' batch
discount). A model the map does not know (a local server) has no price: its cost stays unknown, as online.
"""

from __future__ import annotations

import importlib.util
import json
import math
from functools import lru_cache
from pathlib import Path

PRICE_FILE = "model_prices_and_context_window_backup.json"
BATCH_DISCOUNT = 0.5


@lru_cache(maxsize=1)
def _price_map() -> dict:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.origin:
        return {}
    path = Path(spec.origin).parent / PRICE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def batch_prices(model: str, provider: str) -> tuple[float, float] | None:
    """(USD per input token, USD per output token) at batch prices, or None when unpriced."""
    prices = _price_map()
    for name in (model, f"{provider}/{model}"):
        entry = prices.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("input_cost_per_token"), (int, float)):
            cost_in = entry.get("input_cost_per_token_batches", entry["input_cost_per_token"] * BATCH_DISCOUNT)
            cost_out = entry.get("output_cost_per_token_batches",
                                 (entry.get("output_cost_per_token") or 0.0) * BATCH_DISCOUNT)
            return float(cost_in), float(cost_out)
    return None


def cost_of(prices: tuple[float, float] | None, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    if prices is None or prompt_tokens is None:
        return None
    return round(prompt_tokens * prices[0] + (completion_tokens or 0) * prices[1], 10)


def estimate(prices: tuple[float, float] | None, line: str, max_new_tokens: int) -> float:
    """An upper-leaning guess of one request's cost before it is sent, for --max-cost: a token per 4
    characters of the input line, and the whole token budget as output."""
    if prices is None:
        return 0.0
    return math.ceil(len(line) / 4) * prices[0] + max_new_tokens * prices[1]
