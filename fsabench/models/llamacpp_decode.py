"""Greedy continuous batching over llama.cpp's C API that answers exactly as a one-prompt-at-a-time loop.

The reference is what a user writes: `Llama.create_chat_completion(temperature=0)` over the prompts in
turn. That loop keeps the KV cache of the previous prompt and feeds only the tokens after the common
prefix (FSA prompts share ~80% of their tokens), decodes one token per forward pass, and lays each
token's K/V at the cell of its position. We keep all three properties per slot and batch the rest:

* one KV stream per slot (`kv_unified` off), so a sequence's token at position p sits in cell p of its
  own stream, as in the loop. llama.cpp's kernels compute each row on its own, but softmax and the
  attention-weighted sum add cells in SIMD chunks by cell index: a unified pool (cells wherever they
  are free, the prefix shared by tags) changes those sums in the last bits, and a 135M model's near
  ties then flip about one answer in five (measured: 52 of 64 identical);
* each prompt starts from the cells of the prompt before it (with its answer) up to their common
  prefix, copied into its slot when another slot holds them, and feeds the rest in one call, as the
  loop does. llama.cpp's matrix kernels add in an order that depends on how many tokens one call
  computes, so a token's K/V depends on which call computed it: a prefix fed once for all prompts
  (what this did before) flipped 3 of 4,238 benchmark answers; the loop's calls give the loop's
  answers;
* each step decodes one token for every decoding slot in one `llama_decode`, ordered by sequence id:
  over per-sequence streams llama.cpp cuts a batch into one micro-batch (one pass over the weights) per
  run of consecutive ids and per token count, so prompts are fed in their own calls, one per slot.

A sequence whose stream fills up (a long prompt and a long answer) is paused: its cells are copied out
(`llama_state_seq_get_data`, in position order) into a context of one stream big enough for its
budget, and it goes on decoding there alone, one token per call as the loop does (`Streams.go_on`):
nothing is computed twice and every K/V is the one the loop computed. A prompt longer than a stream
is run alone from the start, fed whole as a fresh loop feeds it (the one case where our calls can
differ from a loop that had a previous prompt). An answer stops for length where the loop stops it:
not inside a multi-byte character (`_Slot.at_budget`).
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fsabench.errors import ModelError

MAX_BATCH_TOKENS = 512  # tokens per llama_decode call (a long prompt goes in several)
CELL_STEP = 256  # llama.cpp rounds a stream's cells up to a multiple of this
PIECE_BYTES = 32  # llama-cpp-python's buffer for one token's text


@dataclass
class _Slot:
    index: int  # the request's position in the call
    seq: int  # llama.cpp sequence id = the slot's KV stream
    pending: list[int]  # tokens still to feed (the prompt's own part, then each new token)
    budget: int
    pos: int  # next position (= cells already holding this sequence)
    generated: list[int] = field(default_factory=list)
    tail: bytes = b""  # the answer's last three bytes
    multibyte_fix: int = 0

    def at_budget(self, piece: bytes) -> bool:
        """Whether the answer stops here for length, by llama-cpp-python's own rule (`Llama._create_completion`,
        copied as it is, quirks included): while the text seems to end inside a multi-byte UTF-8 character (a
        lead byte among its last three bytes), the length check is skipped, so an answer cut at its budget
        still ends on a whole character (`max_tokens=1` on an emoji answers the emoji, three tokens)."""
        self.tail = (self.tail + piece)[-3:]
        for k, char in enumerate(self.tail):
            k = 3 - k
            for num, pattern in ((2, 192), (3, 224), (4, 240)):
                if num > k and pattern & char == pattern:
                    self.multibyte_fix = num - k
        if self.multibyte_fix > 0:
            self.multibyte_fix -= 1
            return False
        return len(self.generated) >= self.budget


class Streams:
    """A llama.cpp context of `slots` KV streams of `cells` cells each; greedy decoding of many prompts."""

    def __init__(self, lib: Any, model: Any, slots: int, cells: int, threads: int) -> None:
        self.lib, self.slots, self.cells = lib, slots, stream_cells(cells)
        params = lib.llama_context_default_params()
        params.n_ctx = self.cells * slots
        params.n_batch = params.n_ubatch = MAX_BATCH_TOKENS
        params.n_seq_max = slots
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = slots == 1
        # as llama-cpp-python's Llama (so the plain loop) runs: the same attention kernel, the same sums
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.no_perf = True
        self.ctx = lib.llama_init_from_model(model, params)
        if not self.ctx:
            raise ModelError(f"llamacpp: cannot allocate a context of {slots} x {self.cells} tokens",
                             hint="lower --batch-size (parallel sequences)")
        self.memory = lib.llama_get_memory(self.ctx)
        self.vocab = lib.llama_model_get_vocab(model)
        self.n_vocab = lib.llama_vocab_n_tokens(self.vocab)
        self.batch = lib.llama_batch_init(MAX_BATCH_TOKENS, 0, 1)
        self.piece_buffer = ctypes.create_string_buffer(PIECE_BYTES)
        self.held: list[list[int]] = [[] for _ in range(slots)]  # the tokens each stream's cells hold
        self.last: int | None = None  # the stream of the prompt admitted last (the loop's previous prompt)
        self.paused: dict[int, tuple[_Slot, bytes]] = {}  # request index -> its slot and cells, stream full

    def close(self) -> None:
        if self.ctx is not None:
            self.lib.llama_batch_free(self.batch)
            self.lib.llama_free(self.ctx)
            self.ctx = None

    def run(self, todo: Sequence[int], prompts: Sequence[list[int]],
            budgets: Sequence[int]) -> Iterator[tuple[int, list[int], bool]]:
        """Yield (request index, generated tokens, finished) as each ends; not finished when its prompt
        does not fit a stream, or when its stream filled up first: then `paused[index]` holds its slot
        and cells until the caller takes them (`go_on` in a bigger context) before the next one. Prompts
        are admitted in the order given, each fed as the loop feeds it (`_admit`), right away: the next
        one starts from its cells."""
        queue = [i for i in todo if len(prompts[i]) < self.cells]
        for i in [i for i in todo if len(prompts[i]) >= self.cells]:
            yield i, [], False
        queue.reverse()  # pop() takes the next in order
        free, active, done = set(range(self.slots)), {}, []

        def retire(ended: list[_Slot]) -> None:  # its slot is free for the next prompt at once
            for slot in ended:
                done.append(slot)
                del active[slot.seq]
                free.add(slot.seq)

        while queue or active:
            done.clear()
            while queue and free:
                slot = self._admit(queue.pop(), free, prompts, budgets)
                free.discard(slot.seq)
                active[slot.seq] = slot
                if len(slot.pending) > 1:  # a prompt's own first token can end its answer (end of generation, a budget of 1)
                    retire(self._feed([slot], prompt=True))
            retire(self._feed(sorted((s for s in active.values() if len(s.pending) == 1), key=lambda s: s.seq)))
            for slot in done:
                cells = self.cells_of(slot.seq) if slot.pending else None  # its stream is full: its cells go out
                if cells is not None:
                    self.paused[slot.index] = (slot, cells)
                yield slot.index, slot.generated, not slot.pending
                self.paused.pop(slot.index, None)

    def cells_of(self, seq: int) -> bytes | None:
        """Stream `seq`'s cells (tokens, positions, K/V) in cell order, as llama.cpp serializes them for a
        context of ONE stream (what `go_on` runs in); None when they cannot be had."""
        size = self.lib.llama_state_seq_get_size(self.ctx, seq)
        buffer = (ctypes.c_uint8 * size)()
        written = self.lib.llama_state_seq_get_data(self.ctx, buffer, size, seq)
        state = bytes(buffer)[:written] if written else b""
        return one_stream_state(state) if self.slots > 1 else state or None

    def go_on(self, slot: _Slot, cells: bytes) -> list[int] | None:
        """Finish a sequence paused in another context: its `cells` into this one-stream context (in order,
        from cell 0: each token's K/V again at the cell of its position), then one token per call to its
        end. None when llama.cpp does not take the cells (the caller runs the request from the start)."""
        buffer = (ctypes.c_uint8 * len(cells)).from_buffer_copy(cells)
        self.lib.llama_memory_seq_rm(self.memory, 0, 0, -1)
        if self.lib.llama_state_seq_set_data(self.ctx, buffer, len(cells), 0) != len(cells):
            self.lib.llama_memory_seq_rm(self.memory, 0, 0, -1)
            return None
        slot.seq = 0
        while not self._feed([slot]):  # [slot] once it ends
            pass
        return slot.generated

    def _admit(self, i: int, free: set[int], prompts: Sequence[list[int]], budgets: Sequence[int]) -> _Slot:
        """A free slot for prompt i, holding what the loop would hold when it reaches prompt i: the cells of
        the previous prompt (with its answer) up to their common prefix, at least one prompt token left to
        feed. llama.cpp's matrix kernels add in an order that depends on how many tokens go through
        together, so a token's K/V depends on which call computed it; taking the cells from the previous
        prompt's stream (not from whichever stream shares most) makes every call the loop's call."""
        prompt, source = prompts[i], self.last
        keep = min(common_length(self.held[source], prompt), len(prompt) - 1) if source is not None else 0
        seq = source if source in free else min(free)
        if seq != source and keep:  # llama.cpp copies between streams whole: copy, then cut
            self.lib.llama_memory_seq_rm(self.memory, seq, 0, -1)
            self.lib.llama_memory_seq_cp(self.memory, source, seq, -1, -1)
            self.held[seq] = list(self.held[source])
        self.lib.llama_memory_seq_rm(self.memory, seq, keep, -1)
        del self.held[seq][keep:]
        self.last = seq
        return _Slot(index=i, seq=seq, pending=list(prompt[keep:]), budget=budgets[i], pos=keep)

    def _feed(self, slots: list[_Slot], prompt: bool = False) -> list[_Slot]:
        """Feed `slots`' pending tokens (a prompt: all of one slot's, in calls of MAX_BATCH_TOKENS; a
        step: one token per slot), pick each one's next token greedily; return the slots that finished."""
        import numpy as np

        if not slots:
            return []
        lib, batch, finished = self.lib, self.batch, []
        while True:
            n = 0
            for slot in slots:
                take = slot.pending[:MAX_BATCH_TOKENS - n] if prompt else slot.pending[:1]
                for k, token in enumerate(take):
                    batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, slot.pos + k, 1
                    batch.seq_id[n][0] = slot.seq
                    batch.logits[n] = k == len(slot.pending) - 1
                    n += 1
                slot.pos += len(take)
                self.held[slot.seq] += take
                del slot.pending[:len(take)]
            batch.n_tokens = n
            code = lib.llama_decode(self.ctx, batch)
            if code != 0:
                raise ModelError(f"llamacpp: llama_decode failed (code {code})", hint="lower --batch-size")
            if not prompt or not slots[0].pending:
                break
        for row, slot in enumerate(slots):
            logits = lib.llama_get_logits_ith(self.ctx, n - 1 if prompt else row)
            token = int(np.ctypeslib.as_array(logits, shape=(self.n_vocab,)).argmax())
            if lib.llama_vocab_is_eog(self.vocab, token):
                finished.append(slot)
                continue
            slot.generated.append(token)
            slot.pending.append(token)
            if slot.at_budget(self.piece(token)):
                slot.pending.clear()
                finished.append(slot)
            elif slot.pos >= self.cells:  # no cell left for the new token: re-run alone, bigger
                finished.append(slot)
        return finished

    def piece(self, token: int) -> bytes:
        """The token's bytes, as llama-cpp-python's detokenize writes them (special tokens as nothing)."""
        n = self.lib.llama_token_to_piece(self.vocab, token, self.piece_buffer, PIECE_BYTES, 0, False)
        return self.piece_buffer.raw[:max(0, n)]


