"""Typed option objects, one per verb: what the CLI parses into and what the Python API takes.

Every object is a frozen pydantic model with `extra="forbid"`, so an unknown or badly typed option gets
the same one-line `FsabenchError` naming the option (`--batch-size 0 must be at least 1`) whether it came
from the command line, a recipe `--set`, `--plan` or Python. `ModelOptions` is everything that configures
a model adapter, shared by every verb that loads a model (run, serve, distill corpus, human judge);
`EvalOptions` is everything else `evaluate` needs. Each field says whether it can change answers, which
is what decides if a stored result may be reused.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fsabench.errors import FsabenchError

SCORING = ("generate", "likelihood")
PROMPT_STYLES = ("raw", "chat")
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")
CONVENTIONS = ("capped", "authors")
MAX_SEED = 2**63 - 1


def option_name(field: str) -> str:
    """`batch_size` -> `--batch-size`: how the CLI spells a field."""
    return "--" + field.replace("_", "-")


class Options(BaseModel):
    """Base of every options object: frozen, unknown names refused, errors as one FsabenchError line."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise options_error(type(self).__name__, exc) from None

    def replace(self, **changes: Any):
        """A copy with `changes` applied and validated again (frozen objects are never edited in place)."""
        return type(self)(**{**self.fields_dict(), **changes})

    def fields_dict(self) -> dict[str, Any]:
        """Field name -> value, shallow (nested options stay objects)."""
        return {name: getattr(self, name) for name in type(self).model_fields}


def options_error(owner: str, exc: ValidationError) -> FsabenchError:
    """The first pydantic problem as one line naming the option, its value and what it takes."""
    first = exc.errors()[0]
    loc = [str(part) for part in first.get("loc", ()) if not isinstance(part, int)]
    if first.get("type") == "extra_forbidden":
        known = ", ".join(sorted(_known_fields(owner)))
        return FsabenchError(f"unknown option {loc[-1] if loc else '?'!r} for {owner}", hint=f"known: {known}")
    name = option_name(loc[-1]) if loc else owner
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" {value!r}"
    return FsabenchError(f"{name}{shown}: {first.get('msg', 'invalid value')}", hint=f"check {name}")


def _known_fields(owner: str) -> list[str]:
    cls = globals().get(owner)
    return list(cls.model_fields) if isinstance(cls, type) and issubclass(cls, BaseModel) else []


def check_int(option: str, value: Any) -> None:
    """From Python, `limit="5"` or `seed=True` would reach a comparison deep in a run (a TypeError) or be
    recorded as another number: an integer option must be an int (None where the option is optional)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise FsabenchError(f"{option} {value!r} is not an integer", hint="pass a whole number")


def check_choice(option: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise FsabenchError(f"{option} {value!r} is not known", hint=f"use one of: {', '.join(allowed)}")


def check_at_least(option: str, value: Any, least: int) -> None:
    if value is not None and value < least:
        raise FsabenchError(f"{option} {value} must be at least {least}", hint="pass a positive number")


def _given(cls: type[BaseModel], data: Any) -> dict[str, Any]:
    """The raw values with defaults filled in, as a before-validator sees them."""
    if not isinstance(data, dict):
        return {}
    defaults = {name: f.get_default(call_default_factory=True) for name, f in cls.model_fields.items()
                if not f.is_required()}
    return {**defaults, **data}


class ModelOptions(Options):
    """How to load and drive a model; `None` means the adapter's own default."""

    batch_size: int = 16
    device: str = "auto"
    dtype: str = "auto"
    max_new_tokens: Optional[int] = None
    concurrency: int = 16
    api_base: Optional[str] = None
    timeout: float = 60.0
    max_retries: int = 6
    prompt_style: Optional[str] = None
    threads: Optional[int] = None
    gguf_file: Optional[str] = None
    batch: bool = False  # uncached requests go through the provider's batch API (runtime only: same answers)
    batch_poll: float = 30.0
    no_wait: bool = False
    retry_failed: bool = False
    batch_file: Optional[Union[Path, str]] = None
    batch_results: Optional[Union[Path, str]] = None
    engine_bin: Optional[str] = None  # vllm:/sglang: the engine's Python or venv [env FSABENCH_VLLM_BIN / _SGLANG_BIN]
    engine_args: Optional[str] = None  # vllm:/sglang: extra server arguments, passed through
    launch: Optional[str] = None  # openai-compat: the server command to start, with {port}

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        v = _given(cls, data)
        if not v:
            return data
        check_batch(SimpleNamespace(**v))
        check_choice("--device", v["device"], DEVICES)
        check_choice("--dtype", v["dtype"], DTYPES)
        if v["prompt_style"] is not None:
            check_choice("--prompt-style", v["prompt_style"], PROMPT_STYLES)
        for name in ("batch_size", "concurrency", "max_new_tokens", "threads", "max_retries"):
            check_int(option_name(name), v[name])
        for name in ("batch_size", "concurrency", "max_new_tokens", "threads"):
            check_at_least(option_name(name), v[name], 1)
        timeout = v["timeout"]
        if v["max_retries"] < 0 or isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise FsabenchError("--max-retries must be >= 0 and --timeout > 0", hint="pass positive numbers")
        return data

    def adapter_kwargs(self, seed: int = 0) -> dict[str, Any]:
        """Keyword arguments for `load_model` (adapters ignore the ones they do not use)."""
        kwargs = {k: v for k, v in self.fields_dict().items()
                  if v is not None and k != "threads" and k not in BATCH_FIELDS}
        return {**kwargs, "seed": seed}


