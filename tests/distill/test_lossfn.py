"""The pretraining loss projects only label positions onto the vocabulary: the same loss and gradients
as the model's own (every padded position projected, then ignored)."""

from __future__ import annotations

import torch

from fsabench.distill.data import collate
from fsabench.distill.lossfn import Seq2SeqLMLoss


def test_selective_loss_equals_the_models_loss_and_gradients(tiny_t5):
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_t5)
    generator = torch.Generator().manual_seed(0)
    sources = [torch.randint(2, 500, (n,), generator=generator).tolist() for n in (7, 12, 3)]
    targets = [torch.randint(2, 500, (n,), generator=generator).tolist() for n in (30, 4, 17)]  # much padding
    batch = collate(sources, targets, model.config.pad_token_id)
    losses, grads = [], []
    for selective in (False, True):
        model.zero_grad()
        loss = Seq2SeqLMLoss(model, selective)(batch.input_ids, batch.attention_mask, batch.labels)
        loss.backward()
        losses.append(loss.item())
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert Seq2SeqLMLoss(model).selective
    assert abs(losses[0] - losses[1]) < 1e-5
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)
