"""The Python API, the one door: one function per `fsabench` verb, each doing exactly what the verb does.

    import fsabench
    results = fsabench.evaluate("baseline:gold", "fsa")          # list[RunResult], nothing written
    results[0].scores["all"].f1                                   # 100.0
    fsabench.evaluate("hf:./runs/student", ["atsa-rest14"], output_dir="results", batch_size=32)

Each verb function takes that verb's typed options object (`fsabench.options`) or the same fields as
keywords: `validate_tasks(paths=["my_tasks/"])` and `validate_tasks(ValidateOptions(paths=[...]))` are one
call. The CLI builds the same objects, so a bad value gets the same one-line FsabenchError everywhere.
Importing this module never imports torch, transformers or litellm; a model's libraries load when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from fsabench.models.base import ModelAdapter
from fsabench.options import (AuditOptions, BoardServeOptions, BuildOptions, CorpusOptions, DataOptions, EvalOptions,
                              ExportOptions, FinetuneOptions, JudgeOptions, Options, PretrainOptions, RecipeOptions,
                              ReportOptions, ServeOptions, StudyCreateOptions, StudyExportOptions, StudyServeOptions,
                              StudyStatsOptions, SubmitOptions, TaskIdsOptions, ValidateOptions, VerifyOptions,
                              split_model_options)
from fsabench.results import RunResult
from fsabench.tasks.spec import TaskSpec

PathLike = str | Path
O = TypeVar("O", bound=Options)


def _options(cls: type[O], options: O | None, fields: dict[str, Any]) -> O:
    """The verb's options object: the one given, or one built (and validated) from keyword fields."""
    if options is not None and fields:
        from fsabench.errors import FsabenchError

        raise FsabenchError(f"pass a {cls.__name__} or keyword options, not both", hint="use one of the two forms")
    return options if options is not None else cls(**fields)


def _dirs(tasks_dir: Sequence[PathLike]) -> list[str] | None:
    """A lone string is one folder (`tasks_dir="/x"` was iterated per character and walked `/`)."""
    from fsabench.io import as_paths

    return [str(d) for d in as_paths(tasks_dir, "tasks_dir")] or None


def _path(value: PathLike | None, what: str) -> Path | None:
    """None, or a path; anything else (`output_dir=5`) is one FsabenchError naming the argument."""
    from fsabench.io import as_path

    return None if value is None else as_path(value, what)


# --- run, score, report ---------------------------------------------------------------------
def evaluate(model: str | ModelAdapter, tasks: str | Sequence[str], *, limit: int | None = None, seed: int = 0,
             num_shots: int = 0, scoring: str = "generate", output_dir: PathLike | None = None, cache: bool = True,
             overwrite: bool = False, cache_dir: PathLike | None = None, max_cost: float | None = None,
             data_dir: PathLike | None = None, tasks_dir: Sequence[PathLike] = (), progress=None,
             options: EvalOptions | None = None, convention: str | None = None, prompt: str = "default",
             **model_options: Any) -> list[RunResult]:
    """Run `tasks` (names or groups, a list or 'a,b') on `model` and return one RunResult per task (`fsabench run`).

    `model` is a model string (`hf:PATH`, `litellm:openai/gpt-4o-mini`, `baseline:lexicon`, ...) or an
    adapter object living in your process (see `fsabench.models.base.ModelAdapter`). `model_options` are
    the adapter settings (batch_size, device, dtype, max_new_tokens, concurrency, api_base, timeout,
    max_retries, prompt_style, threads, gguf_file, engine_bin, engine_args, launch). With `output_dir`, each result is written to
    `output_dir/<model>/<task>.json`, and a stored result is reused only when it was made with the same
    model, data, task definition and settings. Failed requests are recorded in `result.usage.failed`.
    `progress(task, done, total)` is called between chunks. `convention="authors"` scores the triplet and
    quad tasks exactly as ABSA-QUAD's compute_f1_scores (published tables); the default is the capped one.
    `prompt` names one of the tasks' prompt variants (TaskSpec.prompts; 'default' is the task's `prompt`).
    `options` (an EvalOptions) replaces every other keyword.
    """
    from fsabench.evaluation import evaluate_tasks

    if options is None:
        options = EvalOptions(limit=limit, seed=seed, num_shots=num_shots, scoring=scoring,
                              output_dir=_path(output_dir, "output_dir"), overwrite=overwrite,
                              cache=cache, cache_dir=_path(cache_dir, "cache_dir"),
                              max_cost=max_cost, data_dir=_path(data_dir, "data_dir"),
                              tasks_dir=tuple(_dirs(tasks_dir) or ()), model=split_model_options(model_options),
                              convention=convention, prompt=prompt)
    return evaluate_tasks(model, tasks, options, progress)


