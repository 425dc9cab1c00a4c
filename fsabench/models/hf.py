"""`hf:<hub id or local path>`: seq2seq (T5, the paper's student) and causal LMs with batched greedy
generation over length-sorted batches. Users load from the hub; tests load a tiny local model."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, LogitsProcessor, \
    StoppingCriteria

from fsabench.errors import ModelError
from fsabench.models.base import Completion, Request
from fsabench.models.hf_precision import autocast_context  # noqa: F401  (re-exported)
from fsabench.models.fingerprint import hub_commit, local_fingerprint  # noqa: F401  (local_fingerprint re-exported)

from fsabench.formats import NEWLINE_TOKEN  # noqa: E402  (defined once)


def quiet_transformers() -> None:
    """Commands are quiet by default: no weight-loading progress bars or info logs."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def pick_device(device: str) -> str:
    """'auto' picks cuda, then mps, then cpu; an explicit device that is not there is an error, never a
    silent fallback (a CPU run of a GPU protocol is a different run)."""
    if device == "cuda" and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}, no GPU visible"
        raise ModelError(f"--device cuda: CUDA is not available (torch {torch.__version__}, {build})",
                         hint="use --device cpu (or auto), or install a CUDA build of torch on a GPU machine")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelError("--device mps: Apple's MPS backend is not available here", hint="use --device cpu (or auto)")
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(dtype: str, device: str) -> torch.dtype:
    """bf16 on GPUs that support it, float32 elsewhere, unless the user says otherwise."""
    if dtype != "auto":
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def dtype_kwargs(dtype: torch.dtype) -> dict[str, Any]:
    """from_pretrained's precision keyword: `dtype=` from transformers 4.56 on, `torch_dtype=` before
    (both are accepted by pyproject's floor, 4.44)."""
    import transformers
    from packaging.version import Version

    return {"dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype": dtype}


def check_local_path(target: str) -> None:
    """`hf:./runs/student` that does not exist is a typo, not a hub id: say so before trying the hub."""
    path = Path(target).expanduser()
    looks_local = target.startswith((".", "/", "~")) or target.count("/") > 1 or "\\" in target
    if looks_local and not path.exists():
        raise ModelError(f"model folder {target} does not exist",
                         hint="check the path (a folder saved with save_pretrained), or give a hub id like org/name")
    if path.exists() and not path.is_dir():
        raise ModelError(f"{target} is a file, not a model folder",
                         hint="pass the folder that holds config.json (a .gguf file: hf:FOLDER --gguf-file NAME)")


