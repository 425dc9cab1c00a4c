"""Mixed precision for local transformers models, shared by `hf.py` and the continuous-batching steppers
(its own module so the steppers need not import `hf.py`, which imports them)."""

from __future__ import annotations

import torch


def autocast_context(device: str, dtype: torch.dtype | None):
    """bf16/fp16 autocast over float32 weights (as Lightning's `bf16-mixed`), or nothing."""
    import contextlib

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda" if str(device).startswith("cuda") else "cpu", dtype=dtype)
