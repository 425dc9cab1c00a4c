"""Task + data directory -> Examples (id, input, gold target, parsed gold, subsets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsabench.data.loaders import load_records
from fsabench.data.sources import expected_sha256, sha256_file
from fsabench.errors import ChecksumError, DataError
from fsabench.formats import Pair, parse_label, parse_pairs, parse_tuples
from fsabench.tasks import gold as gold_builders
from fsabench.tasks.spec import OutputSpec, SubsetFilter, TaskSpec


@dataclass(frozen=True)
class Example:
    id: str
    input: str
    target: str  # the gold answer as text: what a fine-tuned model is trained to produce
    gold: tuple[Pair, ...]  # the target parsed exactly as predictions are
    subsets: tuple[str, ...]
    source: str  # the split file it came from
    record: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class SplitData:
    examples: list[Example]
    files: dict[str, str]  # data-dir relative path -> sha256


def parse_output(output: OutputSpec, text: str, source: str):
    """Model text -> Parsed, with the task's parser (shared by gold and predictions)."""
    if output.parser == "label":
        return parse_label(text, output.labels, output.verbalizer)
    if output.parser == "tuples":
        return parse_tuples(text, source, output.fields, output.polarities, output.normalize, output.spans,
                            output.implicit, output.require_in_input)
    return parse_pairs(text, source, output.polarities, output.require_in_input)


def dropped_piece(output: OutputSpec, target: str, source: str) -> str:
    """The first piece of a gold target string that the task's parser would not keep."""
    for piece in target.split(";"):
        if piece.strip() and parse_output(output, piece, source).unparseable:
            return piece.strip()
    return target


def drop_hint(output: OutputSpec, piece: str = "", source: str = "") -> str:
    """Why the parser drops this gold piece and how to keep it (the cause named when it can be told)."""
    labels = list(getattr(output, "polarities", None) or [])
    if output.parser == "tuples":
        return (f"each piece needs {len(output.fields)} non-empty elements ({' | '.join(output.fields)}) and a "
                f"polarity in output.polarities (now {labels}) or mapped by gold.params.polarity_map")
    if output.parser == "pairs" and piece:
        if piece.count("|") != 1:
            return "the term holds '|' or ';' (the separators): clean the term in the data file"
        term, polarity = (part.strip() for part in piece.split("|"))
        if polarity not in labels:
            return (f"the label {polarity!r} is not in output.polarities {labels}: declare it there, or map it "
                    "to one of them in the data")
        if output.require_in_input and term not in source:
            return (f"the term {term!r} is not a substring of the sentence: fix the data, or set "
                    "output.require_in_input: false to score such terms")
    return (f"declare the label in output.polarities (now {labels}) or map it in gold.params; "
            "remove ';' or '|' from the term; or, if the term is not in the sentence, set "
            "output.require_in_input: false")


def _empty(value: Any) -> bool:
    return not value  # the paper's `not aspect.get('opinion_words')`: None, '', [] and missing


def in_subset(rule: SubsetFilter, record: Mapping[str, Any], source: str) -> bool:
    """True when the record passes every condition the filter declares."""
    if rule.file is not None and Path(source).name != rule.file:
        return False
    aspects = record.get(rule.aspects_field) or []
    if rule.any_aspect_empty is not None and not any(_empty(a.get(rule.any_aspect_empty)) for a in aspects):
        return False
    if rule.min_distinct is not None:
        values = {str(a.get(rule.min_distinct.field)) for a in aspects}
        if len(values) < rule.min_distinct.count:
            return False
    if rule.any_aspect_is and not any(a.get(k) == v for a in aspects for k, v in rule.any_aspect_is.items()):
        return False
    if rule.field_equals:
        return all(record.get(k) == v for k, v in rule.field_equals.items())
    return True


def split_files(spec: TaskSpec, data_root: Path, split: str) -> list[Path]:
    if split not in spec.data.splits:
        raise DataError(f"task {spec.name} has no '{split}' split", hint=f"it has {', '.join(spec.data.splits)}")
    base = Path(spec.data.dir)
    base = base if base.is_absolute() else data_root / base
    return [base / name for name in spec.data.splits[split]]


def _check_sha(spec: TaskSpec, data_root: Path, path: Path) -> str:
    digest = sha256_file(path)
    try:
        relpath = path.relative_to(data_root).as_posix()
    except ValueError:
        relpath = path.as_posix()
    own = spec.data.sha256.get(path.name)
    pinned = own or expected_sha256(relpath)
    if pinned and digest != pinned:
        if own:  # the task file's own pin: the user's data; `data pull` knows nothing of it
            raise ChecksumError(f"{path}: sha256 {digest} differs from the pin {pinned} in task {spec.name}'s "
                                f"data.sha256", hint=f"if the new file is right, set data.sha256.{path.name}: {digest} "
                                "in the task file (`fsabench data hash FILE` prints it); else restore the file")
        raise ChecksumError(f"{path}: sha256 {digest} differs from the pinned {pinned}",
                            hint="the file was changed or corrupted: run `fsabench data pull` to restore it")
    return digest


