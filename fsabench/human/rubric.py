"""Rubrics are data: a YAML file declares the dimensions a rater answers, each with its scale.

The shipped rubric is `analysis` (fsabench/builtin_rubrics/analysis.yaml, copied to rubrics/ in the
repository); users pass their own file by path. Loading is strict (pydantic, extra keys refused) and
every error is one line naming the file, the field and the fix.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fsabench.yamlfile import read_yaml
from fsabench.errors import SpecError, UnknownName

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "builtin_rubrics"
RESERVED_KEYS = frozenset({"s", "f", "h", "?"})  # skip, flag, mark span, help (plus arrows, Enter, Tab)
MAX_RUBRIC_BYTES = 256_000


class Choice(BaseModel):
    """One answer on a dimension's scale; `score` orders ordinal scales and feeds means."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: str = Field(min_length=1, max_length=40)
    label: str = Field(min_length=1, max_length=80)
    key: str = Field(min_length=1, max_length=1, description="the keyboard shortcut on the annotation page")
    score: float
    anchor: str = Field("", max_length=1000, description="what this answer means, shown beside it")


class Dimension(BaseModel):
    """A question answered once per item (`per: item`) or once per opinion target (`per: target`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    title: str
    question: str
    per: Literal["item", "target"] = "item"
    level: Literal["ordinal", "nominal", "interval"] = Field(
        description="Krippendorff's alpha level of measurement, and whether means are meaningful")
    scale: tuple[Choice, ...] = Field(min_length=2, max_length=12)
    span: tuple[str, ...] = Field((), description="answers that need the offending span marked in the analysis")

    @model_validator(mode="after")
    def _check(self) -> "Dimension":
        values = [c.value for c in self.scale]
        keys = [c.key.lower() for c in self.scale]
        for what, seen in (("value", values), ("key", keys)):
            dup = sorted({v for v in seen if seen.count(v) > 1})
            if dup:
                raise ValueError(f"dimension {self.name!r}: scale {what} {dup[0]!r} is used twice; give each answer its own")
        reserved = sorted(set(keys) & RESERVED_KEYS)
        if reserved:
            raise ValueError(f"dimension {self.name!r}: key {reserved[0]!r} is reserved (s skip, f flag, h span, ? help); "
                             "pick another letter")
        unknown = [v for v in self.span if v not in values]
        if unknown:
            raise ValueError(f"dimension {self.name!r}: span lists {unknown[0]!r}, which is not on the scale")
        if self.level == "ordinal":
            scores = [c.score for c in self.scale]
            if len(set(scores)) != len(scores):
                raise ValueError(f"dimension {self.name!r}: an ordinal scale needs distinct scores to order its answers")
        return self

    def choice(self, value: str) -> Choice | None:
        return next((c for c in self.scale if c.value == value), None)

    def rank(self, value: str) -> int:
        """The position on the scale ordered by score (what ordinal alpha and kappa compare)."""
        ordered = sorted(self.scale, key=lambda c: c.score)
        return next(i for i, c in enumerate(ordered) if c.value == value)


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    review: str
    analysis: str
    answers: dict[str, Any]
    explanation: str = ""


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    version: int = 1
    title: str
    instructions: str
    dimensions: tuple[Dimension, ...] = Field(min_length=1, max_length=20)
    examples: tuple[Example, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> "Rubric":
        names = [d.name for d in self.dimensions]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"dimension name {dup[0]!r} is used twice")
        for i, example in enumerate(self.examples):
            unknown = sorted(set(example.answers) - set(names))
            if unknown:
                raise ValueError(f"examples[{i}] answers unknown dimension {unknown[0]!r}")
        return self

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise UnknownName("rubric dimension", name, [d.name for d in self.dimensions])

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def builtin_rubrics() -> dict[str, Path]:
    return {p.stem: p for p in sorted(BUILTIN_DIR.glob("*.yaml"))}


def _where(error: dict) -> str:
    return ".".join(str(p) for p in error["loc"]) or "(top level)"


def parse_rubric(data: Any, source: str) -> Rubric:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a rubric is a mapping with name, title, instructions and dimensions",
                        hint="start from rubrics/analysis.yaml")
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where, msg = _where(first), first["msg"].removeprefix("Value error, ")
        hint = ("remove the key; allowed keys are in docs/human.md" if first["type"] == "extra_forbidden"
                else "see rubrics/analysis.yaml for a valid rubric")
        raise SpecError(f"{source}: field '{where}': {msg}", hint=hint) from None


def load_rubric(name_or_path: str | Path) -> Rubric:
    """A shipped rubric by name (`analysis`) or a user's YAML file by path."""
    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix in (".yaml", ".yml") or path.is_file()):
        shipped = builtin_rubrics()
        if text not in shipped:
            raise UnknownName("rubric", text, shipped)
        path = shipped[text]
    if not path.is_file():
        raise SpecError(f"{path}: rubric file not found", hint="give a shipped rubric name (analysis) or a YAML path")
    if path.stat().st_size > MAX_RUBRIC_BYTES:
        raise SpecError(f"{path}: rubric file is larger than {MAX_RUBRIC_BYTES} bytes", hint="a rubric is a short YAML file")
    data = read_yaml(path, "rubric")[0]
    return parse_rubric(data, str(path))
