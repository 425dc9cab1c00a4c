"""LeaderboardSpec: the schema of `leaderboards/<name>/leaderboard.yaml`. A leaderboard is data.

A second leaderboard is a second folder with its own YAML: tasks, subsets, the metric and the
aggregate score, the categories an entry can enter and the protocol rules each category imposes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fsabench.yamlfile import read_yaml
from fsabench.errors import from_validation
from fsabench.errors import SpecError, UnknownName
from fsabench.tasks.registry import build_registry
from fsabench.tasks.spec import TaskSpec

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.\-]*$"
# Score fields a leaderboard may rank on, by the task metric that fills them.
METRIC_FIELDS = {"tuple_f1": ("f1", "precision", "recall"), "absa_f1": ("f1", "precision", "recall"),
                 "accuracy": ("accuracy", "macro_f1")}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(Strict):
    """A kind of entry, with the protocol rules its runs must follow."""

    label: str = Field(description="what the site shows, e.g. 'Fine-tuned small model'")
    description: str = ""
    protocols: list[str] = Field(min_length=1, description="RunResult.protocol values accepted")
    min_seeds: int = Field(1, ge=1, description="distinct seeds every task needs (fine-tuning: several)")
    same_model: bool = Field(True, description="every run names the same model (false for per-task checkpoints)")
    require_audit: bool = Field(False, description="entries are ranked only after a passing `leaderboard audit`")
    ranked: bool = Field(True, description="false: reference rows (baselines), shown but not ranked")


class AuditRule(Strict):
    """When a reproduction audit passes (`fsabench leaderboard audit`)."""

    min_identical: float = Field(0.8, ge=0, le=1, description="share of re-run outputs identical to the submitted")
    min_agreement_f1: float = Field(90.0, ge=0, le=100, description="F1 of re-run vs submitted parsed predictions")


class ScoreRule(Strict):
    """The aggregate score: mean over tasks of each task's seed-mean metric on one subset."""

    subset: str = "all"
    label: str = "Score"


class SubmissionLimits(Strict):
    """What a submission may weigh; anything larger is refused before it is parsed further. (The web
    servers' limits are the one `fsabench.web.Limits`; this is a leaderboard.yaml's `limits:` block.)"""

    max_submission_bytes: int = Field(64_000_000, ge=1)
    max_runs: int = Field(200, ge=1)
    max_examples_per_run: int = Field(50_000, ge=1)
    max_output_chars: int = Field(20_000, ge=1, description="one model output")
    max_string_chars: int = Field(20_000, ge=1, description="any other string in a bundle")
    max_name_chars: int = Field(120, ge=1, description="model name, base model, license")
    max_notes_chars: int = Field(2_000, ge=0)
    max_json_values: int = Field(1_000_000, ge=1, description="JSON values in one bundle, counted before parsing "
                                 "(a 10-seed entry on 4,238 examples holds ~230,000)")
    max_json_depth: int = Field(16, ge=1, description="JSON nesting depth (a bundle nests 8 deep)")


Limits = SubmissionLimits  # the old name, deprecated: kept for one release


class Reference(Strict):
    """A published result shown beside the entries, never ranked: nothing of it was re-computed here."""

    name: str = Field(min_length=1, max_length=200)
    scores: dict[str, float] = Field(min_length=1, description="task -> the board's metric (x100) on the score "
                                     "subset, as published")
    source: str = Field(min_length=1, max_length=500, description="the paper or page the numbers come from")
    note: str = Field("", max_length=1000, description="test set, metric or protocol differences")
    link: str | None = Field(None, max_length=500, description="an http(s) URL of the source")


