"""A distillation recipe as a file: corpus -> student -> pretraining -> fine-tuning and evaluation.

    fsabench distill recipe tiny.yaml [--set pretrain.steps=20] [--ablation no-pretrain]

The schema is strict (unknown keys are errors naming the key). Paths may use `{data_dir}` and
`{recipe_dir}`; other relative paths, like `out`, are relative to the current folder. Every stage
writes into `out/` and is skipped when its output exists; a stage whose settings changed since it
ran is refused rather than silently reused (fsabench.distill.stages).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fsabench.yamlfile import parse_yaml_text
from fsabench.yamlfile import read_yaml
from fsabench.errors import from_validation
from fsabench.distill.filters import FilterSpec
from fsabench.distill.finetune import PAPER_SEEDS, FinetuneConfig
from fsabench.distill.pretrain import PretrainConfig
from fsabench.errors import SpecError

RECIPES_DIR = Path(__file__).parent / "recipes"
ABLATIONS = ("no-pretrain",)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class ReviewSource(Strict):
    path: str = Field(description="JSON Lines or CSV file of reviews")
    format: Literal["jsonl", "csv"] | None = Field(None, description="default: from the file suffix")
    fields: dict[str, str] = Field(default_factory=dict, description="id/text/overall -> column name")
    limit: int | None = None


class CorpusStage(Strict):
    """Where the teacher corpus comes from: a teacher over reviews, imported files, or both."""

    teacher: str | None = Field(None, description="model string of the teacher, e.g. litellm:hosted_vllm/...")
    teacher_name: str | None = Field(None, description="names the <teacher>_response field (default from the model)")
    teacher_options: dict[str, Any] = Field(default_factory=dict, description="adapter options (api_base, concurrency...)")
    reviews: list[ReviewSource] = Field(default_factory=list)
    prompts: list[str] = Field(default_factory=lambda: ["analysis", "rewrite"])
    assign: Literal["both", "each", "random"] = Field(
        "both", description="both (alias each): every prompt for every review, as the paper's corpus; "
                            "random: one prompt per review, chosen by a hash of its id")
    max_new_tokens: int = Field(600, ge=1)
    temperature: float = Field(0.0, ge=0)
    max_cost: float | None = Field(None, description="stop asking the teacher after this many USD")
    imports: list[str] = Field(default_factory=list, alias="import", description="seed-format files to import")
    filters: FilterSpec = Field(default_factory=FilterSpec)
    valid_fraction: float = Field(0.01, ge=0, lt=1)

    @model_validator(mode="after")
    def _has_source(self) -> "CorpusStage":
        if not self.imports and not (self.teacher and self.reviews):
            raise ValueError("give `import:` files, or a `teacher:` with `reviews:`")
        return self


class TinyStudent(Strict):
    """A tiny T5 built from a config, its tokenizer trained on the corpus (plus the train split of
    `tokenizer_tasks`, so the answer format's ` | ` and ` ; ` are in the vocabulary)."""

    vocab_size: int = 2000
    d_model: int = 64
    num_layers: int = 2
    num_heads: int = 4
    d_ff: int = 128
    seed: int = 0
    tokenizer_tasks: list[str] = Field(default_factory=list)


class StudentSpec(Strict):
    model: str | None = Field(None, description="a seq2seq model string, e.g. hf:google-t5/t5-base")
    tiny: TinyStudent | None = None

    @model_validator(mode="after")
    def _one(self) -> "StudentSpec":
        if (self.model is None) == (self.tiny is None):
            raise ValueError("give exactly one of `model:` or `tiny:`")
        return self


class FinetuneStage(FinetuneConfig):
    tasks: list[str] = Field(default_factory=lambda: ["fsa"])
    seeds: list[int] = Field(default_factory=lambda: list(PAPER_SEEDS))
    executor: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1, description="local executor: jobs run at once")
    cpus_per_job: float = Field(1.0, gt=0, description="ray: CPUs each job asks for")
    gpus_per_job: float = Field(0.0, ge=0, description="ray: GPUs each job asks for")
    ray_address: str | None = None
    shared_dir: str | None = Field(None, description="ray: an absolute folder every worker sees; the jobs' "
                                                     "model, data, result and work paths must lie under it")
    keep: bool = Field(False, description="keep each seed's best checkpoint after testing")

    def config(self) -> FinetuneConfig:
        return FinetuneConfig(**self.model_dump(include=set(FinetuneConfig.model_fields)))


class Recipe(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = ""
    out: str | None = Field(None, description="output folder (default runs/<name>)")
    corpus: CorpusStage
    student: StudentSpec
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    finetune: FinetuneStage = Field(default_factory=FinetuneStage)


def find_recipe(name: str | Path) -> Path:
    """A path, or the name of a shipped recipe (`tiny`, `tiny.yaml`, `paper`)."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = RECIPES_DIR / (path.name if path.suffix else f"{path.name}.yaml")
    if shipped.is_file() and path.parent == Path("."):
        return shipped
    names = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
    raise SpecError(f"recipe {str(name)!r} not found", hint=f"give a YAML path or a shipped recipe: {', '.join(names)}")


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """`pretrain.steps=20` sets data['pretrain']['steps'] = 20 (the value is read as YAML)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"--set {assignment!r}: expected KEY=VALUE", hint="e.g. --set pretrain.steps=20")
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SpecError(f"--set {assignment!r}: {part} is not a section", hint="set a key inside a section")
    node[parts[-1]] = parse_yaml_text(raw, f"--set {assignment!r}", "value")[0]


def load_recipe(name: str | Path, overrides: list[str] | None = None) -> tuple[Recipe, Path]:
    path = find_recipe(name)
    data = read_yaml(path, "recipe")[0] or {}
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a recipe is a mapping of sections", hint="see recipes/tiny.yaml")
    for assignment in overrides or []:
        apply_override(data, assignment)
    try:
        return Recipe.model_validate(data), path
    except ValidationError as exc:
        raise from_validation(str(path), exc, "see docs/distill.md for the recipe schema", SpecError) from None


def resolve_path(text: str, recipe_dir: Path, data_dir: Path) -> Path:
    """`{data_dir}` and `{recipe_dir}` are expanded; other relative paths are relative to the current
    folder, like `out` (so a shipped recipe reads your files from where you run it)."""
    return Path(text.replace("{data_dir}", str(data_dir)).replace("{recipe_dir}", str(recipe_dir))).expanduser()
