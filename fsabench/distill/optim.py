"""The pretraining optimizer and the learning-rate schedules, as the paper's code uses them.

`AdamWScale` is nanoT5's optimizer (nanoT5/utils/copied_utils.py, itself the Hugging Face AdamW):
Adam with decoupled weight decay whose step for each weight tensor is scaled by that tensor's RMS
(at least 1e-3), as Adafactor does. Our change: the update runs over all tensors of a group at
once with torch's `_foreach` kernels instead of a Python loop per tensor, which matters for the
many small tensors of a T5 on CPU. The maths is nanoT5's, step by step (a test checks it against
a per-tensor reference).

Schedules are pure functions of the step, so resuming needs nothing but the step number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim import Optimizer

from fsabench.distill.schedule import cosine_lr, linear_lr  # noqa: F401 - re-exported (torch-free home)

__all__ = ["AdamWScale", "cosine_lr", "linear_lr", "param_groups", "set_lr"]

NO_DECAY = ("bias", "LayerNorm", "layernorm", "layer_norm", "ln")  # nanoT5's names, copied by the paper


class AdamWScale(Optimizer):
    """AdamW with the step of each tensor scaled by max(1e-3, RMS(tensor)) (nanoT5)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, correct_bias: bool = True) -> None:
        if lr < 0.0 or eps < 0.0 or not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"invalid AdamWScale settings: lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      correct_bias=correct_bias))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 - torch's signature
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params)
        return loss

    def _update(self, group: dict, params: list[torch.Tensor]) -> None:
        beta1, beta2 = group["betas"]
        grads = [p.grad for p in params]
        states = [self.state[p] for p in params]
        for p, state in zip(params, states):
            if not state:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
            state["step"] += 1
        exp_avg = [s["exp_avg"] for s in states]
        exp_avg_sq = [s["exp_avg_sq"] for s in states]
        torch._foreach_mul_(exp_avg, beta1)
        torch._foreach_add_(exp_avg, grads, alpha=1.0 - beta1)
        torch._foreach_mul_(exp_avg_sq, beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=1.0 - beta2)
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_add_(denom, group["eps"])
        # Every tensor of a group is stepped together, so the bias correction is shared unless a
        # tensor joined late (it had no gradient earlier): then it gets its own.
        rms = torch.stack(torch._foreach_norm(params)).float()
        rms /= torch.tensor([math.sqrt(p.numel()) for p in params], device=rms.device)
        scale = rms.clamp_(min=1e-3)
        sizes = torch.tensor([_step_size(group, s["step"], beta1, beta2) for s in states], device=rms.device)
        factors = (-(scale * sizes)).to(params[0].dtype).unbind()
        update = torch._foreach_div(exp_avg, denom)
        torch._foreach_mul_(update, factors)
        torch._foreach_add_(params, update)
        if group["weight_decay"] > 0.0:
            torch._foreach_mul_(params, 1.0 - group["lr"] * group["weight_decay"])


def _step_size(group: dict, step: int, beta1: float, beta2: float) -> float:
    size = group["lr"]
    if group["correct_bias"]:
        size *= math.sqrt(1.0 - beta2 ** step) / (1.0 - beta1 ** step)
    return size


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two groups, as nanoT5 and the paper: no weight decay on biases and layer norms."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if any(nd in name for nd in NO_DECAY) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def set_lr(optimizer: Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
