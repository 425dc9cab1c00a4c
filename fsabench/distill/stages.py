"""The recipe's stages, each a `maybe_<verb>` that skips work whose output already exists.

    out/corpus/          responses.jsonl, corpus.jsonl, valid.jsonl, report.json
    out/student-init/    the student before pretraining (tiny students are built here)
    out/student/         the pretrained student (loads with hf:out/student)
    out/results/         one RunResult per (model, task, seed)
    out/finetune[-no-pretrain]/aggregate.json   mean and std over seeds

Each stage folder keeps `.stage.json` with the settings it ran with; re-running with other
settings is refused (naming the changed keys), finished or not, instead of silently reusing
stale output or mixing two settings in one run.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import Any

from fsabench.distill.contamination import maybe_check_contamination
from fsabench.distill.corpus import REPORT, finalize, import_corpus
from fsabench.distill.recipe import ABLATIONS, CorpusStage, FinetuneStage, Recipe, StudentSpec, resolve_path
from fsabench.errors import FsabenchError
from fsabench.io import iter_jsonl, read_json_object, write_json_atomic

Say = Callable[[str], None]
STAGE_FILE = ".stage.json"


def guard(folder: Path, stage: str, settings: dict[str, Any]) -> None:
    """Refuse to continue a stage in `folder` that was started with different settings."""
    path = folder / STAGE_FILE
    if path.is_file():
        before = read_json_object(path, "stage record", hint=f"delete {folder} to redo the stage")
        changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
        if changed:
            raise FsabenchError(f"{folder}: stage '{stage}' ran with other settings (changed: {', '.join(changed)})",
                                hint=f"delete {folder} to redo it, or use another --out")
        return
    write_json_atomic(path, settings)


def maybe_build_corpus(stage: CorpusStage, folder: Path, recipe_dir: Path, data_dir: Path, say: Say,
                       progress=None) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    guard(folder, "corpus", corpus_settings(stage))
    if (folder / REPORT).is_file():
        say(f"corpus: {folder / REPORT} exists, skipping")
        return read_json_object(folder / REPORT, "corpus report", hint=f"delete {folder} to rebuild the corpus")
    if stage.imports:
        added = import_corpus([resolve_path(p, recipe_dir, data_dir) for p in stage.imports], folder)
        say(f"corpus: imported {added} responses")
    if stage.teacher:
        stats = ask_teacher(stage, folder, recipe_dir, data_dir, progress)
        say(f"corpus: teacher answered {stats.written} requests ({stats.failed} failed, ${stats.cost_usd:.4f})")
        if stats.skipped_reviews:
            say(f"corpus: skipped {stats.skipped_reviews} reviews without text (first: {', '.join(stats.skipped_where)})")
        if stats.failed or stats.stopped_by_max_cost:
            why = f"{stats.failed} requests failed" if stats.failed else f"stopped at max_cost ${stage.max_cost}"
            raise FsabenchError(f"corpus in {folder} is incomplete: {why}",
                                hint="re-run to continue (answers already received are kept)")
    return finalize(folder, stage.filters, stage.valid_fraction, stage.size, stage.seed)


def corpus_settings(stage: CorpusStage) -> dict[str, Any]:
    """What the corpus stage's output depends on (the stage guard): the price is not, and keys added
    later are left out at their defaults so a corpus built before them is not refused."""
    settings = stage.model_dump(mode="json", exclude={"price_per_million"})
    for key, default in (("seed", 42), ("size", None)):
        if settings.get(key) == default:
            settings.pop(key)
    settings["reviews"] = [{k: v for k, v in source.items() if not (k == "sample" and v is None)}
                           for source in settings["reviews"]]
    return settings


def ask_teacher(stage: CorpusStage, folder: Path, recipe_dir: Path, data_dir: Path, progress=None):
    from fsabench.distill.reviews import Skipped
    from fsabench.distill.teacher import generate, load_prompts, teacher_name_of
    from fsabench.models import load_model
    from fsabench.models.cache import maybe_cached

    prompts = load_prompts(stage.prompts)
    skipped = Skipped()
    reviews = chain.from_iterable(source_reviews(stage, s, recipe_dir, data_dir, skipped) for s in stage.reviews)
    options = dict(stage.teacher_options)
    use_cache, cache_dir = options.pop("cache", True), options.pop("cache_dir", None)
    adapter = maybe_cached(load_model(stage.teacher, **options), cache_dir, use_cache)
    stats = generate(adapter, reviews, prompts, folder, stage.teacher_name or teacher_name_of(stage.teacher),
                     stage.assign, stage.max_new_tokens, stage.temperature, stage.max_cost, progress=progress)
    stats.skipped_reviews, stats.skipped_where = skipped.missing_text, skipped.where
    return stats


def source_reviews(stage: CorpusStage, source, recipe_dir: Path, data_dir: Path, skipped):
    """One source's reviews: a seeded random sample (`sample: N`), else the first `limit` (or all)."""
    from fsabench.distill.reviews import iter_reviews
    from fsabench.distill.sampling import sample_reviews

    path = resolve_path(source.path, recipe_dir, data_dir)
    if source.sample:
        return sample_reviews(path, source.fields, source.format, source.sample, stage.seed, source.limit, skipped)
    return iter_reviews(path, source.fields, source.format, source.limit, skipped)


