"""Distillation: a teacher corpus, student pretraining and multi-seed fine-tuning (docs/distill.md).

    reviews.py, teacher.py   reviews -> teacher prompts -> responses (through any model adapter)
    corpus.py, filters.py    responses.jsonl -> filtered corpus.jsonl / valid.jsonl + report
    data.py                  streaming micro-batches, a new global order every epoch, resumable
    optim.py, schedule.py    nanoT5's AdamWScale; the schedules (torch-free)
    student.py               load a seq2seq student ([NL] added), precision, the loss
    pretrain.py, checkpoint.py   the pretraining loop and its exact-resume checkpoints
    finetune.py              one (task, seed): train, pick the best dev epoch, test through the runner
    executors.py, sweep.py   run (task, seed) jobs here or on Ray; aggregate over seeds
    recipe.py, stages.py     recipe files and the stage runner
    distributed.py           which rank runs which stage under accelerate launch, waits between
    plan.py                  `recipe --plan`: every stage's resolved settings

Only optim.py imports torch at module level, and only the training paths import it: loading a
recipe or a corpus does not.
"""
