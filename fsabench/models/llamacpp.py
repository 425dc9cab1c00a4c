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

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fsabench.errors import ModelError
from fsabench.models.base import Completion, Request
from fsabench.models.fingerprint import file_fingerprint
from fsabench.models.llamacpp_decode import Streams, stream_cells

ANSWER_ROOM = 32  # cells per stream beyond the longest prompt (FSA answers average ~17 tokens)
# KV cells of all streams together: the slots share this budget (8 streams of 256 cells; 4 of 512 for
# prompts over ~220 tokens). On CPU a decode step over 8 sequences costs about what 16 cost (the weights
# are read once per step either way: full FSA benchmark, first 60 per task, 1 thread: 77.6 vs 78.2 CPU-s),
# while each stream holds its cells (SmolLM2-135M: 23 KB per cell, 5.9 MB per 256-cell stream) whether
# it is busy or not: 16 streams took the peak from 242 to 291 MB.
KV_CELLS = 2048
MULTIBYTE_ROOM = 8  # tokens past the budget that finish a multi-byte character (Streams' length rule)


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
        self.model = _load(llama_cpp, path, target)
        self.version = getattr(llama_cpp, "__version__", "unknown")
        self.n_ctx_train = self.model.n_ctx_train()
        self.template = self.model.metadata().get("tokenizer.chat_template")
        self.formatter = None
        if self.template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            eos, bos = self.model.token_eos(), self.model.token_bos()
            self.formatter = Jinja2ChatFormatter(
                template=self.template, eos_token=self.model.token_get_text(eos) if eos != -1 else "",
                bos_token=self.model.token_get_text(bos) if bos != -1 else "", stop_token_ids=[eos])
        self.prompt_style = prompt_style or ("chat" if self.formatter else "raw")
        self._ctx: Streams | None = None
        self.stream_shapes: set[tuple[int, int]] = set()  # the slot contexts built: (streams, cells each)
        self.moved = 0  # sequences whose stream filled up and that went on in a bigger context (`_go_on`)
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
            return int(self._lib.llama_model_n_params(self.model.model))
        except (AttributeError, TypeError):
            return None

    def close(self) -> None:
        with self.lock:
            self._free_context()
            self.model.close()

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
        return self.model.tokenize(text.encode("utf-8"), add_bos=not chat, special=True)

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
        for i, tokens in enumerate(prompts):
            if len(tokens) + 1 > self.n_ctx_train:
                results[i] = Completion(text=None, error=f"prompt of {len(tokens)} tokens is longer than the model's "
                                                         f"context ({self.n_ctx_train})")
            else:
                todo.append(i)
        if todo:
            streams = self._streams(max(len(prompts[i]) for i in todo))
            again = []
            for i, generated, finished in streams.run(todo, prompts, budgets):
                if not finished and i in streams.paused:  # its stream filled up: it goes on alone, at once
                    went_on = self._go_on(prompts[i], budgets[i], *streams.paused[i])
                    generated, finished = (went_on, True) if went_on is not None else (generated, False)
                if finished:
                    results[i] = self._completion(requests[i], prompts[i], generated)
                else:
                    again.append(i)
            for i, generated in self._alone(again, prompts, budgets):
                results[i] = self._completion(requests[i], prompts[i], generated)
        return [r for r in results if r is not None]

    def _completion(self, request: Request, prompt: list[int], generated: list[int]) -> Completion:
        # as llama-cpp-python's completion decodes: bytes that are no whole character are dropped
        text = self.model.detokenize(generated).decode("utf-8", errors="ignore").strip()
        return Completion(text=_cut_at_stop(text, request.stop), prompt_tokens=len(prompt),
                          completion_tokens=len(generated))

    def _streams(self, longest_prompt: int) -> Streams:
        """The slots' context, with room in each stream for the longest prompt plus a typical answer (a
        longer answer is finished alone); rebuilt bigger when a call's prompts need it."""
        cells = stream_cells(min(self.n_ctx_train, longest_prompt + ANSWER_ROOM))
        if self._ctx is None or self._ctx.cells < cells:
            self._free_context()
            slots = max(1, min(self.slots, KV_CELLS // cells))
            self._ctx = Streams(self._lib, self.model.model, slots, cells, self.threads)
            self.stream_shapes.add((slots, self._ctx.cells))
        return self._ctx

    def _one_stream(self, prompt: list[int], budget: int) -> Streams:
        """A context of one stream with room for the prompt, its whole budget and a character's last bytes."""
        room = len(prompt) + budget + 1 + MULTIBYTE_ROOM
        return Streams(self._lib, self.model.model, 1, min(self.n_ctx_train, room), self.threads)

    def _go_on(self, prompt: list[int], budget: int, slot: Any, cells: bytes) -> list[int] | None:
        """A sequence whose stream filled up, finished alone in a context of one stream with room for its
        whole budget: held beside the slots' context for the moment it takes (one stream of that size)."""
        alone = self._one_stream(prompt, budget)
        try:
            generated = alone.go_on(slot, cells)
        finally:
            alone.close()
        self.moved += generated is not None
        return generated

    def _alone(self, todo: list[int], prompts: list[list[int]], budgets: list[int]):
        """Requests whose prompt is longer than a stream, one at a time in a context big enough for each; the slots'
        context is freed first (rebuilt by the next call), so the peak memory is the bigger of the two
        contexts, not their sum."""
        if todo:
            self._free_context()
        for i in todo:
            streams = self._one_stream(prompts[i], budgets[i])
            try:
                for _, generated, _ in streams.run([i], prompts, budgets):
                    yield i, generated
            finally:
                streams.close()

    def _free_context(self) -> None:
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None


def _load(llama_cpp: Any, path: Path, target: str) -> Any:
    """The model alone (llama-cpp-python's LlamaModel: vocabulary, metadata, weights memory-mapped), loaded
    as its `Llama` loads it; the contexts are ours (a `Llama` would add one more KV cache and buffers)."""
    from llama_cpp._internals import LlamaModel
    from llama_cpp._logger import set_verbose

    set_verbose(False)
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = 0
    params.load_mode = getattr(llama_cpp, "LLAMA_LOAD_MODE_MMAP", params.load_mode)
    try:
        return LlamaModel(path_model=str(path), params=params, verbose=False)
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"llamacpp: cannot load {target}: {first}",
                         hint="is it a GGUF file this llama.cpp version reads?") from None


def _threads() -> int:
    """The count torch gets too (`--threads`, FSABENCH_THREADS, OMP_NUM_THREADS, else the physical cores)."""
    from fsabench.threads import resolve_threads

    return resolve_threads()


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return text[:cut] if cut >= 0 else text