def corpus_texts(folder: Path) -> list[str]:
    """Every input and response of the corpus (newlines as spaces): what a tiny tokenizer learns from."""
    from fsabench.distill.data import NEWLINE_TOKEN, pair_of, read_lines

    texts = []
    for name in ("corpus.jsonl", "valid.jsonl"):
        if (folder / name).is_file():
            for row, _ in read_lines(folder / name):
                pair = pair_of(row)
                if pair:
                    texts += [p.replace(NEWLINE_TOKEN, " ") for p in pair]
    return texts


def maybe_build_student(spec: StudentSpec, folder: Path, corpus: Path, data_dir: Path, say: Say) -> str:
    """The model string of the student before pretraining; a tiny student is built once in `folder`."""
    if spec.model:
        return spec.model
    folder.mkdir(parents=True, exist_ok=True)
    guard(folder, "student", spec.model_dump(mode="json"))
    if (folder / "config.json").is_file():
        say(f"student: {folder} exists, skipping")
        return f"hf:{folder}"
    from fsabench.examples import load_split
    from fsabench.models.hf import quiet_transformers
    from fsabench.tasks.registry import build_registry
    from fsabench.tiny import build_tiny_t5

    quiet_transformers()

    tiny = spec.tiny
    texts = corpus_texts(corpus)
    registry = build_registry()
    for name in registry.expand(tiny.tokenizer_tasks):
        train = load_split(registry.spec(name), data_dir, "train").examples
        texts += [e.input for e in train] + [e.target for e in train if e.target]
    say(f"student: building a tiny T5 (tokenizer trained on {len(texts)} texts)")
    build_tiny_t5(texts, folder, vocab_size=tiny.vocab_size, d_model=tiny.d_model, num_layers=tiny.num_layers,
                  num_heads=tiny.num_heads, d_ff=tiny.d_ff, seed=tiny.seed)
    return f"hf:{folder}"


def maybe_pretrain(recipe: Recipe, student: str, corpus: Path, folder: Path, say: Say, report=None) -> str:
    from fsabench.distill.pretrain import is_complete, pretrain

    folder.mkdir(parents=True, exist_ok=True)
    guard(folder, "pretrain", {"student": student, **recipe.pretrain.model_dump(mode="json", exclude={"threads", "device"})})
    if is_complete(folder):
        say(f"pretrain: {folder} is complete, skipping")
        return f"hf:{folder}"
    summary = pretrain(student, corpus, folder, recipe.pretrain, report=report)
    valid = summary["valid"][-1]["loss"] if summary["valid"] else None
    say(f"pretrain: {summary['steps']} steps, train loss {summary['final_loss']:.4f}, valid loss {valid}, "
        f"{summary['tokens_per_second']} tokens/s")
    return f"hf:{folder}"


