"""TaskSpec: the schema every task YAML is validated against. A task is data, never code."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SPLITS = ("train", "dev", "test")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSpec(Strict):
    """Where a task's examples come from, relative to the data directory."""

    format: Literal["json", "jsonl", "csv"] = Field(
        "json", description="json = one JSON array (BOM and CRLF tolerated); jsonl; csv with a header"
    )
    dir: str = Field(description="folder under the data dir (or an absolute path) holding the split files")
    splits: dict[Literal["train", "dev", "test"], list[str]] = Field(
        description="split name -> files, read in order and concatenated"
    )
    id_field: str | None = Field("ID", description="record field with a unique id; null = use the position")
    input_field: str = Field("sentence", description="record field holding the text the model reads")
    sha256: dict[str, str] = Field(
        default_factory=dict, description="optional file name -> sha256 pins for data that is not built in"
    )

    @field_validator("splits")
    @classmethod
    def _test_split_present(cls, splits: dict[str, list[str]]) -> dict[str, list[str]]:
        if not splits.get("test"):
            raise ValueError("a task needs a 'test' split with at least one file")
        return splits


class GoldSpec(Strict):
    """A named gold builder plus its parameters (see fsabench.tasks.gold for the builders)."""

    builder: Literal["atsa_terms", "acsa_categories", "label"]
    params: dict[str, Any] = Field(default_factory=dict)


class OutputSpec(Strict):
    """How a model's text is read back into a structured prediction."""

    parser: Literal["pairs", "label"] = "pairs"
    polarities: list[str] = Field(default_factory=lambda: ["positive", "neutral", "negative", "conflict"])
    require_in_input: bool = Field(
        True, description="pairs: keep a piece only when its first element is a substring of the input"
    )
    labels: list[str] = Field(default_factory=list, description="label parser: the closed set of labels")
    verbalizer: dict[str, list[str]] = Field(
        default_factory=dict, description="label -> words a model may answer with for it"
    )
    repairs: list[Literal["strip_code_fences", "strip_answer_prefix", "first_line", "lowercase",
                          "strip_explanation"]] = Field(
        default_factory=list, description="named, counted clean-ups applied to model text before parsing"
    )


class DistinctRule(Strict):
    field: str
    count: int = 2


class SubsetFilter(Strict):
    """A declarative filter; an example is in the subset when every given condition holds."""

    file: str | None = Field(None, description="the example came from this split file")
    any_aspect_empty: str | None = Field(
        None, description="some aspect has this field missing, null or empty (the paper's 'implicit')"
    )
    min_distinct: DistinctRule | None = Field(
        None, description="the aspects carry at least `count` distinct values of `field` (the paper's 'multi')"
    )
    field_equals: dict[str, Any] | None = Field(None, description="top-level record fields equal these values")
    aspects_field: str = Field("aspects", description="record field holding the list of aspects")


class PromptSpec(Strict):
    """Prompt templates (jinja2, rendered in a sandbox) for instruction-following models."""

    instruction: str = ""
    template: str = "{{ input }}"
    shot_template: str = "{{ input }}\n{{ target }}"
    shot_separator: str = "\n\n"
    system: str | None = None


class TaskSpec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    version: int = 1
    description: str = ""
    type: Literal["extraction", "classification"] = "extraction"
    data: DataSpec
    gold: GoldSpec
    output: OutputSpec = Field(default_factory=OutputSpec)
    metric: Literal["tuple_f1", "accuracy"] = "tuple_f1"
    subsets: dict[str, SubsetFilter] = Field(default_factory=lambda: {"all": SubsetFilter()})
    prompt: PromptSpec = Field(default_factory=PromptSpec)
    max_new_tokens: int = Field(100, ge=1, description="generation budget; the paper uses 100")
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "TaskSpec":
        if "all" not in self.subsets:
            raise ValueError("subsets must include 'all' (use `all: {}`)")
        if self.output.parser == "label" and not self.output.labels:
            raise ValueError("output.labels is empty: the label parser needs the closed set of labels")
        if self.type == "classification" and self.metric != "accuracy":
            raise ValueError("classification tasks use metric: accuracy")
        if self.type == "extraction" and self.metric != "tuple_f1":
            raise ValueError("extraction tasks use metric: tuple_f1")
        return self

    def definition_hash(self) -> str:
        """sha256 of the canonical definition; the description and tags do not change what is scored."""
        payload = self.model_dump(mode="json", exclude={"description", "tags"})
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class GroupSpec(Strict):
    """A named list of tasks (and other groups), run together."""

    group: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = ""
    tasks: list[str] = Field(min_length=1)
