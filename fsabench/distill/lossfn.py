"""The pretraining loss as one module, computing the vocabulary projection only where a label is.

`T5ForConditionalGeneration(labels=...)` projects every decoder position, padding included, onto the
vocabulary (a [batch, longest target, vocab] tensor) and then ignores the padded positions in the
cross-entropy. With the paper's random batches about half of a micro-batch's target positions are
padding, and the projection plus its cross-entropy are the largest single cost of a T5 step
(t5-base: 768 x 32k per position). `Seq2SeqLMLoss` runs the same encoder and decoder, gathers the
positions that carry a label and projects only those: the same loss (the mean over label tokens),
the same gradients, less work. Other seq2seq models (no T5 layout) use the model's own loss.

It is an `nn.Module`, so accelerate/DDP wrap it like the model (gradients are synchronised through
its forward); `.model` is the student to save.
"""

from __future__ import annotations

import torch

IGNORE = -100


def has_t5_layout(model) -> bool:
    return all(hasattr(model, name) for name in ("encoder", "decoder", "lm_head", "_shift_right", "model_dim")) \
        and hasattr(model.config, "scale_decoder_outputs")


class Seq2SeqLMLoss(torch.nn.Module):
    """forward(input_ids, attention_mask, labels) -> mean cross-entropy over the label tokens."""

    def __init__(self, model, selective: bool = True) -> None:
        super().__init__()
        self.model = model
        self.selective = selective and has_t5_layout(model)

    def forward(self, input_ids, attention_mask, labels):
        model = self.model
        if not self.selective:
            return model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        hidden = model.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        decoded = model.decoder(input_ids=model._shift_right(labels), encoder_hidden_states=hidden,
                                encoder_attention_mask=attention_mask, use_cache=False).last_hidden_state
        keep = labels != IGNORE
        picked = decoded[keep]  # [label tokens, d_model]: padding never reaches the vocabulary projection
        if model.config.scale_decoder_outputs:
            picked = picked * (model.model_dim ** -0.5)
        logits = model.lm_head(picked)
        return torch.nn.functional.cross_entropy(logits, labels[keep])  # autocast runs it in float32