def maybe_finetune(stage: FinetuneStage, student: str, results: Path, work: Path, data_dir: Path, on_done=None,
                   executor: str | None = None, workers: int | None = None, keep: bool | None = None,
                   shared_dir: Path | None = None) -> dict[str, Any]:
    from fsabench.distill.sweep import SweepOptions, plan_jobs, sweep

    config = stage.config()
    work.mkdir(parents=True, exist_ok=True)
    guard(work, "finetune", {"student": student, "tasks": stage.tasks, "seeds": stage.seeds,
                             **config.model_dump(mode="json", exclude={"threads", "device"})})
    jobs = plan_jobs(student, student, stage.tasks, stage.seeds, results, work, data_dir, config,
                     keep=stage.keep if keep is None else keep)
    shared = shared_dir or (Path(stage.shared_dir) if stage.shared_dir else None)
    options = SweepOptions(executor or stage.executor, workers or stage.workers, stage.cpus_per_job,
                           stage.gpus_per_job, stage.ray_address, stage.keep if keep is None else keep, shared)
    return sweep(jobs, work, options, on_done)


def distill_info(recipe: Recipe, ablation: str | None, student: str, corpus_dir: Path,
                 report: dict[str, Any]) -> dict[str, Any]:
    """What a student was distilled from, recorded in each of its RunResults (`meta.distill`) so a
    report can draw the paper's analyses (corpus-size scaling, analysis vs rewrite, teachers)."""
    teachers: list[str] = []
    responses = corpus_dir / "responses.jsonl"
    if responses.is_file():
        try:
            first = next(iter_jsonl(responses, "corpus file"), None)
            teachers = sorted(k[: -len("_response")] for k in first.value if k.endswith("_response"))
        except (FsabenchError, AttributeError, TypeError):
            teachers = []
    by_prompt = report.get("by_prompt_type") or {}
    return {"recipe": recipe.name, "ablation": ablation, "student": student,
            "corpus": {"responses": report.get("kept"), "train": report.get("train"),
                       "prompts": sorted(k for k, v in by_prompt.items() if v) or list(recipe.corpus.prompts),
                       "teacher": recipe.corpus.teacher_name or (teachers[0] if len(teachers) == 1 else
                                                                 ", ".join(teachers) or recipe.corpus.teacher)}}


def stamp_results(results_dir: Path, student: str, info: dict[str, Any],
                  contamination: dict[str, Any] | None = None) -> None:
    """Add `meta.distill` (and `meta.contamination`, the test sentences found in the corpus and the clean
    score) to the RunResults fine-tuned from `student` (rewritten only when it changes)."""
    from fsabench.distill.contamination import contamination_meta
    from fsabench.results import load_result, save_result

    for path in sorted(results_dir.rglob("*.json")) if results_dir.is_dir() else []:
        result = load_result(path)
        if result.meta.get("finetune", {}).get("student") != student:
            continue
        leak = contamination_meta(contamination, result) if contamination else None
        if result.meta.get("distill") != info or (leak is not None and result.meta.get("contamination") != leak):
            result.meta["distill"] = info
            if leak is not None:
                result.meta["contamination"] = leak
            save_result(result, path)