def score(task: str | TaskSpec, predictions: Mapping[str, str] | PathLike, *, model_name: str = "external:predictions",
          data_dir: PathLike | None = None, tasks_dir: Sequence[PathLike] = (), output: PathLike | None = None,
          convention: str | None = None) -> RunResult:
    """Score outputs made anywhere else (id -> raw model text, or a JSONL file of {"id", "output"}) exactly as
    `evaluate` would; every test id must be answered once (`fsabench score`). With `output`, the RunResult is
    also written there. `convention`: as in `evaluate`."""
    from fsabench.external import score_predictions
    from fsabench.results import save_result

    result = score_predictions(task, predictions, model_name=model_name, data_dir=_path(data_dir, "data_dir"),
                               tasks_dir=_dirs(tasks_dir) or (), convention=convention)
    if output is not None:
        save_result(result, _path(output, "output"))
    return result


def load_results(paths: PathLike | Iterable[PathLike]) -> list[RunResult]:
    """Every RunResult under the given files and folders (searched recursively), validated."""
    from fsabench.results import find_results, load_result

    from fsabench.io import as_paths

    return [load_result(p) for p in find_results(as_paths(paths, "paths"))]


def build_report(results: Sequence[RunResult | PathLike], out_dir: PathLike, *,
                 formats: str | Sequence[str] = "md,csv,json", baseline: str | None = None, preset: str | None = None,
                 figures: str = "none", bootstrap: int = 1000, labels=None):
    """Tables (and optional figures) from results or result files into `out_dir`; returns the built report.
    `labels` is a labels.yaml path or a `fsabench.report.labels.Labels` (model display names).
    (Was `fsabench.report(...)`, which still works for one release.)"""
    from fsabench.report.make import make_report

    return make_report(results, out_dir, formats=formats, baseline=baseline, preset=preset, figures=figures,
                       bootstrap=bootstrap, labels=labels)


def report_files(options: ReportOptions | None = None, **fields: Any):
    """`fsabench report`: result files -> tables, figures and an HTML page (with --human and --label)."""
    from fsabench.report.build import build_report as build
    from fsabench.report.labels import load_labels, parse_label_options

    o = _options(ReportOptions, options, fields)
    labels = load_labels(o.labels).merged(parse_label_options(list(o.label)))
    return build(list(o.runs), o.output, formats=o.formats, baseline=o.baseline, preset=o.preset,
                 figure_formats=o.figures, n_boot=o.bootstrap, human=o.human, labels=labels)


def report(*args: Any, **kwargs: Any):
    """Deprecated alias of `build_report` (the name clashes with the `fsabench.report` subpackage)."""
    import warnings

    warnings.warn("fsabench.api.report is deprecated; call build_report", DeprecationWarning, stacklevel=2)
    return build_report(*args, **kwargs)


# --- tasks and data -------------------------------------------------------------------------
def list_tasks(tasks_dir: Sequence[PathLike] = ()) -> list[str]:
    """Names of every task on the search path (built-in, --tasks-dir, FSABENCH_TASKS_PATH)."""
    from fsabench.catalog import task_names

    return task_names(_dirs(tasks_dir))