class EvalOptions(Options):
    """One evaluation (`run`): which examples, which protocol, where results go and how they are reused."""

    limit: Optional[int] = None
    seed: int = 0
    num_shots: int = 0
    scoring: str = "generate"
    output_dir: Optional[Path] = None  # None: keep results in memory only (the Python API's default)
    overwrite: bool = False
    cache: bool = True
    cache_dir: Optional[Path] = None
    max_cost: Optional[float] = None
    allow_failures: bool = False
    data_dir: Optional[Path] = None
    tasks_dir: tuple[str, ...] = ()
    model: ModelOptions = Field(default_factory=ModelOptions)
    convention: Optional[str] = None  # capped | authors (triplet/quad tasks); None = the task's own
    prompt: str = "default"  # the task's named prompt variant (TaskSpec.prompts); changes answers

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        v = _given(cls, data)
        if not v:
            return data
        check_choice("--scoring", v["scoring"], SCORING)
        if not isinstance(v["prompt"], str) or not v["prompt"]:
            raise FsabenchError(f"--prompt {v['prompt']!r} is not a variant name", hint="e.g. --prompt terse")
        if v["convention"] is not None:
            check_choice("--convention", v["convention"], CONVENTIONS)
        for option, value in (("--limit", v["limit"]), ("--seed", v["seed"]), ("--num-shots", v["num_shots"])):
            check_int(option, value)
        if not 0 <= v["seed"] <= MAX_SEED:
            raise FsabenchError(f"--seed {v['seed']} must be from 0 to {MAX_SEED}",
                                hint="seeds are stored as 64-bit integers (leaderboards refuse others)")
        if v["limit"] is not None and v["limit"] < 1:
            raise FsabenchError(f"--limit {v['limit']} must be at least 1", hint="omit --limit to score every example")
        if v["num_shots"] < 0:
            raise FsabenchError(f"--num-shots {v['num_shots']} must be >= 0", hint="use 0 for zero-shot")
        if v["max_cost"] is not None and v["max_cost"] < 0:
            raise FsabenchError(f"--max-cost {v['max_cost']} must be >= 0", hint="pass a budget in USD")
        return data