class LeaderboardSpec(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    title: str
    description: str = ""
    tasks: list[str] = Field(min_length=1)
    split: str = "test"
    metric: str = Field("f1", description="the Score field ranked on: f1, precision, recall, accuracy, macro_f1")
    subsets: list[str] = Field(default_factory=lambda: ["all"], description="per-subset columns, in order")
    score: ScoreRule = Field(default_factory=ScoreRule)
    categories: dict[str, Category] = Field(min_length=1)
    limits: SubmissionLimits = Field(default_factory=SubmissionLimits)
    allow_partial: bool = Field(False, description="accept runs made with --limit N (the first N test examples), "
                                                   "shown as partial")
    rank_partial: bool = Field(False, description="rank partial entries (--limit runs) among full ones; by default "
                                                   "they are shown apart, unranked")
    audit: AuditRule = Field(default_factory=AuditRule)
    references: list[Reference] = Field(default_factory=list, description="published results shown in their own "
                                        "rows, labelled 'published, not reproduced here', never ranked")

    @model_validator(mode="after")
    def _consistent(self) -> "LeaderboardSpec":
        for ref in self.references:
            unknown = sorted(set(ref.scores) - set(self.tasks))
            if unknown:
                raise ValueError(f"references: {ref.name!r} scores task {unknown[0]!r}, not one of tasks {self.tasks}")
            if any(not 0 <= v <= 100 for v in ref.scores.values()):
                raise ValueError(f"references: {ref.name!r} has a score outside 0-100 (scores are x100)")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError("tasks lists a task twice")
        if self.score.subset not in self.subsets:
            raise ValueError(f"score.subset {self.score.subset!r} is not one of subsets {self.subsets}")
        if self.metric not in {f for fields in METRIC_FIELDS.values() for f in fields}:
            raise ValueError(f"metric {self.metric!r} is not a score field (f1, precision, recall, accuracy, macro_f1)")
        return self


@dataclass(frozen=True)
class Leaderboard:
    """A loaded leaderboard: its spec, its folder and the current definitions of its tasks."""

    spec: LeaderboardSpec
    root: Path  # the leaderboard's folder (holds leaderboard.yaml and submissions/)
    tasks: dict[str, TaskSpec]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def submissions_dir(self) -> Path:
        return self.root / "submissions"


def leaderboards_dir(explicit: str | os.PathLike | None = None) -> Path:
    """--leaderboards-dir, else FSABENCH_LEADERBOARDS_DIR, else ./leaderboards."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("FSABENCH_LEADERBOARDS_DIR")
    return Path(env).expanduser() if env else Path.cwd() / "leaderboards"


def available(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.parent.name for p in directory.glob("*/leaderboard.yaml"))


def read_spec(path: Path) -> LeaderboardSpec:
    """Parse and validate one leaderboard.yaml (safe loader; unknown keys are errors)."""
    data = read_yaml(path, "leaderboard.yaml")[0]
    if not isinstance(data, dict):
        raise SpecError(f"{path}: top level must be a mapping", hint="see leaderboards/fsa/leaderboard.yaml")
    try:
        return LeaderboardSpec.model_validate(data)
    except ValidationError as exc:
        raise from_validation(str(path), exc, "see docs/leaderboard.md", SpecError) from None


def check_tasks(spec: LeaderboardSpec, path: Path, tasks: dict[str, TaskSpec]) -> None:
    """Every subset the leaderboard shows exists in every task, and the metric fits each task."""
    for name, task in tasks.items():
        missing = [s for s in spec.subsets if s not in task.subsets]
        if missing:
            raise SpecError(f"{path}: task {name} has no subset {missing[0]!r}",
                            hint=f"its subsets are {', '.join(task.subsets)}")
        if spec.metric not in METRIC_FIELDS[task.metric]:
            raise SpecError(f"{path}: metric {spec.metric!r} does not apply to task {name} ({task.metric})",
                            hint=f"use one of {', '.join(METRIC_FIELDS[task.metric])}")


def load_leaderboard(name: str, directory: str | os.PathLike | None = None,
                     tasks_dir: list[str] | None = None) -> Leaderboard:
    """Find `<leaderboards dir>/<name>/leaderboard.yaml`, validate it and resolve its tasks."""
    base = leaderboards_dir(directory)
    path = base / name / "leaderboard.yaml"
    if not path.is_file():
        known = available(base)
        if not known:
            raise SpecError(f"no leaderboards in {base}", hint="run from the repository root or pass "
                            "--leaderboards-dir / set FSABENCH_LEADERBOARDS_DIR")
        raise UnknownName("leaderboard", name, known)
    spec = read_spec(path)
    if spec.name != name:
        raise SpecError(f"{path}: name {spec.name!r} differs from its folder {name!r}", hint="make them equal")
    registry = build_registry(tasks_dir)
    tasks = {task: registry.spec(task) for task in spec.tasks}
    check_tasks(spec, path, tasks)
    return Leaderboard(spec, path.parent, tasks)
