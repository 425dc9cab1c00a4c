"""The model card `/v1/models` serves, and the identity key it hashes (which a spawned engine must match)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

DEFAULT_CAP = 512  # --max-tokens: the most tokens one request may ask for


def identity_key(adapter: Any) -> str:
    """The model's name and identity as one string: the card's hash, and what a spawned engine must match."""
    return json.dumps({"name": adapter.name, "identity": adapter.identity()}, sort_keys=True, default=str)


def model_card(adapter: Any, served_name: str, max_tokens: int = DEFAULT_CAP, window: int | None = None) -> dict[str, Any]:
    info = {"model": adapter.name, "identity_sha256": hashlib.sha256(identity_key(adapter).encode()).hexdigest(),
            "prompt_style": getattr(adapter, "prompt_style", "chat"), "max_tokens": max_tokens}
    card: dict[str, Any] = {"id": served_name, "object": "model", "created": 0, "owned_by": "fsabench", "fsabench": info}
    if window:
        card["max_model_len"] = window  # vLLM's name for the same figure
        info["context_window"] = window
    return card