class HFAdapter:
    """Greedy generation with a local or hub transformers model."""

    prompt_style = "raw"

    def __init__(self, name: str, target: str, batch_size: int = 16, device: str = "auto", dtype: str = "auto",
                 max_new_tokens: int | None = None, revision: str | None = None, gguf_file: str | None = None,
                 prompt_style: str | None = None, autocast: str | None = None, **_: Any) -> None:
        if target.endswith(".gguf") and not gguf_file:  # hf:path/to/model.gguf = its folder + gguf_file
            target, gguf_file = str(Path(target).parent), Path(target).name
        check_local_path(target)
        self.name, self.target, self.revision, self.gguf_file = name, target, revision, gguf_file
        self.batch_size, self.max_new_tokens_override = max(1, batch_size), max_new_tokens
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.autocast = _autocast_dtype(autocast)
        quiet_transformers()
        kwargs: dict[str, Any] = {"revision": revision} if revision else {}
        if gguf_file:
            kwargs["gguf_file"] = gguf_file
        try:
            config = AutoConfig.from_pretrained(target, **kwargs)
            self.tokenizer = AutoTokenizer.from_pretrained(target, **kwargs)
            self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
            loader = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
            # config=: the one just read (a .gguf is parsed once less: ~5 s of SmolLM2-135M's ~20 s load)
            self.model = loader.from_pretrained(target, config=config, **dtype_kwargs(self.dtype),
                                                **kwargs).to(self.device).eval()
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot load hf model {target!r}: {first}",
                             hint="give a hub id (needs internet) or a folder saved with save_pretrained") from None
        # A causal model that ships a chat template is an instruction model: give it chat prompts.
        self.prompt_style = prompt_style or ("chat" if not self.seq2seq and self._has_chat_template() else "raw")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._local = Path(target).is_dir()
        # a hub id: the commit of the snapshot just loaded (a branch like `main` moves; the commit does not)
        self.commit = None if self._local else hub_commit(target, revision, gguf_file or "config.json")
        # fast tokenizers refuse concurrent use ("Already borrowed"); the server calls from two threads
        self.lock = threading.RLock()

    @classmethod
    def from_loaded(cls, name: str, model, tokenizer, device: str, batch_size: int = 16,
                    autocast: str | None = None) -> "HFAdapter":
        """An adapter over a seq2seq model already in memory (fine-tuning scores dev with it between
        epochs), so dev is decoded by exactly the code that decodes test."""
        self = cls.__new__(cls)
        self.name, self.target, self.revision, self.gguf_file = name, name, None, None
        self.batch_size, self.max_new_tokens_override = max(1, batch_size), None
        self.device, self.dtype, self.autocast = device, next(model.parameters()).dtype, _autocast_dtype(autocast)
        self.model, self.tokenizer = model, tokenizer
        self.seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
        self.prompt_style, self._local, self.commit = "raw", False, None
        self.lock = threading.RLock()
        return self

    def _has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"model": self.target, "revision": self.revision, "gguf_file": self.gguf_file}
        if self._local:
            ident["fingerprint"] = local_fingerprint(Path(self.target))
        elif getattr(self, "commit", None):
            ident["commit"] = self.commit
        return ident

    def settings(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "device": self.device, "dtype": str(self.dtype).replace("torch.", ""),
                **({"autocast": str(self.autocast).replace("torch.", "")} if self.autocast else {}),
                "decoding": "greedy", "architecture": "seq2seq" if self.seq2seq else "causal",
                "prompt_style": self.prompt_style,
                **({"max_new_tokens": self.max_new_tokens_override} if self.max_new_tokens_override else {})}

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def score_choices(self, requests: Sequence[Request]) -> list[Completion]:
        """--scoring likelihood: each request's likeliest choice (see likeliest_choices below)."""
        return likeliest_choices(self, requests)

    def _special_tokens(self) -> bool:
        """Add BOS/EOS when tokenizing, except for chat-template text, which already holds them."""
        return self.seq2seq or self.prompt_style != "chat"

    def _text_of(self, request: Request) -> str:
        if self.prompt_style == "chat" and request.messages and self._has_chat_template():
            return self.tokenizer.apply_chat_template(list(request.messages), tokenize=False, add_generation_prompt=True)
        return request.prompt

    def decode(self, ids: Any) -> str:
        """One row of generated ids -> text, exactly as batch generation decodes it."""
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        return text.replace(NEWLINE_TOKEN, "\n") if self.seq2seq else text.replace(NEWLINE_TOKEN, "\n").strip()

    def encode_length(self, text: str) -> int:
        """Prompt tokens of a (rendered) text, as generation will count them."""
        return len(self.tokenizer(text, add_special_tokens=self._special_tokens()).input_ids)

    def context_window(self) -> int:
        """Positions the model can attend to (prompt for seq2seq; prompt + answer for causal LMs)."""
        config = self.model.config
        for attr in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        limit = getattr(self.tokenizer, "model_max_length", None)
        return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else 512

    @torch.inference_mode()
    def _generate_batch(self, texts: list[str], budgets: list[int], min_tokens: list[int] | None = None,
                        on_step: Any = None) -> tuple[list[str], list[int], list[int]]:
        """Greedy generation where row i stops after exactly budgets[i] new tokens (or at EOS), whatever
        else shares the batch; `on_step(new_ids) -> list[bool] | None` sees every step's tokens (the server
        streams and cancels through it: True stops that row)."""
        from transformers import LogitsProcessorList, StoppingCriteriaList

        with self.lock:
            self.tokenizer.padding_side = "right" if self.seq2seq else "left"
            encoded = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=self._special_tokens())
        encoded = {k: v.to(self.device) for k, v in encoded.items() if k in ("input_ids", "attention_mask")}
        start = 1 if self.seq2seq else encoded["input_ids"].shape[1]  # decoder start token / the prompt
        criteria = StoppingCriteriaList([RowLimits(start, budgets, on_step)])
        processors = LogitsProcessorList([RowMinTokens(start, min_tokens, self._eos_ids())]) \
            if min_tokens and any(min_tokens) else None
        was_training = self.model.training  # fine-tuning decodes dev with the model it is training
        self.model.eval()
        with autocast_context(self.device, self.autocast):
            output = self.model.generate(**encoded, max_new_tokens=max(budgets), do_sample=False, num_beams=1,
                                         pad_token_id=self.tokenizer.pad_token_id, stopping_criteria=criteria,
                                         logits_processor=processors)
        self.model.train(was_training)
        new = output if self.seq2seq else output[:, encoded["input_ids"].shape[1]:]
        with self.lock:
            decoded = [self.decode(row) for row in new]
        prompt_tokens = encoded["attention_mask"].sum(dim=1).tolist()
        eos = set(self._eos_ids())
        steps = new[:, 1:] if self.seq2seq else new  # seq2seq output starts with the decoder start token
        completion_tokens = [min(next((k + 1 for k, t in enumerate(row) if t in eos), len(row)), budget)
                             for row, budget in zip(steps.tolist(), budgets)]  # steps taken, EOS included
        return decoded, prompt_tokens, completion_tokens

    def _eos_ids(self) -> list[int]:
        eos = self.model.generation_config.eos_token_id
        eos = eos if eos is not None else self.tokenizer.eos_token_id
        return [e for e in (eos if isinstance(eos, list) else [eos]) if e is not None]

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        """Sort by prompt length (less padding), generate in batches, return in the original order.
        Each request gets exactly its own token budget, whatever else shares its batch."""
        if any(r.choices for r in requests):
            return self.score_choices(requests)
        texts = [self._text_of(r) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: len(texts[i]), reverse=True)
        budgets_ok = all((self.max_new_tokens_override or r.max_new_tokens) >= 1 for r in requests)
        stepper = self._stepper() if requests and budgets_ok else None  # (a zero budget: the static path)
        if stepper is not None:
            return self._generate_continuous(stepper, requests, texts, order)
        results: list[Completion | None] = [None] * len(requests)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            budgets = [self.max_new_tokens_override or requests[i].max_new_tokens for i in batch]
            decoded, p_tokens, c_tokens = self._generate_batch([texts[i] for i in batch], budgets)
            for i, text, p, c in zip(batch, decoded, p_tokens, c_tokens):
                text = _cut_at_stop(text, requests[i].stop)
                results[i] = Completion(text=text, prompt_tokens=int(p), completion_tokens=int(c))
        return [r for r in results if r is not None]

    def _stepper(self) -> Any:
        """A continuous-batching stepper for this model (hf_stepper / hf_causal_stepper), or None for the
        static path: a model they do not reproduce, or FSABENCH_STATIC_GENERATE=1 (the escape hatch; both
        paths give the same answers and token counts, so the run's identity does not name the path).
        Float32 only: in bfloat16 (weights or autocast) an answer depends on which rows share its batch (the
        stepper's batches are not the static ones: 396-399/400 tiny-T5 and 161-168/200 tiny-Llama answers
        agreed), so reduced precision keeps the static batches and its scores stay as they were."""
        import os

        if os.environ.get("FSABENCH_STATIC_GENERATE", "").strip() not in ("", "0"):
            return None
        if self.autocast is not None or self.dtype != torch.float32:
            return None
        from fsabench.models.hf_continuous import new_stepper

        return new_stepper(self)

    def _generate_continuous(self, stepper: Any, requests: Sequence[Request], texts: list[str],
                             order: list[int]) -> list[Completion]:
        """`generate` with continuous batching: `batch_size` rows, the next prompt (longest first, as the
        static batches) admitted the step a row frees. Text and token counts as `_generate_batch` reports
        them: the answer runs to its budget or first EOS (counted), then is cut at its stop strings."""
        from fsabench.models.hf_continuous import decode_all

        budgets = [self.max_new_tokens_override or requests[i].max_new_tokens for i in order]
        was_training = self.model.training  # fine-tuning decodes dev with the model it is training
        self.model.eval()  # the steppers call modules directly: no dropout for the whole decode
        try:
            rows = decode_all(stepper, [texts[i] for i in order], budgets, self.batch_size, set(self._eos_ids()))
        finally:
            self.model.train(was_training)
        results: list[Completion | None] = [None] * len(requests)
        for i, row in zip(order, rows):
            with self.lock:
                text = _cut_at_stop(self.decode(row.ids), requests[i].stop)
            results[i] = Completion(text=text, prompt_tokens=int(row.prompt_tokens), completion_tokens=len(row.ids))
        return [r for r in results if r is not None]


