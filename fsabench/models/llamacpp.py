"""`llamacpp:FILE.gguf`: a GGUF model in-process through llama-cpp-python (`pip install 'fsabench[gguf]'`),
with greedy decoding of many sequences at once (continuous batching).

Why: `hf:` de-quantises a GGUF to float32 (a 7B model does not fit a laptop's memory) and decodes one
padded batch at a time. Here the quantised weights stay quantised and up to `--batch-size` sequences
share every forward pass: each step feeds one new token per decoding sequence plus prompt chunks of
sequences just admitted, and a finished sequence frees its slot (and its KV cells) for the next prompt
at once, so no sequence waits for the longest one of a padded batch.

Prompts: chat requests are rendered with the chat template stored in the GGUF metadata
(`tokenizer.chat_template`, through llama-cpp-python's Jinja2 formatter, exactly as its
`create_chat_completion` does), then tokenized with special tokens parsed and no extra BOS. Decoding
stops at an end-of-generation token or at the request's budget; stop strings cut the text after.

Identity: the file's fingerprint (size + first/last MiB), llama-cpp-python's version and the context
settings that change answers; the slot count and threads change speed only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsabench.errors import ModelError
from fsabench.models.base import Completion, Request
from fsabench.models.fingerprint import file_fingerprint

MAX_BATCH_TOKENS = 512  # tokens per forward pass (prompt chunks + one per decoding sequence)


@dataclass
class _Slot:
    index: int  # the request's position in the call
    seq: int  # llama.cpp sequence id (= slot number)
    pending: list[int]  # tokens still to feed (the prompt, then each new token)
    budget: int
    prompt_tokens: int
    pos: int = 0
    generated: list[int] = field(default_factory=list)


class LlamaCppAdapter:
    """Greedy, batched generation over one GGUF file."""

    prompt_style = "chat"

    def __init__(self, name: str, target: str, batch_size: int = 16, max_new_tokens: int | None = None,
                 prompt_style: str | None = None, **_: Any) -> None:
        path = Path(target).expanduser()
        if not path.is_file():
            raise ModelError(f"llamacpp: {target} is not a file", hint="give the path of a .gguf file")
        try:
            import llama_cpp
        except ImportError:
            raise ModelError("llamacpp: llama-cpp-python is not installed",
                             hint="pip install 'fsabench[gguf]' (compiles llama.cpp, a few minutes)") from None
        self.name, self.target, self.path = name, target, path
        self.slots = max(1, batch_size)
        self.max_new_tokens_override = max_new_tokens
        self.threads = _threads()
        self._lib = llama_cpp
        try:
            self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_batch=64, n_threads=self.threads,
                                       n_threads_batch=self.threads, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llamacpp: cannot load {target}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}",
                             hint="is it a GGUF file this llama.cpp version reads?") from None
        self.version = getattr(llama_cpp, "__version__", "unknown")
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.n_vocab = self.llm.n_vocab()
        self.n_ctx_train = self.llm._model.n_ctx_train()
        self.template = self.llm.metadata.get("tokenizer.chat_template")
        self.formatter = None
        if self.template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            eos, bos = self.llm.token_eos(), self.llm.token_bos()
            self.formatter = Jinja2ChatFormatter(
                template=self.template, eos_token=self.llm._model.token_get_text(eos) if eos != -1 else "",
                bos_token=self.llm._model.token_get_text(bos) if bos != -1 else "", stop_token_ids=[eos])
        self.prompt_style = prompt_style or ("chat" if self.formatter else "raw")
        self._ctx = None
        self._ctx_tokens = 0
        self._fingerprint: str | None = None
        self.lock = threading.Lock()

    # --- protocol ------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        if self._fingerprint is None:
            self._fingerprint = file_fingerprint(self.path)
        return {"model": str(self.path), "fingerprint": self._fingerprint, "engine": "llama.cpp",
                "engine_version": f"llama-cpp-python {self.version}"}

    def settings(self) -> dict[str, Any]:
        return {"batch_size": self.slots, "device": "cpu", "threads": self.threads, "decoding": "greedy",
                "prompt_style": self.prompt_style, "engine": "llama.cpp",
                **({"max_new_tokens": self.max_new_tokens_override} if self.max_new_tokens_override else {})}

    def parameter_count(self) -> int | None:
        try:
            return int(self._lib.llama_model_n_params(self.llm.model))
        except (AttributeError, TypeError):
            return None

    def close(self) -> None:
        with self.lock:
            self._free_context()

    # --- prompts -------------------------------------------------------------------------------
    def render(self, request: Request) -> str:
        if self.prompt_style == "chat" and self.formatter is not None:
            messages = list(request.messages) if request.messages else [{"role": "user", "content": request.prompt}]
            return self.formatter(messages=messages).prompt
        return request.prompt

    def tokens_of(self, request: Request) -> list[int]:
        text = self.render(request)
        chat = self.prompt_style == "chat" and self.formatter is not None
        # a chat template writes its own BOS (llama-cpp-python: add_bos = not added_special)
        return self.llm.tokenize(text.encode("utf-8"), add_bos=not chat, special=True)

    # --- generation ----------------------------------------------------------------------------
    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        if not requests:
            return []
        with self.lock:
            return self._generate(list(requests))

    def _generate(self, requests: list[Request]) -> list[Completion]:
        prompts = [self.tokens_of(r) for r in requests]
        budgets = [self.max_new_tokens_override or r.max_new_tokens for r in requests]
        results: list[Completion | None] = [None] * len(requests)
        todo = []
        for i, (tokens, budget) in enumerate(zip(prompts, budgets)):
            if len(tokens) + 1 > self.n_ctx_train:
                results[i] = Completion(text=None, error=f"prompt of {len(tokens)} tokens is longer than the model's "
                                                         f"context ({self.n_ctx_train})")
            else:
                todo.append(i)
        if todo:
            need = max(min(len(prompts[i]) + budgets[i], self.n_ctx_train) for i in todo)
            self._ensure_context(need)
            for i, tokens, generated in self._decode(todo, prompts, budgets):
                text = self.llm.detokenize(generated).decode("utf-8", errors="replace").strip()
                text = _cut_at_stop(text, requests[i].stop)
                results[i] = Completion(text=text, prompt_tokens=len(tokens), completion_tokens=len(generated))
        return [r for r in results if r is not None]

    def _ensure_context(self, per_sequence: int) -> None:
        """A context whose KV pool holds `slots` sequences of `per_sequence` tokens (grown when needed)."""
        lib = self._lib
        per_sequence = min(self.n_ctx_train, max(256, -(-per_sequence // 256) * 256))
        wanted = per_sequence * self.slots
        if self._ctx is not None and self._ctx_tokens >= wanted:
            return
        self._free_context()
        params = lib.llama_context_default_params()
        params.n_ctx = wanted
        params.n_batch = MAX_BATCH_TOKENS
        params.n_ubatch = MAX_BATCH_TOKENS
        params.n_seq_max = self.slots
        params.n_threads = params.n_threads_batch = self.threads
        params.kv_unified = False  # one KV stream per sequence: attention reads its own cells, not every slot's
        params.no_perf = True
        ctx = lib.llama_init_from_model(self.llm.model, params)
        if not ctx:
            raise ModelError(f"llamacpp: cannot allocate a context of {wanted} tokens",
                             hint="lower --batch-size (parallel sequences)")
        self._ctx, self._ctx_tokens = ctx, wanted
        self._memory = lib.llama_get_memory(ctx)
        self._batch = lib.llama_batch_init(MAX_BATCH_TOKENS, 0, 1)

    def _free_context(self) -> None:
        if self._ctx is not None:
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._ctx, self._ctx_tokens = None, 0

    def _decode(self, todo: list[int], prompts: list[list[int]], budgets: list[int]):
        """Continuous batching; yields (request index, prompt tokens, generated tokens) as each finishes."""
        import numpy as np

        lib, ctx, batch = self._lib, self._ctx, self._batch
        queue = sorted(todo, key=lambda i: len(prompts[i]), reverse=True)  # long prompts first: less tail
        queue.reverse()  # pop() from the end takes the longest
        free = list(range(self.slots - 1, -1, -1))
        active: list[_Slot] = []
        while queue or active:
            while queue and free:
                i = queue.pop()
                seq = free.pop()
                lib.llama_memory_seq_rm(self._memory, seq, -1, -1)
                active.append(_Slot(index=i, seq=seq, pending=list(prompts[i]), budget=budgets[i],
                                    prompt_tokens=len(prompts[i])))
            n = 0
            wants_logits: list[tuple[_Slot, int]] = []
            # decoding sequences first (one token each), then prompt chunks in what is left of the batch
            for slot in sorted(active, key=lambda s: len(s.pending) > 1):
                room = MAX_BATCH_TOKENS - n
                if room <= 0:
                    break
                take = slot.pending[:room]
                for k, token in enumerate(take):
                    batch.token[n] = token
                    batch.pos[n] = slot.pos + k
                    batch.n_seq_id[n] = 1
                    batch.seq_id[n][0] = slot.seq
                    last = k == len(take) - 1 and len(take) == len(slot.pending)
                    batch.logits[n] = last
                    if last:
                        wants_logits.append((slot, n))
                    n += 1
                slot.pos += len(take)
                del slot.pending[:len(take)]
            batch.n_tokens = n
            code = lib.llama_decode(ctx, batch)
            if code != 0:
                raise ModelError(f"llamacpp: llama_decode failed (code {code})",
                                 hint="lower --batch-size; the KV cache may be full")
            finished = []
            for slot, row in wants_logits:
                logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx, row), shape=(self.n_vocab,))
                token = int(logits.argmax())
                if lib.llama_vocab_is_eog(self.vocab, token):
                    finished.append(slot)
                    continue
                slot.generated.append(token)
                if len(slot.generated) >= slot.budget or slot.pos + 1 >= self.n_ctx_train:
                    finished.append(slot)
                else:
                    slot.pending.append(token)
            for slot in finished:
                active.remove(slot)
                lib.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
                free.append(slot.seq)
                yield slot.index, prompts[slot.index], slot.generated


def _threads() -> int:
    """OMP_NUM_THREADS as `run --threads` / FSABENCH_THREADS set it, else the physical cores we may use."""
    from fsabench.threads import resolve_threads

    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else resolve_threads()


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return text[:cut] if cut >= 0 else text
