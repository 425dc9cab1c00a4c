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

    format: Literal["json", "jsonl", "csv", "tuple_lines"] = Field(
        "json", description="json = one JSON array (BOM and CRLF tolerated); jsonl; csv with a header; "
        "tuple_lines = `sentence####[tuple, ...]` lines (ASTE-V2, ASQP), read with a safe literal parser"
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
    tuple_fields: list[str] = Field(
        default_factory=list, description="tuple_lines: a name for each element of a line's tuples, in order; "
        "each line becomes {input_field: sentence, 'aspects': [{name: element, ...}], 'line': n}"
    )

    @field_validator("splits")
    @classmethod
    def _test_split_present(cls, splits: dict[str, list[str]]) -> dict[str, list[str]]:
        if not splits.get("test"):
            raise ValueError("a task needs a 'test' split with at least one file")
        return splits

    @model_validator(mode="after")
    def _tuple_fields(self) -> "DataSpec":
        if self.format == "tuple_lines" and not self.tuple_fields:
            raise ValueError("format tuple_lines needs data.tuple_fields, e.g. [aspect, opinion, polarity]")
        if len(set(self.tuple_fields)) != len(self.tuple_fields):
            raise ValueError("data.tuple_fields names an element twice")
        return self


class GoldSpec(Strict):
    """A named gold builder plus its parameters (see fsabench.tasks.gold for the builders)."""

    builder: Literal["atsa_terms", "acsa_categories", "label", "tuples"]
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _typed_params(self) -> "GoldSpec":
        from fsabench.tasks.gold import params_problem

        problem = params_problem(self.builder, self.params)
        if problem:
            raise ValueError(f"{problem[0]} ({problem[1]})")
        return self


class OutputSpec(Strict):
    """How a model's text is read back into a structured prediction."""

    parser: Literal["pairs", "label", "tuples"] = Field(
        "pairs", description="pairs: `a | polarity ; ...`; tuples: `e1 | e2 | ... ; ...` with output.fields; label")
    polarities: list[str] = Field(default_factory=lambda: ["positive", "neutral", "negative", "conflict"])
    require_in_input: bool = Field(
        True, description="pairs: keep a piece only when its first element is a substring of the input"
    )
    labels: list[str] = Field(default_factory=list, description="label parser: the closed set of labels")
    verbalizer: dict[str, list[str]] = Field(
        default_factory=dict, description="label -> words a model may answer with for it"
    )
    fields: list[str] = Field(
        default_factory=list, description="tuples parser: the element names of one tuple, in target order; "
        "the element named 'polarity' must be one of output.polarities"
    )
    normalize: list[Literal["lowercase", "whitespace"]] = Field(
        default_factory=list, description="tuples parser: applied to every element of gold and prediction alike "
        "(lowercase; whitespace = strip and collapse runs of spaces)"
    )
    implicit: str | None = Field(
        None, description="tuples parser: the token written for an implicit (absent) aspect or opinion, e.g. NULL; "
        "exempt from require_in_input"
    )
    spans: list[str] = Field(
        default_factory=list, description="tuples parser: fields that are text spans of the input "
        "(checked against it when require_in_input is true)"
    )
    repairs: list[Literal["strip_code_fences", "strip_answer_prefix", "first_line", "lowercase",
                          "strip_explanation"]] = Field(
        default_factory=list, description="named, counted clean-ups applied to model text before parsing"
    )


class DistinctRule(Strict):
    field: str
    count: int = Field(2, strict=True, ge=1, le=1000, description="distinct values needed (0 would admit every "
                       "example: 'multi' would silently equal 'all')")


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
    any_aspect_is: dict[str, Any] | None = Field(
        None, description="some aspect has one of these field values, e.g. {aspect: NULL, opinion: NULL} "
        "(ASQP 'implicit': an implicit aspect or opinion)"
    )
    aspects_field: str = Field("aspects", description="record field holding the list of aspects")


class PromptSpec(Strict):
    """Prompt templates (jinja2, rendered in a sandbox) for instruction-following models."""

    instruction: str = ""
    template: str = "{{ input }}"
    shot_template: str = "{{ input }}\n{{ target }}"
    shot_separator: str = "\n\n"
    system: str | None = None


class PromptVariant(Strict):
    """A named prompt variant: the keys it gives replace the default prompt's, the rest are inherited."""

    instruction: str | None = None
    template: str | None = None
    shot_template: str | None = None
    shot_separator: str | None = None
    system: str | None = None


DEFAULT_PROMPT = "default"
PROMPT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class TaskSpec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    version: int = Field(1, strict=True, ge=1)
    description: str = ""
    type: Literal["extraction", "classification"] = "extraction"
    data: DataSpec
    gold: GoldSpec
    output: OutputSpec = Field(default_factory=OutputSpec)
    metric: Literal["tuple_f1", "absa_f1", "accuracy"] = Field(
        "tuple_f1", description="tuple_f1: the FSA paper's F1Measure (pairs); absa_f1: ABSA-QUAD's "
        "compute_f1_scores (triplets, quads); accuracy: classification"
    )
    convention: Literal["capped", "authors"] = Field(
        "capped", description="absa_f1 only. capped: a repeated predicted tuple is a hit at most as often as gold "
        "holds it, elements compared after output.normalize; authors: exactly ABSA-QUAD's compute_f1_scores "
        "(every repeat is a hit, case-sensitive exact match, an empty output or piece is one wrong prediction)"
    )
    elements: dict[str, list[str]] = Field(
        default_factory=dict, description="absa_f1: per-element F1 reported beside the tuple F1, "
        "name -> output.fields projected (e.g. pair: [aspect, opinion])"
    )
    subsets: dict[str, SubsetFilter] = Field(default_factory=lambda: {"all": SubsetFilter()})
    prompt: PromptSpec = Field(default_factory=PromptSpec)
    prompts: dict[str, PromptVariant] = Field(
        default_factory=dict, description="named prompt variants (`run --prompt NAME`, a sweep's `prompts:`); each "
        "overrides keys of `prompt`, which is the variant named 'default'")
    max_new_tokens: int = Field(100, strict=True, ge=1, le=131_072, description="generation budget; the paper uses 100 "
                                "(at most 128K: a task file from someone else cannot order an endless generation)")
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _default_variant(cls, data: Any) -> Any:
        """`prompts: {default: ...}` is another spelling of `prompt:` (one of the two, not both)."""
        if isinstance(data, dict) and isinstance(data.get("prompts"), dict) and DEFAULT_PROMPT in data["prompts"]:
            if "prompt" in data:
                raise ValueError("give the default prompt once: as `prompt:` or as `prompts.default`, not both")
            data = dict(data)
            prompts = dict(data["prompts"])
            data["prompt"] = prompts.pop(DEFAULT_PROMPT)
            data["prompts"] = prompts
        return data

    @field_validator("prompts")
    @classmethod
    def _variant_names(cls, prompts: dict[str, PromptVariant]) -> dict[str, PromptVariant]:
        import re

        for name in prompts:
            if not re.match(PROMPT_NAME, name):
                raise ValueError(f"prompt variant name {name!r} must be letters, digits, '.', '_' or '-'")
        return prompts

    @model_validator(mode="after")
    def _consistent(self) -> "TaskSpec":
        if "all" not in self.subsets:
            raise ValueError("subsets must include 'all' (use `all: {}`)")
        names = {name.replace("\\", "/").rsplit("/", 1)[-1] for files in self.data.splits.values() for name in files}
        for subset, rule in self.subsets.items():
            if rule.file is not None and rule.file not in names:  # it would match nothing: a silently empty subset
                raise ValueError(f"subsets.{subset}.file {rule.file!r} is not the name of a file in data.splits "
                                 f"({', '.join(sorted(names))}), so subset {subset!r} could never hold an example; "
                                 f"add the file to a split, or declare `subsets:` without {subset!r} (a variant's "
                                 "subsets replace its base's)")
        if self.output.parser == "label" and not self.output.labels:
            raise ValueError("output.labels is empty: the label parser needs the closed set of labels")
        if self.type == "classification" and self.metric != "accuracy":
            raise ValueError("classification tasks use metric: accuracy")
        if self.type == "extraction" and self.metric not in ("tuple_f1", "absa_f1"):
            raise ValueError("extraction tasks use metric: tuple_f1 or absa_f1")
        if self.convention == "authors" and (self.metric != "absa_f1" or self.output.parser != "tuples"):
            raise ValueError("convention: authors needs metric: absa_f1 and output.parser: tuples (triplet and quad "
                             "tasks); the FSA pair tasks are scored with the paper's tuple_f1")
        if self.output.parser == "tuples":
            self._check_tuples()
        elif self.elements:
            raise ValueError("elements needs output.parser: tuples")
        return self

    def _check_tuples(self) -> None:
        fields = self.output.fields
        if len(fields) < 2 or len(set(fields)) != len(fields):
            raise ValueError("output.fields needs two or more distinct element names for the tuples parser")
        if "polarity" not in fields:
            raise ValueError("output.fields needs an element named 'polarity'")
        unknown = sorted({f for f in self.output.spans if f not in fields}
                         | {f for names in self.elements.values() for f in names if f not in fields})
        if unknown:
            raise ValueError(f"output.spans / elements name {unknown}, not in output.fields {fields}")
        if self.gold.builder == "tuples" and self.gold.params.get("fields", self.data.tuple_fields) != fields:
            raise ValueError("gold.params.fields (default data.tuple_fields) must equal output.fields: "
                             "the target is written in that order")

    @property
    def structure(self) -> str:
        """pairs | triplets | quads | tuples | labels: how reports group tasks."""
        return structure_of(self.model_dump(mode="json"))

    @property
    def prompt_names(self) -> list[str]:
        """'default' and every declared variant, in file order."""
        return [DEFAULT_PROMPT, *self.prompts]

    def with_prompt(self, name: str = DEFAULT_PROMPT) -> "TaskSpec":
        """The task as run under prompt variant `name`: its templates in `prompt`, no variants left.

        The default variant is the task unchanged but for `prompts`, so its definition hash (which never
        covers `prompts`) is the one published before variants existed."""
        if name == DEFAULT_PROMPT:
            return self.model_copy(update={"prompts": {}})
        if name not in self.prompts:
            import difflib

            from fsabench.errors import SpecError

            close = difflib.get_close_matches(name, self.prompt_names, n=1)
            raise SpecError(f"task {self.name} has no prompt variant {name!r}",
                            hint=(f"did you mean {close[0]!r}? " if close else "")
                            + f"its variants: {', '.join(self.prompt_names)}")
        merged = {**self.prompt.model_dump(), **self.prompts[name].model_dump(exclude_none=True)}
        return self.model_copy(update={"prompt": PromptSpec(**merged), "prompts": {}})

    def definition(self) -> dict[str, Any]:
        """The definition a RunResult stores: without the variants that were not run."""
        return self.model_dump(mode="json", exclude={"prompts"})

    def definition_hash(self) -> str:
        """sha256 of the canonical definition; the description and tags do not change what is scored, and
        `prompts` (variants) does not either: a run uses one variant, resolved into `prompt` (with_prompt)."""
        payload = _without_new_defaults(self.model_dump(mode="json", exclude={"description", "tags", "prompts"}))
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class GroupSpec(Strict):
    """A named list of tasks (and other groups), run together."""

    group: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = ""
    tasks: list[str] = Field(min_length=1)


def structure_of(definition: dict[str, Any]) -> str:
    """A task's answer shape from its (stored) definition: labels, pairs, triplets, quads or tuples."""
    output = definition.get("output") or {}
    if output.get("parser") == "label":
        return "labels"
    if output.get("parser") != "tuples":
        return "pairs"
    return {3: "triplets", 4: "quads"}.get(len(output.get("fields") or []), "tuples")


# Keys added after tasks were first published: left out of the hash while at their default, so a
# task that does not use them keeps its published definition hash (and its results stay valid).
_NEW_KEYS = {"data": {"tuple_fields": []}, "output": {"fields": [], "normalize": [], "implicit": None, "spans": []}}


def _without_new_defaults(payload: dict[str, Any]) -> dict[str, Any]:
    for section, defaults in _NEW_KEYS.items():
        for key, default in defaults.items():
            if payload.get(section, {}).get(key, default) == default:
                payload.get(section, {}).pop(key, None)
    for rule in payload.get("subsets", {}).values():
        if rule.get("any_aspect_is") is None:
            rule.pop("any_aspect_is", None)
    if not payload.get("elements"):
        payload.pop("elements", None)
    if payload.get("convention", "capped") == "capped":
        payload.pop("convention", None)
    return payload
