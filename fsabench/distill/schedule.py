"""Learning-rate schedules as pure functions of the step (resuming needs nothing but the step), kept
free of torch so that `distill recipe --plan` can show them without loading it."""

from __future__ import annotations

import math


def cosine_lr(step: int, total: int, base: float, final: float, warmup: int = 0) -> float:
    """Learning rate for 0-based `step`: linear warmup from base/2 (the paper's LinearLR
    start_factor=0.5), then cosine from base down to `final` at `total` steps."""
    if step < warmup:
        return base * (0.5 + 0.5 * step / max(1, warmup))
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return final + (base - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def linear_lr(step: int, total: int, base: float, warmup: int = 0) -> float:
    """Linear warmup to `base`, then linear decay to 0 at `total` (transformers' linear schedule)."""
    if step < warmup:
        return base * step / max(1, warmup)
    return base * max(0.0, (total - step) / max(1, total - warmup))
