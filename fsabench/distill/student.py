"""Load a seq2seq student (hub id or folder) ready for training: `[NL]` added, embeddings resized."""

from __future__ import annotations

from pathlib import Path

from fsabench.distill.data import NEWLINE_TOKEN
from fsabench.errors import FsabenchError, ModelError


def model_target(name: str | Path) -> str:
    """`hf:runs/student` -> `runs/student`; a bare path or hub id passes through."""
    text = str(name)
    scheme, sep, rest = text.partition(":")
    if sep and scheme == "hf":
        return rest
    if sep and not Path(text).exists():
        raise FsabenchError(f"student {text!r} is not a local seq2seq model",
                            hint="give hf:<hub id or folder>, e.g. hf:google-t5/t5-base or hf:runs/tiny/student")
    return text


def load_student(name: str | Path, add_newline_token: bool = True):
    """(model, tokenizer) in float32 on the CPU; `[NL]` is added as a non-special token (so decoding
    keeps it) and the embeddings are resized to the tokenizer, as the paper's pretraining does."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from fsabench.models.hf import quiet_transformers

    quiet_transformers()
    target = model_target(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(target)
        model = AutoModelForSeq2SeqLM.from_pretrained(target)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"cannot load student {target!r}: {first}",
                         hint="give a seq2seq hub id (needs internet) or a folder saved with save_pretrained") from None
    if add_newline_token and NEWLINE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([NEWLINE_TOKEN])
    if model.get_input_embeddings().num_embeddings != len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    return model, tokenizer


def pick_precision(device: str, dtype: str):
    """(device, autocast dtype or None): bf16 autocast on GPUs that support it, float32 elsewhere."""
    import torch

    from fsabench.models.hf import pick_device

    device = pick_device(device)
    if dtype == "auto":
        use_bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
        return device, (torch.bfloat16 if use_bf16 else None)
    return device, {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def seq2seq_loss(model, batch, device: str, autocast_dtype):
    """Mean token loss of a collated Batch, under bf16/fp16 autocast when one is chosen."""
    import torch

    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    with torch.autocast(device_type=device_type, dtype=autocast_dtype or torch.float32,
                        enabled=autocast_dtype is not None):
        return model(input_ids=batch.input_ids.to(device), attention_mask=batch.attention_mask.to(device),
                     labels=batch.labels.to(device)).loss