class RowLimits(StoppingCriteria):
    """A stopping criterion with one budget per row (transformers stops rows independently)."""

    def __init__(self, start: int, budgets: list[int], on_step: Any = None) -> None:
        self.start, self.budgets, self.on_step = start, torch.tensor(budgets), on_step

    def __call__(self, input_ids: torch.Tensor, scores: Any, **_: Any) -> torch.Tensor:
        done = self.budgets.to(input_ids.device) <= input_ids.shape[1] - self.start
        if self.on_step is not None:
            stop = self.on_step(input_ids[:, self.start:])
            if stop is not None:
                done = done | torch.tensor(stop, dtype=torch.bool, device=input_ids.device)
        return done


class RowMinTokens(LogitsProcessor):
    """No EOS before a row's `min_tokens` (the vLLM `min_tokens` request field), one value per row."""

    def __init__(self, start: int, minimum: list[int], eos_ids: list[int]) -> None:
        self.start, self.minimum, self.eos_ids = start, torch.tensor(minimum), eos_ids

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        early = self.minimum.to(scores.device) > input_ids.shape[1] - self.start
        if early.any() and self.eos_ids:
            scores = scores.clone()
            scores[early.nonzero().squeeze(1)[:, None], torch.tensor(self.eos_ids, device=scores.device)] = -float("inf")
        return scores