def split_model_options(options: dict[str, Any]) -> ModelOptions:
    """`evaluate(..., batch_size=8, device="cpu")` keyword options -> ModelOptions, unknown names refused."""
    known = set(ModelOptions.model_fields)
    unknown = sorted(set(options) - known)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        raise FsabenchError(f"unknown model option {unknown[0]!r}",
                            hint=(f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(sorted(known))}")
    return ModelOptions(**options)


# --- provider batch APIs (issue 23) ------------------------------------------------------------
BATCH_FIELDS = ("batch", "batch_poll", "no_wait", "retry_failed", "batch_file", "batch_results")


def check_batch(options: Any) -> None:
    """--batch and its companions: one way of sending per run, and the flags that only mean something with it."""
    if not isinstance(options.batch_poll, (int, float)) or isinstance(options.batch_poll, bool) or options.batch_poll <= 0:
        raise FsabenchError(f"--batch-poll {options.batch_poll!r} must be a positive number of seconds", hint="e.g. --batch-poll 30")
    modes = [name for name, on in (("--batch", options.batch), ("--batch-file", options.batch_file),
                                   ("--batch-results", options.batch_results)) if on]
    if len(modes) > 1:
        raise FsabenchError(f"{' and '.join(modes)} cannot be combined",
                            hint="--batch sends to the provider; --batch-file writes the input for an offline engine; "
                                 "--batch-results imports its output")
    for flag, on in (("--no-wait", options.no_wait), ("--retry-failed", options.retry_failed)):
        if on and not options.batch:
            raise FsabenchError(f"{flag} only applies to --batch runs", hint=f"add --batch, or drop {flag}")


# --- one options object per verb ---------------------------------------------------------------
class ScoreOptions(Options):
    """`score`: predictions made elsewhere, scored exactly as `run` would."""

    predictions: Path
    task: str
    output: Optional[Path] = None
    model_name: str = "external:predictions"
    data_dir: Optional[Path] = None
    tasks_dir: tuple[str, ...] = ()
    convention: Optional[Literal["capped", "authors"]] = None


class ReportOptions(Options):
    """`report`: tables and figures from RunResult files."""

    runs: tuple[Path, ...]
    output: Path = Path("report")
    formats: str = "md,latex,html,csv,json"
    baseline: Optional[str] = None
    preset: Optional[str] = None
    figures: str = "png,svg"
    bootstrap: int = Field(1000, ge=0)
    human: tuple[Path, ...] = ()
    label: tuple[str, ...] = ()
    labels: Optional[Path] = None


class TasksOptions(Options):
    """`tasks list` / `tasks show`: the task search path."""

    tasks_dir: tuple[str, ...] = ()


class TaskIdsOptions(Options):
    """`tasks ids`: the examples a predictions file must answer."""

    name: str
    split: str = "test"
    subset: Optional[str] = None
    limit: Optional[int] = Field(None, ge=1)
    data_dir: Optional[Path] = None
    tasks_dir: tuple[str, ...] = ()


class ValidateOptions(Options):
    """`tasks validate`: task YAML files checked (optionally against the data)."""

    paths: tuple[Path, ...]
    data_dir: Optional[Path] = None
    check_data: bool = False


class DataOptions(Options):
    """`data pull` / `data verify`: which bundles, where."""

    data_dir: Optional[Path] = None
    bundles: str = "fsa,sentibench,aste-v2,asqp"


class ExportOptions(Options):
    """`export lm-eval`: lm-eval task YAMLs for the same benchmark."""

    output: Path
    tasks: str = "fsa"
    prompt_style: Literal["raw", "chat"] = "raw"
    num_shots: int = Field(0, ge=0)
    seed: int = 0
    scoring: Literal["generate", "likelihood"] = "generate"
    seq2seq: bool = False
    data_dir: Optional[Path] = None
    tasks_dir: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        v = _given(cls, data)
        if v and v["prompt_style"] not in PROMPT_STYLES:
            raise FsabenchError(f"--prompt-style {v['prompt_style']!r} is not known",
                                hint="use raw (fine-tuned students) or chat")
        if v and v["scoring"] not in SCORING:
            raise FsabenchError(f"--scoring {v['scoring']!r} is not known", hint="use generate or likelihood")
        return data


EngineStart = Literal["auto", "fork", "spawn"]  # `serve --engine-start`: fork when safe, fork, spawn


class ServeOptions(Options):
    """`serve`: a local model behind an OpenAI-compatible API."""

    model_name: str
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    name: Optional[str] = None
    batch_wait_ms: float = 5.0
    max_tokens: int = 512
    quiet: bool = False
    engine_process: bool = True  # decode in a process of its own (models that batch continuously)
    engine_start: EngineStart = "auto"  # how: auto = fork when safe, else spawn
    model: ModelOptions = Field(default_factory=ModelOptions)

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        v = _given(cls, data)
        if v:
            check_int("--max-tokens", v["max_tokens"])
            if v["max_tokens"] < 1:
                raise FsabenchError(f"--max-tokens {v['max_tokens']} must be at least 1", hint="e.g. --max-tokens 512")
        return data


class LeaderboardOptions(Options):
    """What every `leaderboard` verb shares: where boards, data and tasks are."""

    leaderboards_dir: Optional[Path] = None
    data_dir: Optional[Path] = None
    tasks_dir: tuple[str, ...] = ()


class EntryFields(Options):
    """A submission's metadata as given (None: taken from the runs, or left out)."""

    name: str
    category: str
    parameters: Optional[int] = None
    base_model: Optional[str] = None
    link: Optional[str] = None
    license: Optional[str] = None
    date: Optional[str] = None
    notes: Optional[str] = None


class SubmitOptions(LeaderboardOptions):
    """`leaderboard submit`."""

    runs: tuple[Path, ...]
    leaderboard: str
    entry: EntryFields
    output: Optional[Path] = None
    overwrite: bool = False
    gzip: bool = False


class VerifyOptions(LeaderboardOptions):
    """`leaderboard verify`."""

    path: Optional[Path] = None
    leaderboard: Optional[str] = None


class AuditOptions(LeaderboardOptions):
    """`leaderboard audit`: re-run sampled examples through the model the bundle claims (with its recorded
    settings, so the model options come from the bundle, not from here)."""

    submission: Path
    sample: int = 50
    seed: int = 0
    leaderboard: Optional[str] = None
    output: Optional[Path] = None


class BuildOptions(LeaderboardOptions):
    """`leaderboard build`: the static site."""

    name: str
    output: Path = Path("site")


class BoardServeOptions(LeaderboardOptions):
    """`leaderboard serve`."""

    name: str
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    db: Optional[Path] = None
    tokens_file: Optional[Path] = None
    import_folder: bool = True
    trusted_proxies: tuple[str, ...] = ()
    reads_per_minute: int = Field(600, ge=1)
    posts_per_minute: int = Field(6, ge=1)
    quiet: bool = False


class CorpusOptions(Options):
    """`distill corpus`: a teacher corpus from reviews and/or seed-format imports."""

    output: Path
    teacher: Optional[str] = None
    reviews: tuple[Path, ...] = ()
    fields: Optional[str] = None
    prompts: str = "analysis,rewrite"
    assign: str = "both"
    imports: tuple[Path, ...] = ()
    filters: Optional[Path] = None
    valid_fraction: float = 0.01
    max_new_tokens: int = 600
    temperature: float = 0.0
    limit: Optional[int] = None
    dry_run: bool = False
    max_cost: Optional[float] = None
    teacher_name: Optional[str] = None
    price: Optional[tuple[float, float]] = None
    cache: bool = True
    cache_dir: Optional[Path] = None
    model: ModelOptions = Field(default_factory=lambda: ModelOptions(timeout=120.0))

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        v = _given(cls, data)
        if not v:
            return data
        if not v["imports"] and not (v["teacher"] and v["reviews"]):
            raise FsabenchError("nothing to build a corpus from",
                                hint="give --teacher with --reviews, and/or --import FILE")
        if v["teacher"] and not v["reviews"]:
            raise FsabenchError("--teacher needs --reviews", hint="give the review file(s) the teacher should analyse")
        if v["dry_run"] and not v["teacher"]:
            raise FsabenchError("--dry-run estimates teacher requests", hint="give --teacher and --reviews")
        return data


class PretrainOptions(Options):
    """`distill pretrain`: settings left None take PretrainConfig's defaults."""

    student: str
    corpus: Path
    output: Path
    valid: Optional[Path] = None
    settings: dict[str, Any] = Field(default_factory=dict)


class FinetuneOptions(Options):
    """`distill finetune`: multi-seed fine-tuning and testing."""

    model_name: str
    tasks: str = "fsa"
    seeds: tuple[int, ...] = (42, 52, 62, 72, 82, 142, 152, 162, 172, 182)
    output: Path = Path("results")
    work: Path = Path("runs/finetune")
    settings: dict[str, Any] = Field(default_factory=dict)
    executor: str = "local"
    workers: int = Field(1, ge=1)
    keep: bool = False
    shared_dir: Optional[Path] = None
    data_dir: Optional[Path] = None
    tasks_dir: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("seeds"), str):
            text = data["seeds"]
            try:
                data = {**data, "seeds": tuple(int(s) for s in text.split(",") if s.strip())}
            except ValueError:
                raise FsabenchError(f"--seeds {text!r}: not a comma-separated list of integers",
                                    hint="e.g. --seeds 42,52") from None
        return data


