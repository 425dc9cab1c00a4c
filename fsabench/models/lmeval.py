"""`lm-eval:<model type>,<args>`: any model lm-evaluation-harness can load, through its own
`generate_until` (and `loglikelihood` for --scoring likelihood).

    fsabench run --model lm-eval:hf,pretrained=./runs/student,backend=seq2seq --tasks fsa

The args are lm-eval's `--model_args` string; --batch-size and --device are passed as lm-eval's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fsabench.errors import ModelError
from fsabench.models.base import Completion, Request

from fsabench.formats import NEWLINE_TOKEN  # noqa: E402  (defined once)


def split_target(target: str) -> tuple[str, str]:
    """'hf,pretrained=x,backend=seq2seq' -> ('hf', 'pretrained=x,backend=seq2seq')."""
    model_type, _, args = target.partition(",")
    if not model_type:
        raise ModelError(f"lm-eval model {target!r} names no model type",
                         hint="write lm-eval:TYPE,ARGS, e.g. lm-eval:hf,pretrained=./student,backend=seq2seq")
    return model_type.strip(), args.strip()


def _device(device: str) -> str:
    """lm-eval's hf model defaults to cuda; 'auto' picks what this machine has; an explicit device that is
    not there is refused here, in one line, as for hf: models."""
    try:
        import torch
    except ImportError:
        return "cpu" if device == "auto" else device
    if device in ("cuda", "mps"):
        from fsabench.models.hf import pick_device

        return pick_device(device)
    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


class LMEvalAdapter:
    prompt_style = "raw"

    def __init__(self, name: str, target: str, batch_size: int = 16, device: str = "auto",
                 prompt_style: str | None = None, **_: Any) -> None:
        import lm_eval
        from lm_eval.api.registry import get_model

        self.name, self.target = name, target
        try:
            from fsabench.models.hf import quiet_transformers

            quiet_transformers()
        except ImportError:  # an lm-eval model that needs no transformers
            pass
        self.model_type, self.args = split_target(target)
        self.lm_eval_version = getattr(lm_eval, "__version__", "unknown")
        config: dict[str, Any] = {"batch_size": batch_size, "device": _device(device)}
        try:
            self.lm = get_model(self.model_type).create_from_arg_string(self.args, config)
        except (KeyError, ValueError, OSError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"lm-eval cannot load {target!r}: {first}",
                             hint="check the model type and args as for `lm_eval --model TYPE --model_args ARGS`") from None
        if prompt_style in ("raw", "chat"):
            self.prompt_style = prompt_style
        self.batch_size = batch_size

    def _pretrained_dir(self) -> Path | None:
        for part in self.args.split(","):
            key, _, value = part.partition("=")
            if key.strip() == "pretrained" and Path(value.strip()).is_dir():
                return Path(value.strip())
        return None

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"lm_eval_model": self.model_type, "args": self.args}
        local = self._pretrained_dir()
        if local is not None:
            from fsabench.models.fingerprint import local_fingerprint

            ident["fingerprint"] = local_fingerprint(local)
        return ident

    def settings(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "lm_eval_version": self.lm_eval_version, "decoding": "greedy",
                "prompt_style": self.prompt_style}

    def parameter_count(self) -> int | None:
        model = getattr(self.lm, "model", None)
        return sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None

    def _context(self, request: Request) -> str:
        template = getattr(self.lm, "apply_chat_template", None)
        if self.prompt_style == "chat" and request.messages and callable(template):
            return template(list(request.messages))
        return request.prompt

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        from lm_eval.api.instance import Instance

        if any(r.choices for r in requests):
            return self._loglikelihood(requests)
        seq2seq = getattr(self.lm, "backend", "causal") == "seq2seq"
        # lm-eval lets a seq2seq decoder run to context length + budget; max_length (decoder start +
        # budget) caps it at the task's budget, as fsabench's hf: adapter and the export do.
        instances = [Instance("generate_until", {}, (self._context(r), {
            "until": list(r.stop), "max_gen_toks": r.max_new_tokens, "do_sample": False,
            **({"max_length": r.max_new_tokens + 1} if seq2seq else {})}), i)
            for i, r in enumerate(requests)]
        texts = self.lm.generate_until(instances, disable_tqdm=True)
        return [Completion(text=t.replace(NEWLINE_TOKEN, "\n")) for t in texts]

    def _loglikelihood(self, requests: Sequence[Request]) -> list[Completion]:
        """lm-eval's loglikelihood per (context, choice); causal models get lm-eval's ' ' delimiter."""
        from lm_eval.api.instance import Instance

        seq2seq = getattr(self.lm, "backend", "causal") == "seq2seq"
        instances, spans = [], []
        for request in requests:
            context = self._context(request)
            gap = "" if seq2seq or not context or context[-1].isspace() else " "
            start = len(instances)
            instances += [Instance("loglikelihood", {}, (context, gap + c), len(instances)) for c in request.choices or ()]
            spans.append((start, len(instances)))
        scores = [float(ll) for ll, _ in self.lm.loglikelihood(instances, disable_tqdm=True)] if instances else []
        out = []
        for request, (lo, hi) in zip(requests, spans):
            mine = tuple(scores[lo:hi])
            if not mine:
                out.append(Completion(text=None, error="request has no choices"))
                continue
            out.append(Completion(text=request.choices[max(range(len(mine)), key=mine.__getitem__)], logprobs=mine))
        return out
