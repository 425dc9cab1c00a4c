"""task x model -> RunResult: load examples, build prompts, generate in chunks, parse, score."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from fsabench import __version__
from fsabench.examples import Example, SplitData, load_split
from fsabench.models.answers import answers_of
from fsabench.models.base import Completion, ModelAdapter, TaskContext, maybe_prepare, parameter_count
from fsabench.models import split_model_name
from fsabench.prompts import build_requests
from fsabench.results import ModelInfo, Record, RunResult, TaskInfo, Timing, Usage
from fsabench.scoring import score_record, score_records
from fsabench.tasks.spec import TaskSpec

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class RunOptions:
    limit: int | None = None
    seed: int = 0
    num_shots: int = 0
    chunk_size: int = 64  # requests handed to the adapter at once (progress and stop checks between)
    protocol: str | None = None  # fine-tuned | zero-shot | few-shot | baseline; inferred when None
    max_cost: float | None = None  # stop cleanly once the run has cost this many USD
    scoring: str = "generate"  # generate | likelihood (classification: pick the likeliest verbalized label)
    prompt: str = "default"  # the prompt variant `spec` was resolved with (TaskSpec.with_prompt), recorded

    def __post_init__(self) -> None:
        """A budget of NaN never stops (every comparison is false) and a negative one stops before the first
        request: both are refused, from the CLI and from Python alike."""
        import math

        from fsabench.errors import FsabenchError

        cost = self.max_cost
        if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost)
                                 or cost < 0):
            raise FsabenchError(f"--max-cost {cost!r} is not a finite amount of USD >= 0", hint="e.g. --max-cost 2.5")


def load_examples(spec: TaskSpec, data_root: Path, limit: int | None,
                  test: SplitData | None = None) -> tuple[SplitData, list[Example]]:
    test = test if test is not None else load_split(spec, data_root, "test")
    examples = test.examples[:limit] if limit else test.examples
    return test, examples


def task_context(spec: TaskSpec, data_root: Path, examples: Sequence[Example],
                 train_split: SplitData | None = None) -> TaskContext:
    if train_split is None and "train" in spec.data.splits:
        train_split = load_split(spec, data_root, "train")
    train = train_split.examples if train_split is not None else []
    labels = spec.output.labels if spec.output.parser == "label" else spec.output.polarities
    return TaskContext(spec.name, spec.type, train, {e.id: e.target for e in examples}, labels,
                       tuple(spec.output.fields), spec.output.implicit)


def generate_all(adapter: ModelAdapter, requests, options: RunOptions, progress: Progress | None) -> list[Completion | None]:
    """Generate chunk by chunk; stop early (leaving None) once --max-cost is spent."""
    completions: list[Completion | None] = [None] * len(requests)
    spent = 0.0
    if progress:
        progress(0, len(requests))  # the total is known before the first answer: done/total and ETA from the start
    for start in range(0, len(requests), options.chunk_size):
        if options.max_cost is not None and spent >= options.max_cost:
            break
        chunk = requests[start:start + options.chunk_size]
        # checked: bad answers are failures; None (unsent) only when --max-cost can explain it (batch adapters)
        for offset, completion in enumerate(answers_of(adapter, chunk, unsent_ok=options.max_cost is not None)):
            if completion is None:  # a batch adapter left it unsent (over --max-cost)
                continue
            completions[start + offset] = completion
            spent += 0.0 if completion.cached else (completion.cost_usd or 0.0)
        if progress:
            progress(min(start + len(chunk), len(requests)), len(requests))
    return completions


def maybe_add_choices(spec: TaskSpec, requests: list, scoring: str) -> list:
    """--scoring likelihood: each request carries the verbalized labels; the model answers the likeliest."""
    if scoring == "generate":
        return requests
    from fsabench.prompts import label_choices

    choices = label_choices(spec)
    return [replace(r, choices=choices) for r in requests]


def infer_protocol(adapter: ModelAdapter, num_shots: int, scoring: str = "generate") -> str:
    """A raw-prompt model is a fine-tuned student, except when it picks the likeliest label of a task
    it was not trained on (`--scoring likelihood`, e.g. a distilled student on SentiBench): zero-shot."""
    if adapter.name.startswith("baseline:"):
        return "baseline"
    if adapter.prompt_style == "raw" and scoring != "likelihood":
        return "fine-tuned"
    return "few-shot" if num_shots else "zero-shot"


def usage_of(completions: Sequence[Completion | None]) -> Usage:
    return Usage.of(completions)


def run_task(spec: TaskSpec, adapter: ModelAdapter, data_root: Path, options: RunOptions = RunOptions(),
             progress: Progress | None = None, test: SplitData | None = None,
             train: SplitData | None = None) -> RunResult:
    """Run one task on one model and return its RunResult (not yet written); `test` and `train` (splits
    already read, e.g. by a sweep worker running many cells of one task) save re-reading them."""
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    test, examples = load_examples(spec, data_root, options.limit, test)
    context = task_context(spec, data_root, examples, train)
    maybe_prepare(adapter, context)
    requests = build_requests(spec, examples, adapter.prompt_style, context.train, options.num_shots, options.seed)
    requests = maybe_add_choices(spec, requests, options.scoring)
    completions = generate_all(adapter, requests, options, progress)
    records = records_of(spec, examples, requests, completions, adapter.prompt_style)
    seconds = time.perf_counter() - clock
    scheme, _ = split_model_name(adapter.name)
    return RunResult(
        fsabench_version=__version__,
        task=TaskInfo(name=spec.name, version=spec.version, type=spec.type, sha256=spec.definition_hash(),
                      data=test.files, definition=spec.definition()),
        model=ModelInfo(name=adapter.name, scheme=scheme, identity=adapter.identity(),
                        settings=adapter.settings(), parameters=parameter_count(adapter)),
        seed=options.seed,
        protocol=options.protocol or infer_protocol(adapter, options.num_shots, options.scoring),
        timing=Timing(started=started.isoformat(timespec="seconds"),
                      finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      seconds=round(seconds, 3),
                      examples_per_second=round(len(records) / seconds, 2) if seconds > 0 else None),
        usage=usage_of(completions),
        scores=score_records(spec, records),
        examples=records,
        complete=all(c is not None for c in completions),
        meta={"num_shots": options.num_shots, "limit": options.limit, "scoring": options.scoring,
              "prompt": options.prompt, **({"convention": spec.convention} if spec.metric == "absa_f1" else {})},
    )


def records_of(spec: TaskSpec, examples: Sequence[Example], requests, completions, style: str) -> list[Record]:
    """Score every answered example; examples never sent (stopped by --max-cost) are left out."""
    records = []
    for example, request, completion in zip(examples, requests, completions):
        if completion is None:
            continue
        prompt = None if style == "raw" else (list(request.messages) if request.messages else request.prompt)
        record = score_record(spec, example, completion.text, completion.error, prompt)
        record.prompt_tokens, record.completion_tokens = completion.prompt_tokens, completion.completion_tokens
        record.cost_usd, record.cached = completion.cost_usd, completion.cached
        records.append(record)
    return records