def tasks(tasks_dir: Sequence[PathLike] = ()) -> list[str]:
    """Deprecated alias of `list_tasks` (the name clashes with the `fsabench.tasks` subpackage)."""
    import warnings

    warnings.warn("fsabench.api.tasks is deprecated; call list_tasks", DeprecationWarning, stacklevel=2)
    return list_tasks(tasks_dir)


def task_catalog(tasks_dir: Sequence[PathLike] = ()) -> list[dict]:
    """`fsabench tasks list`: every task and group with its kind and file."""
    from fsabench.catalog import task_rows

    return task_rows(_dirs(tasks_dir))


def task(name: str, tasks_dir: Sequence[PathLike] = ()) -> TaskSpec:
    """One task's validated definition (`.definition_hash()` is what results record)."""
    from fsabench.tasks.registry import build_registry

    return build_registry(_dirs(tasks_dir)).spec(name)


def show_task(name: str, tasks_dir: Sequence[PathLike] = ()) -> dict:
    """`fsabench tasks show`: a task's definition with its hash (a group's with its expansion)."""
    from fsabench.catalog import task_definition

    return task_definition(name, _dirs(tasks_dir))


def task_ids(options: TaskIdsOptions | None = None, **fields: Any) -> list[dict]:
    """`fsabench tasks ids`: the examples a predictions file answers ({id, input, subsets} each)."""
    from fsabench.catalog import task_ids as ids

    o = _options(TaskIdsOptions, options, fields)
    return ids(o.name, o.split, o.subset, o.limit, o.data_dir, list(o.tasks_dir) or None)


def validate_tasks(options: ValidateOptions | None = None, **fields: Any) -> list[dict]:
    """`fsabench tasks validate`: one row per valid file; raises SpecError on the first problem."""
    from fsabench.catalog import validate_paths

    o = _options(ValidateOptions, options, fields)
    return validate_paths(list(o.paths), o.data_dir, o.check_data)


def pull_data(options: DataOptions | None = None, on_file: Callable[[Any], None] | None = None, **fields: Any):
    """`fsabench data pull`: (data folder, file statuses); every pinned file downloaded and verified."""
    from fsabench.data import sources
    from fsabench.settings import data_dir

    o = _options(DataOptions, options, fields)
    root = data_dir(o.data_dir)
    return root, sources.pull(root, sources.pinned_files(_names(o.bundles)), on_file=on_file)


def verify_data(options: DataOptions | None = None, **fields: Any):
    """`fsabench data verify`: (data folder, file statuses); a status other than `ok` is missing or changed."""
    from fsabench.data import sources
    from fsabench.settings import data_dir

    o = _options(DataOptions, options, fields)
    root = data_dir(o.data_dir)
    return root, sources.verify(root, sources.pinned_files(_names(o.bundles)))


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def export_lm_eval(options: ExportOptions | None = None, **fields: Any) -> dict[str, Any]:
    """`fsabench export lm-eval`: lm-eval task YAMLs + helper; returns {"tasks": written, "names", "groups"}."""
    from fsabench.evaluation import parse_names
    from fsabench.export.lmeval import export_lmeval
    from fsabench.settings import data_dir
    from fsabench.tasks.registry import build_registry

    o = _options(ExportOptions, options, fields)
    registry = build_registry(list(o.tasks_dir) or None)
    requested = parse_names(o.tasks)
    names = registry.expand(requested)
    specs = [registry.spec(name) for name in names]
    groups = {name: registry.expand([name]) for name in requested if name in registry.groups}
    exported = export_lmeval(o.output, specs, groups, data_dir(o.data_dir), o.prompt_style, o.num_shots, o.seed,
                             o.scoring, o.seq2seq)
    return {"tasks": exported, "names": names, "groups": list(groups)}


# --- serve ----------------------------------------------------------------------------------
def serve_model(options: ServeOptions | None = None, on_ready=None, **fields: Any) -> None:
    """`fsabench serve`: a local model behind an OpenAI-compatible API until SIGINT/SIGTERM;
    `on_ready(url, server)` once it listens. (`fsabench.serve.start_server` serves on a thread instead.)"""
    from fsabench.serve.launch import serve_model as run

    run(_options(ServeOptions, options, fields), on_ready)