class RecipeOptions(Options):
    """`distill recipe`: a whole recipe (or its plan)."""

    recipe: str
    overrides: tuple[str, ...] = ()
    output: Optional[Path] = None
    ablation: Optional[str] = None
    executor: Optional[str] = None
    workers: Optional[int] = None
    keep: Optional[bool] = None
    shared_dir: Optional[Path] = None
    data_dir: Optional[Path] = None


class StudyCreateOptions(Options):
    """`human create`."""

    study: Path
    items: tuple[Path, ...]
    annotators: str
    rubric: str = "analysis"
    sample: Optional[int] = None
    per_item: int = 2
    seed: int = 0


class StudyServeOptions(Options):
    """`human serve`."""

    study: Path
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    quiet: bool = False


class StudyExportOptions(Options):
    """`human export`."""

    study: Path
    format: Literal["label-studio", "csv"] = "label-studio"
    output: Optional[Path] = None
    unblind: bool = False

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format", "label-studio") not in ("label-studio", "csv"):
            raise FsabenchError(f"--format {data['format']!r} is not known",
                                hint="use --format label-studio or --format csv")
        return data


class JudgeOptions(Options):
    """`human judge`: an LLM judge rates every item."""

    study: Path
    model_name: str
    max_cost: Optional[float] = None
    cache: bool = True
    cache_dir: Optional[Path] = None
    overwrite: bool = False
    model: ModelOptions = Field(default_factory=lambda: ModelOptions(concurrency=8, timeout=120.0))