def stream_cells(cells: int) -> int:
    """The cells llama.cpp gives a stream asked for `cells` (rounded up to a multiple of CELL_STEP)."""
    return -(-cells // CELL_STEP) * CELL_STEP


def one_stream_state(state: bytes) -> bytes | None:
    """A sequence's saved cells from a context of n KV streams, for a context of one: llama.cpp refuses a
    state whose stream count differs from the context's, though a sequence's cells sit in one stream.
    Its layout (llama-kv-cache.cpp `state_write`): u32 magic, u32, u32 n_stream, then per stream a u32 cell
    count and, when not 0, that stream's cells; we keep the one stream with cells. None when the layout
    is not this one (another llama.cpp version): the caller then runs the request from the start."""
    import struct

    if len(state) < 12:
        return None
    magic, _, streams = struct.unpack_from("<III", state, 0)
    offset = 12
    for stream in range(streams):
        if offset + 4 > len(state):
            return None
        if struct.unpack_from("<I", state, offset)[0]:
            break
        offset += 4
    else:
        return None  # no cells at all
    trailer = 4 * (streams - 1 - stream)  # the empty streams after it: a zero count each
    if trailer and any(state[len(state) - trailer:]):
        return None
    return struct.pack("<III", magic, 0, 1) + state[offset:len(state) - trailer]


def common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