def _autocast_dtype(name: str | None) -> torch.dtype | None:
    if name in (None, "", "none", "float32"):
        return None
    return {"bfloat16": torch.bfloat16, "float16": torch.float16}[str(name).replace("torch.", "")]


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return text[:cut] if cut >= 0 else text


# --- likelihood scoring (--scoring likelihood) -------------------------------------------------
def _choice_tokens(adapter: HFAdapter, context: str, choice: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) split as lm-eval does: seq2seq encodes the two apart (the
    continuation without special tokens); causal encodes context + " " + choice whole, then splits."""
    tok = adapter.tokenizer
    if adapter.seq2seq:
        return tok(context).input_ids, tok(choice, add_special_tokens=False).input_ids
    continuation = choice if not context or context[-1].isspace() else " " + choice
    special = adapter._special_tokens()
    whole = tok(context + continuation, add_special_tokens=special).input_ids
    ctx = tok(context, add_special_tokens=special).input_ids
    return ctx, whole[len(ctx):]


@torch.inference_mode()
def _sum_logprobs(adapter: HFAdapter, pairs: list[tuple[list[int], list[int]]]) -> list[float]:
    """Sum of log p(continuation | context) per pair, one right-padded batch."""
    pad = adapter.tokenizer.pad_token_id
    if adapter.seq2seq:
        width, label_width = max(len(c) for c, _ in pairs), max(len(t) for _, t in pairs)
        ids = torch.tensor([c + [pad] * (width - len(c)) for c, _ in pairs], device=adapter.device)
        mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for c, _ in pairs], device=adapter.device)
        labels = torch.tensor([t + [-100] * (label_width - len(t)) for _, t in pairs], device=adapter.device)
        logits = adapter.model(input_ids=ids, attention_mask=mask, labels=labels).logits
        targets, keep = labels.clamp(min=0), labels != -100
    else:
        seqs = [c + t for c, t in pairs]
        width = max(len(x) for x in seqs) - 1
        ids = torch.tensor([x[:-1] + [pad] * (width - len(x) + 1) for x in seqs], device=adapter.device)
        mask = torch.tensor([[1] * (len(x) - 1) + [0] * (width - len(x) + 1) for x in seqs], device=adapter.device)
        targets = torch.tensor([x[1:] + [pad] * (width - len(x) + 1) for x in seqs], device=adapter.device)
        keep = torch.zeros_like(targets, dtype=torch.bool)
        for row, (c, t) in enumerate(pairs):
            keep[row, len(c) - 1:len(c) - 1 + len(t)] = True
        logits = adapter.model(input_ids=ids, attention_mask=mask).logits
    logprobs = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (logprobs * keep).sum(dim=1).tolist()


def likeliest_choices(adapter: HFAdapter, requests: Sequence[Request]) -> list[Completion]:
    """Answer each request with its likeliest choice; `logprobs` holds every choice's sum log-prob."""
    pairs, spans = [], []
    for request in requests:
        context = adapter._text_of(request)
        start = len(pairs)
        pairs += [_choice_tokens(adapter, context, choice) for choice in request.choices or ()]
        spans.append((start, len(pairs)))
    order = sorted(range(len(pairs)), key=lambda k: len(pairs[k][0]) + len(pairs[k][1]), reverse=True)
    scores = [0.0] * len(pairs)
    for start in range(0, len(order), adapter.batch_size):
        batch = order[start:start + adapter.batch_size]
        for k, value in zip(batch, _sum_logprobs(adapter, [pairs[k] for k in batch])):
            scores[k] = value
    results = []
    for request, (lo, hi) in zip(requests, spans):
        mine = tuple(scores[lo:hi])
        if not mine:
            results.append(Completion(text=None, error="request has no choices"))
            continue
        best = max(range(len(mine)), key=mine.__getitem__)
        results.append(Completion(text=request.choices[best], logprobs=mine, prompt_tokens=len(pairs[lo][0])))
    return results