def load_split(spec: TaskSpec, data_root: Path, split: str = "test") -> SplitData:
    """Read a split's files in order, build gold with the task's builder, tag subsets."""
    if not data_root.is_dir():
        raise DataError(f"data directory {data_root} does not exist",
                        hint="run `fsabench data pull`, or set --data-dir / FSABENCH_DATA_DIR")
    build = gold_builders.builder(spec.gold.builder)
    examples: list[Example] = []
    files: dict[str, str] = {}
    seen: dict[str, str] = {}
    for path in split_files(spec, data_root, split):
        if not path.is_file():
            raise DataError(f"{path}: data file not found for task {spec.name}",
                            hint="run `fsabench data pull`, or set --data-dir / FSABENCH_DATA_DIR")
        digest = _check_sha(spec, data_root, path)
        files[path.relative_to(data_root).as_posix() if path.is_relative_to(data_root) else str(path)] = digest
        records = load_records(path, spec.data.format, spec.data.tuple_fields, spec.data.input_field)
        for index, record in enumerate(records):
            examples.append(_example(spec, build, record, path, index, seen))
    if not examples:  # a score of nothing is undefined: an empty split is a broken dataset, not a 0 or a 100
        names = ", ".join(p.name for p in split_files(spec, data_root, split))
        raise DataError(f"task {spec.name}: the {split} split ({names}) holds no examples",
                        hint="check the file is the right one and holds records (a JSON array or JSON lines)")
    if split == "test":  # scores per subset are test scores (the paper's train/dev files hold no opinion words)
        check_subset_fields(spec, split, [e.record for e in examples])
    return SplitData(examples, files)


def check_subset_fields(spec: TaskSpec, split: str, records: Sequence[Mapping[str, Any]]) -> None:
    """Every field a subset filter names exists in some record (or aspect) of the split.

    A misspelt field is missing everywhere, and a missing opinion field is "empty": `any_aspect_empty:
    opinion_wordz` silently turned "implicit" into 946 of 1,140 examples. Refused here, so `run`, `score`
    and `tasks validate --check-data` all see it."""
    top = {key for record in records for key in record}
    aspect_keys: dict[str, set[str]] = {}
    for name, rule in spec.subsets.items():
        named_top = list(rule.field_equals or {})
        named_aspect = [f for f in (rule.any_aspect_empty, rule.min_distinct.field if rule.min_distinct else None)
                        if f is not None] + list(rule.any_aspect_is or {})
        if named_aspect:
            named_top.append(rule.aspects_field)
        for field in named_top:
            if field not in top:
                raise DataError(f"task {spec.name}: subsets.{name} names record field {field!r}, which no record of "
                                f"the {split} split has", hint=f"fields of the records: {', '.join(sorted(top)[:12])}")
        if named_aspect and rule.aspects_field not in aspect_keys:
            aspect_keys[rule.aspects_field] = {key for record in records
                                               for a in (record.get(rule.aspects_field) or [])
                                               if isinstance(a, Mapping) for key in a}
        for field in named_aspect:
            known = aspect_keys[rule.aspects_field]
            if field not in known:
                raise DataError(f"task {spec.name}: subsets.{name} names aspect field {field!r}, which no aspect in "
                                f"{rule.aspects_field!r} of the {split} split has",
                                hint=f"aspect fields: {', '.join(sorted(known)[:12]) or '(none)'}")


def _example_id(raw_id: Any, field_name: str, where: str) -> str:
    """A record's id as text: a non-empty string or an integer; ids are matched as text against
    predictions and bundles, so a float (1.0 vs 1), a boolean or an id with control characters
    (a newline breaks JSONL listings) would match the wrong line or none."""
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        kind = "missing" if raw_id is None else f"{type(raw_id).__name__} {raw_id!r}, not a string or integer"
        raise DataError(f"{where}: field '{field_name}' is {kind}",
                        hint="give every record a text or integer id, or set data.id_field: null to number by position")
    text = str(raw_id)
    if not text.strip():
        raise DataError(f"{where}: field '{field_name}' is empty", hint="give every record a non-empty id")
    bad = next((ch for ch in text if ch < " " or "\x7f" <= ch <= "\x9f"), None)
    if bad is not None:
        raise DataError(f"{where}: id {text!r} holds the control character U+{ord(bad):04X}",
                        hint="ids must be one line of visible text: remove it from the data file")
    return text


def _example(spec: TaskSpec, build, record: Mapping[str, Any], path: Path, index: int,
             seen: dict[str, str]) -> Example:
    line = record.get("line") if spec.data.format == "tuple_lines" else None
    where = f"{path}:{line}" if line else f"{path} record {index}"
    text = record.get(spec.data.input_field)
    if not isinstance(text, str):
        raise DataError(f"{where}: field '{spec.data.input_field}' is missing or not text",
                        hint="fix the record or set data.input_field in the task YAML")
    if spec.data.id_field is None:
        example_id = f"{path.stem}:{index}"
    else:
        example_id = _example_id(record.get(spec.data.id_field), spec.data.id_field, where)
    if example_id in seen:
        raise DataError(f"{where}: duplicate id {example_id!r} (also in {seen[example_id]})",
                        hint="ids must be unique within a split; set data.id_field: null to use positions")
    seen[example_id] = path.name
    # tuple_lines records carry their line: errors name file:line and the example id
    located = f"{where} (id {example_id})" if line else where
    target = build(record, spec.gold.params, located)
    parsed = parse_output(spec.output, target, text)
    if spec.output.parser == "label" and not parsed.pairs:
        raise DataError(f"{path}: example {example_id}: gold label {target!r} is not one of output.labels "
                        f"{spec.output.labels}", hint="add it to output.labels or map it with gold.params.map")
    if parsed.unparseable:
        piece = dropped_piece(spec.output, target, text)
        raise DataError(f"{where if line else path}: example {example_id}: gold piece "
                        f"{piece!r} would be dropped by the task's own parser",
                        hint=drop_hint(spec.output, piece, text))
    gold = parsed.pairs
    subsets = tuple(name for name, rule in spec.subsets.items() if in_subset(rule, record, path.name))
    return Example(example_id, text, target, gold, subsets, path.name, record)