# --- leaderboard ----------------------------------------------------------------------------
def submit(options: SubmitOptions | None = None, **fields: Any):
    """`fsabench leaderboard submit`: bundle, verify as CI will, write; returns a `Submitted`."""
    from fsabench.leaderboard.actions import submit as run

    return run(_options(SubmitOptions, options, fields))


def verify(options: VerifyOptions | None = None, **fields: Any):
    """`fsabench leaderboard verify`: (accepted [(file, Verified)], rejected [(file, message)])."""
    from fsabench.leaderboard.actions import verify as run

    return run(_options(VerifyOptions, options, fields))


def audit(options: AuditOptions | None = None, **fields: Any):
    """`fsabench leaderboard audit`: re-run sampled examples, store the audit; returns an `Audited`
    (`.audit.passed` False: the audit failed and is stored as failing)."""
    from fsabench.leaderboard.actions import audit as run

    return run(_options(AuditOptions, options, fields))


def build_site(options: BuildOptions | None = None, **fields: Any):
    """`fsabench leaderboard build`: verify every bundle and render the static site; (index path, entries)."""
    from fsabench.leaderboard.actions import build as run

    return run(_options(BuildOptions, options, fields))


def serve_leaderboard(options: BoardServeOptions | None = None, **fields: Any) -> None:
    """`fsabench leaderboard serve`: host the leaderboard until SIGINT/SIGTERM."""
    from fsabench.leaderboard.actions import serve as run

    run(_options(BoardServeOptions, options, fields))


# --- distillation ---------------------------------------------------------------------------
def distill_corpus(options: CorpusOptions | None = None, progress=None, **fields: Any) -> dict[str, Any]:
    """`fsabench distill corpus`: the estimate (dry run) or {"out", "imported", "generation", "report"}."""
    from fsabench.distill.corpus_build import build_corpus

    return build_corpus(_options(CorpusOptions, options, fields), progress)


def distill_pretrain(options: PretrainOptions | None = None, report=None, **fields: Any) -> dict[str, Any]:
    """`fsabench distill pretrain`: the summary (steps, losses, tokens/s); `report(line)` per logged step."""
    from fsabench.distill.pretrain import PretrainConfig, pretrain

    o = _options(PretrainOptions, options, fields)
    cfg = PretrainConfig(**{k: v for k, v in o.settings.items() if v is not None})
    return pretrain(o.student, o.corpus, o.output, cfg, valid=o.valid, report=report)


def pretrain_steps(options: PretrainOptions) -> int:
    """The steps a pretraining run will take (for a progress display)."""
    from fsabench.distill.pretrain import PretrainConfig

    return PretrainConfig(**{k: v for k, v in options.settings.items() if v is not None}).steps


def distill_finetune(options: FinetuneOptions | None = None, on_done=None, **fields: Any) -> dict[str, Any]:
    """`fsabench distill finetune`: the aggregate (per task and subset, mean/std over seeds; `errors`)."""
    from fsabench.distill.finetune import FinetuneConfig
    from fsabench.distill.sweep import SweepOptions, plan_jobs, sweep
    from fsabench.settings import data_dir

    o = _options(FinetuneOptions, options, fields)
    config = FinetuneConfig(**{k: v for k, v in o.settings.items() if v is not None})
    jobs = plan_jobs(o.model_name, o.model_name, _names(o.tasks), list(o.seeds), o.output, o.work,
                     data_dir(o.data_dir), config, tuple(o.tasks_dir), o.keep)
    return sweep(jobs, o.work, SweepOptions(o.executor, o.workers, keep=o.keep, shared_dir=o.shared_dir), on_done)


def load_recipe(options: RecipeOptions):
    """The recipe with --set overrides applied, its path, and its output folder."""
    from fsabench.distill.recipe import ABLATIONS, load_recipe as load
    from fsabench.errors import FsabenchError

    spec, path = load(options.recipe, list(options.overrides))
    if options.ablation is not None and options.ablation not in ABLATIONS:
        raise FsabenchError(f"unknown ablation {options.ablation!r}", hint=f"use one of {', '.join(ABLATIONS)}")
    return spec, path, options.output or Path(spec.out or f"runs/{spec.name}")


