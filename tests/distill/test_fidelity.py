"""paper.yaml trains what the paper's code (HITSZ-HLT/FSA-Distillation, pre-training/ and evaluation/)
trained: one test per divergence that was fixed, each pinning the faithful value, plus the settings
that keep a real run going (reviews without text, transformers' dtype keyword, Ray paths, --plan)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import pytest

from tests.conftest import DATA_DIR

TEACHER_FILE = DATA_DIR / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"


@pytest.fixture(scope="module")
def paper():
    from fsabench.distill.recipe import load_recipe

    return load_recipe("paper.yaml")[0]


def seed_schedule(nominal: float, final: float, total: int, steps: list[int]) -> dict[int, float]:
    """The lr the seed's optimizer saw at each optimizer step under torch 2.1.1: SequentialLR([LinearLR(
    start_factor=0.5, total_iters=0), CosineAnnealingLR], milestones=[0]) leaves the LinearLR's halved rate
    in place, and from then on the chainable cosine recursion runs from that rate (pytorch#185872)."""
    lr, out, want = nominal * 0.5, {}, set(steps)
    for t in range(1, max(steps) + 1):
        if t in want:
            out[t] = lr
        lr = final + (lr - final) * (1 + math.cos(math.pi * t / total)) / (1 + math.cos(math.pi * (t - 1) / total))
    out[0] = nominal * 0.5
    return out


# 1 -------------------------------------------------------------------------------------------------
def test_1_pretraining_lr_is_the_cosine_that_actually_ran(paper):
    from fsabench.distill.optim import cosine_lr

    cfg = paper.pretrain
    ours = {s: cosine_lr(s, cfg.steps, cfg.lr, cfg.final_lr, cfg.warmup_steps) for s in (0, 100_000, 200_000)}
    assert ours[0] == pytest.approx(1.5e-3) and ours[200_000] == pytest.approx(1e-5)
    assert ours[100_000] == pytest.approx((1.5e-3 + 1e-5) / 2)
    # the same shape as the seed's torch-2.1.1 schedule from its nominal 3e-3 (a 2,000-step run keeps this fast)
    seed = seed_schedule(3e-3, 1e-5, 2000, [0, 1000, 1999])
    for step in (0, 1000, 1999):
        assert cosine_lr(step, 2000, cfg.lr, cfg.final_lr) == pytest.approx(seed[step], rel=3e-3)  # within a step
    from fsabench.distill.recipe import RECIPES_DIR

    assert "pytorch/pytorch#185872" in (RECIPES_DIR / "paper.yaml").read_text()  # the why, next to the value


# 2 -------------------------------------------------------------------------------------------------
def test_2_every_epoch_visits_the_whole_corpus_in_a_new_global_order_and_resumes_exactly(tiny_t5):
    from transformers import AutoTokenizer

    from fsabench.distill.data import CorpusStream, StreamConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_t5)
    cfg = StreamConfig(micro_batch_size=10, max_target_tokens=32, buffer_rows=50, seed=3)
    stream = CorpusStream(TEACHER_FILE, tokenizer, cfg)
    rows = len(stream.offsets)
    assert rows == 500 and stream.offsets.nbytes == 8 * rows  # memory: one offset a row, texts stay on disk
    first, second = stream.order(0).tolist(), stream.order(1).tolist()
    assert sorted(first) == sorted(second) == list(range(rows)) and first != second
    # global, not a buffer shuffle: the first 50 rows trained come from all over the file
    assert max(first[:50]) - min(first[:50]) > 400
    epochs = Counter()
    batches = []
    for batch, position in stream.batches():
        if position.epoch > 0 and position.batch > 0:
            break
        epochs[position.epoch] += batch.rows
        batches.append((batch, position))
    assert epochs[0] == 500
    resumed = [b for _, b in zip(range(8), stream.batches(batches[41][1]))]  # across window and epoch ends
    for (a, pa), (b, pb) in zip(batches[42:], resumed):
        assert pa == pb and a.input_ids.equal(b.input_ids) and a.labels.equal(b.labels)


