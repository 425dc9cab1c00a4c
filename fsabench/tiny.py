"""A tiny T5 built from a config, with a Unigram tokenizer trained on local text: for tests, the
tiny distillation recipe and offline demos (no T5 weights exist offline). ~0.4M parameters."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fsabench.formats import NEWLINE_TOKEN  # noqa: E402  (defined once)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000):
    """A T5-style Unigram tokenizer (pad=0, eos=1, unk=2) with `[NL]` as a non-special added token."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"],
                                      unk_token="<unk>")
    tok.train_from_iterator(list(texts), trainer=trainer)
    from tokenizers.processors import TemplateProcessing

    tok.post_processor = TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                            special_tokens=[("</s>", tok.token_to_id("</s>"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    fast.add_tokens([NEWLINE_TOKEN])  # non-special: skip_special_tokens must keep it
    return fast


def build_tiny_t5(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 2000, d_model: int = 64,
                  num_layers: int = 2, num_heads: int = 4, d_ff: int = 128, seed: int = 0) -> Path:
    """Train a tokenizer on `texts`, build a randomly initialised T5 around it, save both to out_dir."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = train_tokenizer(texts, vocab_size)
    torch.manual_seed(seed)
    config = T5Config(vocab_size=len(tokenizer), d_model=d_model, d_kv=d_model // num_heads, d_ff=d_ff,
                      num_layers=num_layers, num_heads=num_heads, pad_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)
    model = T5ForConditionalGeneration(config)
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