def plan_recipe(options: RecipeOptions | None = None, **fields: Any) -> dict[str, Any]:
    """`fsabench distill recipe --plan`: every stage's fully resolved settings; runs nothing."""
    from fsabench.distill.plan import plan_recipe as plan
    from fsabench.settings import data_dir

    o = _options(RecipeOptions, options, fields)
    spec, path, target = load_recipe(o)
    return plan(spec, path, target, data_dir(o.data_dir), o.ablation, o.executor, o.workers, o.keep, o.shared_dir)


def distill_recipe(options: RecipeOptions | None = None, say=None, pretrain_report=None, on_done=None,
                   **fields: Any) -> dict[str, Any]:
    """`fsabench distill recipe`: corpus, student, pretraining, fine-tuning, evaluation (finished stages skipped)."""
    from fsabench.distill.stages import run_recipe
    from fsabench.settings import data_dir

    o = _options(RecipeOptions, options, fields)
    spec, path, target = load_recipe(o)
    return run_recipe(spec, path, target, data_dir(o.data_dir), say or (lambda _: None), o.ablation, o.executor,
                      o.workers, o.keep, pretrain_report=pretrain_report, on_done=on_done, shared_dir=o.shared_dir)


# --- human evaluation -----------------------------------------------------------------------
def human_create(options: StudyCreateOptions | None = None, **fields: Any):
    """`fsabench human create`: sample, blind and assign items; returns the created study."""
    from fsabench.human.study import create_study, parse_annotators

    o = _options(StudyCreateOptions, options, fields)
    return create_study(o.study, list(o.items), o.rubric, o.sample, o.per_item, parse_annotators(o.annotators), o.seed)


def human_rubric(name: str = "analysis"):
    """`fsabench human rubric`: a shipped rubric or a rubric YAML, validated."""
    from fsabench.human.rubric import load_rubric

    return load_rubric(name)


def human_serve(options: StudyServeOptions | None = None, on_ready=None, **fields: Any) -> None:
    """`fsabench human serve`: the annotation page until SIGINT/SIGTERM; `on_ready(url, study)` once listening."""
    from fsabench.errors import FsabenchError
    from fsabench.human.server import build_app
    from fsabench.human.study import open_study
    from fsabench.human.web import Limits, run_app

    o = _options(StudyServeOptions, options, fields)
    opened = open_study(o.study)
    try:
        run_app(build_app(opened, Limits()), o.host, o.port, Limits(), quiet=o.quiet,
                on_ready=(lambda url: on_ready(url, opened)) if on_ready else None)
    except OSError as exc:
        raise FsabenchError(f"cannot listen on {o.host}:{o.port} ({exc.strerror})",
                            hint="pick another --port, or stop what uses it") from None


def human_export(options: StudyExportOptions | None = None, **fields: Any) -> list[Path] | str:
    """`fsabench human export`: Label Studio files written (their paths), or the answers as CSV text
    (also written when `output` is given)."""
    from fsabench.human.interchange import export_csv, export_label_studio
    from fsabench.human.study import open_study
    from fsabench.io import write_text_atomic

    o = _options(StudyExportOptions, options, fields)
    opened = open_study(o.study)
    if o.format == "label-studio":
        return export_label_studio(opened, o.output or o.study / "label-studio")
    text = export_csv(opened, o.unblind)
    if o.output is not None:
        write_text_atomic(o.output, text)
    return text


def human_import(study: PathLike, file: PathLike) -> dict[str, int]:
    """`fsabench human import`: Label Studio annotations read back into the study; counts."""
    from fsabench.human.interchange import import_label_studio
    from fsabench.human.study import open_study

    return import_label_studio(open_study(Path(study)), Path(file))