# 3 -------------------------------------------------------------------------------------------------
def test_3_random_batches_by_default_and_buckets_weight_every_token_alike(paper, tiny_t5):
    from transformers import AutoTokenizer

    from fsabench.distill.data import CorpusStream, StreamConfig
    from fsabench.distill.pretrain import PretrainConfig, micro_weights

    assert paper.pretrain.batching == "random" and PretrainConfig().batching == "random"
    tokenizer = AutoTokenizer.from_pretrained(tiny_t5)
    fill = {}
    for mode in ("random", "bucket"):
        stream = CorpusStream(TEACHER_FILE, tokenizer, StreamConfig(16, max_target_tokens=400, buffer_rows=200,
                                                                    batching=mode))
        got = [b for _, (b, _) in zip(range(12), stream.batches())]
        fill[mode] = sum(int((b.labels != -100).sum()) for b in got) / sum(b.labels.numel() for b in got)
    assert fill["bucket"] > fill["random"] + 0.15  # what bucketing buys: less padding
    # the loss: random = mean of micro-batch means (the seed's trainer); bucket = every token alike
    tokens, means = [30, 300], [2.0, 1.0]
    assert micro_weights(tokens, "random") == [0.5, 0.5]
    bucket = micro_weights(tokens, "bucket")
    assert sum(w * m for w, m in zip(bucket, means)) == pytest.approx((30 * 2.0 + 300 * 1.0) / 330)