def run_recipe(recipe: Recipe, recipe_path: Path, out: Path, data_dir: Path, say: Say, ablation: str | None = None,
               executor: str | None = None, workers: int | None = None, keep: bool | None = None,
               pretrain_report=None, on_done=None, shared_dir: Path | None = None) -> dict[str, Any]:
    """Every stage in order; returns (and writes to out/summary[-ablation].json) what happened."""
    if ablation is not None and ablation not in ABLATIONS:
        raise FsabenchError(f"unknown ablation {ablation!r}", hint=f"use one of {', '.join(ABLATIONS)}")
    from fsabench.distill.distributed import Ranks

    ranks = Ranks.from_env()  # several processes under accelerate launch / torchrun
    if ranks.world > 1:
        say = _ranked(say, ranks.rank)
        say(f"{ranks.world} processes: rank 0 builds the corpus and the student and fine-tunes; all pretrain")
    out.mkdir(parents=True, exist_ok=True)
    recipe_dir = recipe_path.resolve().parent
    corpus_dir = out / "corpus"
    clock = StageClock(say if ranks.is_main else (lambda _: None))  # rank 0 times the stages
    report = clock("corpus", lambda: ranks.on_main(
        "corpus", lambda: maybe_build_corpus(recipe.corpus, corpus_dir, recipe_dir, data_dir, say)))
    leak = clock("contamination", lambda: ranks.on_main(
        "contamination", lambda: maybe_check_contamination(corpus_dir, list(recipe.finetune.tasks), data_dir, say)))
    initial = clock("student", lambda: ranks.on_main(
        "student", lambda: maybe_build_student(recipe.student, out / "student-init", corpus_dir, data_dir, say)))
    if ablation == "no-pretrain":
        student, work = initial, out / "finetune-no-pretrain"
        say(f"ablation no-pretrain: fine-tuning {initial} without distillation pretraining")
    else:
        student = clock("pretrain", lambda: maybe_pretrain(recipe, initial, corpus_dir, out / "student", say,
                                                            pretrain_report))
        work = out / "finetune"
    ranks.wait()  # the pretrained student is saved (by rank 0) before anyone reads it
    if not ranks.is_main:
        say("pretraining done; rank 0 fine-tunes")
        ranks.close()
        return {"recipe": recipe.name, "out": str(out), "ablation": ablation, "student": student,
                "rank": ranks.rank, "finetune": None}
    summary = clock("finetune", lambda: maybe_finetune(recipe.finetune, student, out / "results", work, data_dir,
                                                       on_done, executor, workers, keep, shared_dir))
    stamp_results(out / "results", student, distill_info(recipe, ablation, student, corpus_dir, report), leak)
    result = {"recipe": recipe.name, "out": str(out), "ablation": ablation, "student": student,
              "corpus": {k: report.get(k) for k in ("responses", "kept", "train", "valid", "dropped", "cut")},
              "contamination": {t: v["subsets"]["all"]["overlapping"] for t, v in (leak or {}).get("tasks", {}).items()},
              "finetune": summary, "stage_seconds": clock.seconds}
    say("stages: " + clock.table())
    write_json_atomic(out / (f"summary-{ablation}.json" if ablation else "summary.json"), result)
    ranks.close()
    return result


class StageClock:
    """Wall and CPU seconds of each stage (CPU: this process and the worker processes it waited for),
    said as each stage ends and kept for the summary: what a recipe's wall time is made of."""

    def __init__(self, say: Say) -> None:
        self.say, self.seconds = say, {}

    def __call__(self, stage: str, work: Callable[[], Any]) -> Any:
        import resource
        import time

        def cpu() -> float:
            own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

        wall, used = time.perf_counter(), cpu()
        value = work()
        self.seconds[stage] = {"wall": round(time.perf_counter() - wall, 1), "cpu": round(cpu() - used, 1)}
        self.say(f"{stage}: {self.seconds[stage]['wall']} s wall, {self.seconds[stage]['cpu']} s CPU")
        return value

    def table(self) -> str:
        total = sum(v["wall"] for v in self.seconds.values())
        return ", ".join(f"{k} {v['wall']:.0f} s" for k, v in self.seconds.items()) + f" (wall {total:.0f} s)"


def _ranked(say: Say, rank: int) -> Say:
    return lambda message: say(f"rank {rank}: {message}")