def human_judge(options: JudgeOptions | None = None, progress=None, **fields: Any):
    """`fsabench human judge`: an LLM judge rates every item; returns its stats (`failed` > 0: re-run).
    `progress(asked, to_ask)` is called after each chunk of requests."""
    from fsabench.human.judge import judge_study
    from fsabench.human.study import open_study
    from fsabench.models import load_model
    from fsabench.models.cache import maybe_cached

    o = _options(JudgeOptions, options, fields)
    opened = open_study(o.study)
    kwargs = {k: v for k, v in o.model.adapter_kwargs().items() if k != "seed"}
    adapter = maybe_cached(load_model(o.model_name, **kwargs), o.cache_dir, o.cache)
    return judge_study(opened, adapter, max_cost=o.max_cost, overwrite=o.overwrite, progress=progress)


def human_stats(options: StudyStatsOptions | None = None, **fields: Any) -> tuple[dict, Path]:
    """`fsabench human stats`: (stats, the stats.json written)."""
    from fsabench.human.stats import study_stats
    from fsabench.human.store import read_rows
    from fsabench.human.study import open_study
    from fsabench.io import write_json_atomic

    o = _options(StudyStatsOptions, options, fields)
    opened = open_study(o.study)
    stats = study_stats(opened, read_rows(opened), n_boot=o.bootstrap)
    return stats, write_json_atomic(o.output or o.study / "stats.json", stats)


# --- comparable numbers (issue 25): diff, overlap, export hub ---------------------------------
def diff(a: PathLike | Sequence[RunResult] | RunResult, b: PathLike | Sequence[RunResult] | RunResult, *,
         tasks: str | Sequence[str] = (), bootstrap: int = 1000, alpha: float = 0.05,
         output: PathLike | None = None):
    """Compare two runs of the same tasks example by example (`fsabench diff A B`).

    `a` and `b` are result files or folders (one run per task each), or RunResults. Per task and subset:
    the examples right in A and wrong in B and the reverse, B - A with a paired bootstrap interval and
    p-value (the engine of `report`), and the flipped examples. Returns a `fsabench.report.diff.DiffReport`;
    `.regression` is True when B is significantly worse (B - A < 0, p < alpha) on any subset. With `output`
    (.md or .html) the page is written too. Different task definitions or example sets are refused.
    """
    from fsabench.evaluation import parse_names
    from fsabench.options import DiffOptions
    from fsabench.report.diff import diff_runs
    from fsabench.report.diffpage import write_diff

    options = DiffOptions(tasks=tuple(_expand_groups(parse_names(tasks))) if tasks else (), bootstrap=bootstrap,
                          alpha=alpha, output=Path(output) if output is not None else None)

    def side(value) -> tuple[list[RunResult], str]:
        if isinstance(value, RunResult):
            return [value], value.model.name
        if isinstance(value, (str, Path)):
            return load_results(value), str(value)
        runs = list(value)
        return runs, ", ".join(sorted({r.model.name for r in runs}))

    (runs_a, name_a), (runs_b, name_b) = side(a), side(b)
    report = diff_runs(runs_a, runs_b, options.tasks or None, options.bootstrap, options.alpha, (name_a, name_b))
    if options.output is not None:
        write_diff(report, options.output)
    return report


def _expand_groups(names: Sequence[str]) -> list[str]:
    """Group names (aste, fsa) become their tasks; any other name is kept (results may hold custom tasks)."""
    from fsabench.tasks.registry import build_registry

    registry = build_registry()
    out: list[str] = []
    for name in names:
        for task in (registry.expand([name]) if name in registry.groups else [name]):
            if task not in out:
                out.append(task)
    return out