# 4 -------------------------------------------------------------------------------------------------
def test_4_each_review_goes_to_the_teacher_under_both_prompts(paper):
    from fsabench.distill.corpus import infer_prompt_type
    from fsabench.distill.teacher import assigned, load_prompts

    assert paper.corpus.assign == "both" and paper.corpus.prompts == ["analysis", "rewrite"]
    prompts = load_prompts(paper.corpus.prompts)
    assert [p.name for p in assigned({"ID": 7, "Text": "ok"}, prompts, "both")] == ["analysis", "rewrite"]
    assert len(assigned({"ID": 7, "Text": "ok"}, prompts, "random")) == 1  # still an option
    # the released test file: the one ID that repeats is the same review under both prompts
    rows = [json.loads(line) for line in TEACHER_FILE.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    twice = [i for i, n in Counter(r["ID"] for r in rows).items() if n == 2]
    kinds = sorted(infer_prompt_type(r["mixtral_response"]) for r in rows if r["ID"] in twice)
    assert len(twice) == 1 and kinds == ["analysis", "rewrite"]


# 5 -------------------------------------------------------------------------------------------------
def test_5_the_analysis_prompt_uses_the_scale_the_released_answers_show():
    from fsabench.distill.teacher import PROMPTS_DIR

    text = (PROMPTS_DIR / "analysis.j2").read_text()
    assert "Very Negative, Negative, Mild, Positive, Very Positive" in text
    assert "not published" in text
    answers = [json.loads(line)["mixtral_response"]
               for line in TEACHER_FILE.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    said = Counter(m.lower() for a in answers for m in re.findall(r"Sentiment[^:\n]*:\**\s*([A-Za-z ]+)", a))
    mild = sum(n for s, n in said.items() if "mild" in s)
    assert mild > said["neutral"] and said["very positive"] > 0 and said["very negative"] > 0


# 6 -------------------------------------------------------------------------------------------------
def test_6_the_paper_trains_on_raw_teacher_text(paper, tmp_path):
    from fsabench.distill.corpus import finalize, import_corpus
    from fsabench.distill.recipe import load_recipe

    assert paper.corpus.filters.enabled is False
    assert load_recipe("tiny.yaml")[0].corpus.filters.enabled is True  # the tiny recipe keeps them
    import_corpus([TEACHER_FILE], tmp_path)
    report = finalize(tmp_path, paper.corpus.filters, 0.0)
    assert report["kept"] == 500 and report["dropped"] == {} and report["cut"] == {}
    kept = [json.loads(line)["mixtral_response"] for line in (tmp_path / "corpus.jsonl").read_text().splitlines()]
    raw = [json.loads(line)["mixtral_response"]
           for line in TEACHER_FILE.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    assert kept == raw  # every response exactly as the teacher wrote it
    assert any("Consider the following review" in t for t in kept)  # runaway continuations left in


# 7, 8 ----------------------------------------------------------------------------------------------
def test_7_8_finetuning_adamw_eps_1e6_and_decay_on_every_parameter(paper, tiny_t5):
    from fsabench.distill.finetune import FinetuneConfig, finetune_optimizer
    from fsabench.distill.student import load_student

    cfg = paper.finetune.config()
    assert cfg.adam_eps == 1e-6 and cfg.decay_all and FinetuneConfig().adam_eps == 1e-6
    model, _ = load_student(f"hf:{tiny_t5}")
    optimizer = finetune_optimizer(model, cfg)
    assert len(optimizer.param_groups) == 1
    group = optimizer.param_groups[0]
    assert group["eps"] == 1e-6 and group["weight_decay"] == 0.01
    assert len(group["params"]) == len(list(model.parameters()))
    names = [n for n, _ in model.named_parameters()]
    assert any("layer_norm" in n for n in names) and any("relative_attention_bias" in n for n in names)
    exempt = finetune_optimizer(model, FinetuneConfig(decay_all=False)).param_groups  # nanoT5's groups, opt-in
    assert [g["weight_decay"] for g in exempt] == [0.01, 0.0]


# 9 -------------------------------------------------------------------------------------------------
def test_9_dev_and_test_are_decoded_by_the_same_hf_code_under_the_training_precision(tiny_t5):
    from fsabench.distill.student import load_student, pick_precision
    from fsabench.models.base import Request
    from fsabench.models.hf import HFAdapter

    assert pick_precision("cpu", "auto") == ("cpu", None)  # CPU: float32, unchanged
    model, tokenizer = load_student(f"hf:{tiny_t5}")
    requests = [Request(id=str(i), prompt=t, max_new_tokens=6)
                for i, t in enumerate(["The pizza was great.", "Slow service but tasty food", "ok"])]
    dev = HFAdapter.from_loaded("dev", model, tokenizer, "cpu", batch_size=2).generate(requests)
    model.save_pretrained(tiny_t5.parent / "saved"), tokenizer.save_pretrained(tiny_t5.parent / "saved")
    test = HFAdapter("test", str(tiny_t5.parent / "saved"), batch_size=2, device="cpu", dtype="float32")
    assert [c.text for c in dev] == [c.text for c in test.generate(requests)]
    # bf16 autocast over float32 weights (the seed's bf16-mixed), shown on CPU autocast
    mixed = HFAdapter.from_loaded("dev", model, tokenizer, "cpu", batch_size=2, autocast="bfloat16")
    assert mixed.settings()["autocast"] == "bfloat16" and mixed.settings()["dtype"] == "float32"
    assert all(c.text is not None for c in mixed.generate(requests))


# 10 ------------------------------------------------------------------------------------------------
def test_10_one_hundred_sequences_per_step_on_any_world_size(paper):
    from fsabench.distill.pretrain import split_batch
    from fsabench.errors import FsabenchError

    cfg = paper.pretrain
    for world, expected in {1: (20, 5), 2: (10, 5), 4: (5, 5), 5: (20, 1), 10: (10, 1), 25: (4, 1)}.items():
        micro, accum = split_batch(cfg.batch_size, cfg.micro_batch_size, world)
        assert (micro, accum) == expected and world * micro * accum == 100
    for world in (3, 8):
        with pytest.raises(FsabenchError, match=f"cannot be split evenly over {world} processes"):
            split_batch(cfg.batch_size, cfg.micro_batch_size, world)


# what stops a real run -----------------------------------------------------------------------------
def test_transformers_dtype_keyword_for_old_and_new_versions(monkeypatch):
    import torch
    import transformers

    from fsabench.models.hf import dtype_kwargs

    assert dtype_kwargs(torch.float32) == {"dtype": torch.float32}  # transformers 5 here
    monkeypatch.setattr(transformers, "__version__", "4.44.2")  # the floor pyproject allows
    assert dtype_kwargs(torch.float32) == {"torch_dtype": torch.float32}


def test_ray_jobs_get_absolute_paths_on_the_shared_dir(tmp_path, monkeypatch):
    from fsabench.distill.finetune import FinetuneConfig, FinetuneJob
    from fsabench.distill.sweep import ray_paths
    from fsabench.errors import FsabenchError

    (tmp_path / "shared" / "student").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "shared")
    job = FinetuneJob("hf:student", "hf:student", "atsa-rest14", 42, tmp_path / "shared" / "results",
                      tmp_path / "shared" / "work", tmp_path / "shared" / "data", FinetuneConfig())
    with pytest.raises(FsabenchError, match="relative path means a different folder"):
        ray_paths([job], tmp_path.relative_to(tmp_path.parent), joining=True)
    with pytest.raises(FsabenchError, match="needs storage every worker sees"):
        ray_paths([job], None, joining=True)
    with pytest.raises(FsabenchError, match="not under --shared-dir"):
        ray_paths([job], tmp_path / "elsewhere", joining=True)
    placed = ray_paths([job], tmp_path / "shared", joining=True)[0]
    assert placed.model == f"hf:{tmp_path / 'shared' / 'student'}" and placed.label == "hf:student"
    assert ray_paths([job], None, joining=False)[0].model == placed.model  # local Ray: absolute anyway


def test_plan_prints_every_stage_resolved_without_running(cli, tmp_path):
    res = cli("distill", "recipe", "paper.yaml", "--plan", "--json", "--output", tmp_path / "paper")
    assert res.returncode == 0, res.stderr
    plan = json.loads(res.stdout)["stages"]
    assert plan["corpus"]["assign"] == "both" and plan["corpus"]["requests_per_review"] == 2
    assert plan["corpus"]["filters_applied"] is False
    resolved = plan["pretrain"]["resolved"]
    assert resolved["sequences_per_step"] == 100 and resolved["lr"]["step 0"] == 1.5e-3
    assert resolved["lr"]["step 200000"] == pytest.approx(1e-5) and plan["pretrain"]["batching"] == "random"
    ft = plan["finetune"]
    assert ft["adam_eps"] == 1e-6 and ft["decay_all"] is True and ft["resolved"]["jobs"] == 40
    assert not (tmp_path / "paper").exists()  # nothing ran
    two = cli("distill", "recipe", "tiny.yaml", "--plan", env={"WORLD_SIZE": "2"})  # as under accelerate launch
    assert two.returncode == 0, two.stderr
    assert "processes: 2" in two.stdout and "accumulation: 1" in two.stdout and "sequences_per_step: 32" in two.stdout


def test_likelihood_runs_of_a_student_are_zero_shot(tiny_t5, data_dir):
    from fsabench.models.hf import HFAdapter
    from fsabench.runner import RunOptions, run_task
    from fsabench.tasks.registry import build_registry

    spec = build_registry().spec("review-stars")
    adapter = HFAdapter(f"hf:{tiny_t5}", str(tiny_t5), device="cpu")
    zero = run_task(spec, adapter, data_dir, RunOptions(limit=3, scoring="likelihood"))
    assert zero.protocol == "zero-shot"
    assert "tiny.yaml" in spec.description  # says it overlaps the tiny recipe's corpus


def test_one_seed_has_no_std():
    from fsabench.distill.finetune import JobOutcome, aggregate

    one = aggregate([JobOutcome("atsa-rest14", 42, "r.json", {"all": 20.5})], "hf:s")
    assert one["tasks"]["atsa-rest14"]["subsets"]["all"] == {"mean": 20.5, "std": None, "values": [20.5]}


def test_both_responses_of_a_review_are_held_out_together():
    from fsabench.distill.data import held_out

    ids = range(2000)
    pairs = [(held_out({"ID": i, "prompt_type": "analysis"}, 0.1), held_out({"ID": i, "prompt_type": "rewrite"}, 0.1))
             for i in ids]
    assert all(a == b for a, b in pairs) and 150 < sum(a for a, _ in pairs) < 250