class StudyStatsOptions(Options):
    """`human stats`."""

    study: Path
    output: Optional[Path] = None
    bootstrap: int = Field(2000, ge=0)


# --- comparable numbers (issue 25) ---------------------------------------------------------------
class DiffOptions(Options):
    """`fsabench diff A B`: which tasks, how many resamples, what counts as significant, where the page goes."""

    tasks: tuple[str, ...] = ()  # empty: every task both sides hold
    bootstrap: int = Field(1000, ge=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    output: Optional[Path] = None  # .md or .html


class OverlapOptions(Options):
    """`fsabench tasks overlap`: which corpus and fields, which tasks, the n-gram size."""

    corpus: Path
    fields: tuple[str, ...] = ("text",)
    tasks: str = "fsa"
    ngram: int = Field(13, ge=1)
    min_words: int = Field(8, ge=1)
    data_dir: Optional[Path] = None
    tasks_dir: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _fields(self) -> "OverlapOptions":
        if not self.fields or not all(self.fields):
            raise ValueError("--field is empty: name the corpus field holding text, e.g. --field text")
        return self


class HubExportOptions(Options):
    """`fsabench export hub`: one model's results as Hub model-card metadata (and .eval_results files)."""

    output: Path
    name: Optional[str] = None  # model-index name; default: the results' model name
    leaderboard: Optional[str] = None  # a board whose passing audits mark results as verified
    leaderboards_dir: Optional[Path] = None
    hub_dataset: Optional[str] = Field(None, pattern=r"^[^/\s]+/[^/\s]+$")  # ORG/NAME of a Hub Benchmark dataset


class SweepOptions(Options):
    """`fsabench sweep`: which grid (SWEEP.yaml), where results go and what runs the cells."""

    sweep_file: Path  # SWEEP.yaml: models, tasks, num_shots, seeds, prompts, limit, exclude
    output_dir: Path  # one RunResult per cell under DIR/<model>/ (and the sweep.log.jsonl events)
    executor: Literal["local", "ray"] = "local"
    ray_address: Optional[str] = None  # join this Ray cluster; default: start a local Ray head on 127.0.0.1
    max_parallel: Optional[int] = Field(None, ge=1)  # workers at once (local) / CPUs of a local Ray head
    dry_run: bool = False
    shared_dir: Optional[Path] = None  # Ray: storage every worker mounts; holds the output (and the cache)
    cache: bool = True
    cache_dir: Optional[Path] = None
    data_dir: Optional[Path] = None
    tasks_dir: tuple[str, ...] = ()