def overlap(corpus: PathLike, *, tasks: str | Sequence[str] = "fsa", fields: str | Sequence[str] = "text",
            ngram: int = 13, min_words: int = 8, data_dir: PathLike | None = None,
            tasks_dir: Sequence[PathLike] = ()):
    """Test sentences (test and hard files) whose word n-grams occur in `corpus` (`fsabench tasks overlap`).

    The corpus (JSONL, a JSON array, CSV/TSV or text, optionally .gz) is streamed once; `fields` names the
    text field(s) of a record ('a,b' or a list). Returns a `fsabench.contamination.Overlap`;
    `.to_dict()["tasks"][task]["subsets"][subset]` gives n, checked, overlapping, percent and ids.
    """
    from fsabench.contamination import scan, task_sentences
    from fsabench.evaluation import parse_names, resolve_tasks
    from fsabench.options import OverlapOptions
    from fsabench.settings import data_dir as resolve_data_dir
    from fsabench.tasks.registry import build_registry

    names = tuple(parse_names(fields))
    options = OverlapOptions(corpus=Path(corpus), fields=names, tasks=",".join(parse_names(tasks)), ngram=ngram,
                             min_words=min_words, data_dir=Path(data_dir) if data_dir is not None else None,
                             tasks_dir=tuple(str(d) for d in tasks_dir))
    specs = resolve_tasks(options.tasks, build_registry(list(options.tasks_dir) or None))
    sentences = task_sentences(specs, resolve_data_dir(options.data_dir))
    return scan(options.corpus, options.fields, sentences, options.ngram, options.min_words)


def export_hub(results: PathLike | Sequence[PathLike | RunResult], output: PathLike, *, name: str | None = None,
               leaderboard: str | None = None, leaderboards_dir: PathLike | None = None,
               hub_dataset: str | None = None):
    """A model's results as Hugging Face model-card metadata (`fsabench export hub RESULTS -o DIR`).

    Writes `DIR/README.md` whose front matter is the Hub's `model-index` (one item per task; every subset's
    F1/P/R or accuracy/macro-F1, x100, seed-averaged), with `verified: true` on tasks a passing audit of
    `leaderboard` backs (the audit names the model and its sampled outputs are these results' outputs).
    With `hub_dataset` (ORG/NAME of a Benchmark dataset on the Hub) also `.eval_results/<task>.yaml`.
    Results of more than one model are refused. Returns a `fsabench.export.hub.HubExport`.
    """
    from fsabench.errors import FsabenchError
    from fsabench.export.hub import HubExport, audited_tasks, eval_results_files, model_index, write_hub
    from fsabench.options import HubExportOptions

    options = HubExportOptions(output=Path(output), name=name, leaderboard=leaderboard,
                               leaderboards_dir=Path(leaderboards_dir) if leaderboards_dir else None,
                               hub_dataset=hub_dataset)
    items = [results] if isinstance(results, (str, Path, RunResult)) else list(results)
    runs = [r for r in items if isinstance(r, RunResult)] + load_results([r for r in items if not isinstance(r, RunResult)])
    models = sorted({r.model.name for r in runs})
    if len(models) != 1:
        raise FsabenchError(f"export hub: the results hold {len(models)} models ({', '.join(models[:3]) or 'none'})",
                            hint="pass the results of one model (one folder of `fsabench run -o`)")
    verified: dict[str, str] = {}
    if options.leaderboard:
        from fsabench.leaderboard.audit import read_audit
        from fsabench.leaderboard.spec import load_leaderboard

        board = load_leaderboard(options.leaderboard, options.leaderboards_dir)
        audits = [read_audit(p) for p in sorted((board.root / "audits").glob("*.json"))]
        verified = audited_tasks(runs, audits)
    export = HubExport(models[0], model_index(runs, options.name or models[0], verified), sorted(verified))
    if options.hub_dataset:
        export.eval_results = eval_results_files(runs, options.hub_dataset, verified)
    export.files = write_hub(export, options.output)
    return export


