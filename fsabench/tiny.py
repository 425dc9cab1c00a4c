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


CHATML_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                   "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 2000):
    """A byte-level BPE tokenizer with ChatML special tokens and a chat template (for a tiny causal LM)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.chat_template = CHATML_TEMPLATE
    return fast


def build_tiny_llama(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 2000, hidden: int = 128,
                     heads: int = 2, layers: int = 2, seed: int = 0) -> Path:
    """A random-weight Llama (hidden 128, 2 heads of 64: vLLM's CPU attention rejects head_dim 16) with a
    BPE tokenizer trained on `texts` and a ChatML template; float32 safetensors. ~0.7M parameters.

    Weights are drawn wider than usual (std 0.1) so greedy choices are rarely near-ties, which lets two
    engines on the same weights be compared answer by answer."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = train_bpe_tokenizer(texts, vocab_size)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                         max_position_embeddings=1024, initializer_range=0.1, tie_word_embeddings=False,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, torch_dtype="float32")
    model = LlamaForCausalLM(config).eval()
    out = Path(out_dir)
    model.save_pretrained(out, safe_serialization=True)
    GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
                     pad_token_id=config.pad_token_id, do_sample=False).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