# --- distillation: readiness and sweeps (issue 26) ----------------------------------------------
def check_recipe(options: RecipeOptions | None = None, micro_batches: int = 1, memory_gib: float | None = None,
                 **fields: Any) -> dict[str, Any]:
    """`fsabench distill recipe R.yaml --check`: the student built from its config (no weights) runs
    pretraining micro-batches and a fine-tuning step at the recipe's shapes on this CPU; returns the
    timings and the per-device memory estimates (fsabench.distill.readiness). `memory_gib`
    (`--check-memory`): the GiB the check plans its batches within (default: 80% of what is free); a batch
    that does not fit runs fewer sequences at the full lengths and its memory is scaled per sequence."""
    from fsabench.distill.readiness import GIB, check_recipe as check
    from fsabench.errors import FsabenchError

    if memory_gib is not None and not memory_gib > 0:
        raise FsabenchError(f"--check-memory {memory_gib}: not a positive number of GiB", hint="e.g. --check-memory 8")
    o = _options(RecipeOptions, options, fields)
    spec, _, _ = load_recipe(o)
    return check(spec, micro_batches=micro_batches, threads=spec.pretrain.threads,
                 memory_limit=None if memory_gib is None else memory_gib * GIB)


def sweep_recipe(options: RecipeOptions | None = None, sweep: str = "", say=None, pretrain_report=None,
                 on_done=None, **fields: Any) -> dict[str, Any]:
    """`fsabench distill recipe R.yaml --sweep corpus.size=N1,N2,...`: the recipe once per value into
    OUT/KEY=VALUE (the teacher asked once for corpus.size); returns and writes OUT/sweep.json
    (fsabench.distill.scaling). The default OUT is runs/<name>-sweep."""
    from fsabench.distill.scaling import run_sweep
    from fsabench.distill.stages import run_recipe
    from fsabench.settings import data_dir

    o = _options(RecipeOptions, options, fields)
    spec, _, _ = load_recipe(o)
    target = Path(o.output or spec.out or f"runs/{spec.name}-sweep")
    data = data_dir(o.data_dir)
    say = say or (lambda _: None)

    def run_point(point, path: Path, folder: Path) -> dict[str, Any]:
        return run_recipe(point, path, folder, data, say, o.ablation, o.executor, o.workers, o.keep,
                          pretrain_report=pretrain_report, on_done=on_done, shared_dir=o.shared_dir)

    return run_sweep(o.recipe, list(o.overrides), sweep, target, data, say, run_point)


# --- sweep (issue 24) -----------------------------------------------------------------------
def sweep(sweep_file: PathLike | None = None, output_dir: PathLike | None = None, *, options=None, on_done=None,
          **fields: Any):
    """Run every cell (model x task x shots x seed x prompt) of SWEEP.yaml (`fsabench sweep`), each an ordinary
    run with its own run key and RunResult under `output_dir/<model>/`; finished cells are skipped, failed ones
    retried. `fields`: executor ("local" | "ray"), ray_address, max_parallel, dry_run, shared_dir, cache,
    cache_dir, data_dir, tasks_dir (or pass a SweepOptions as `options`).

    Returns a `fsabench.sweep.plan.SweepSummary` (`.counts`, `.failed` with causes), or with `dry_run` a
    `DryRun` (the cells, how many are done, the estimated API cost). `on_done(outcome)` sees each cell end.
    """
    from fsabench.options import SweepOptions
    from fsabench.sweep.plan import dry_run, run_sweep

    if options is None:
        given = {"sweep_file": sweep_file, "output_dir": output_dir}
        fields = {**{k: v for k, v in given.items() if v is not None}, **fields}
        if "tasks_dir" in fields:
            fields["tasks_dir"] = tuple(str(d) for d in fields["tasks_dir"])
    o = _options(SweepOptions, options, fields)
    return dry_run(o) if o.dry_run else run_sweep(o, on_done)


def hash_data_files(paths: Sequence[PathLike]) -> dict[str, str]:
    """path -> sha256 of each file (`fsabench data hash`): what a task's `data.sha256` pins a file of your own with."""
    from fsabench.data.sources import sha256_file
    from fsabench.errors import DataError
    from fsabench.io import as_paths

    digests = {}
    for path in as_paths(paths, "paths"):
        if not path.is_file():
            raise DataError(f"{path}: no such file", hint="pass the data files to hash")
        digests[str(path)] = sha256_file(path)
    return digests
