"""Named, parameterised gold builders: a raw record -> the target string a model should produce.

Builders reproduce the paper's `make_atsa_seq` / `make_acsa_seq`; a task names one in YAML and
passes parameters, never code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from fsabench.errors import DataError, SpecError, UnknownName
from fsabench.formats import ITEM_SEP, PAIR_SEP, join_pairs, join_tuples

SEPARATORS = (PAIR_SEP.strip(), ITEM_SEP.strip())


def _aspects(record: Mapping[str, Any], field: str, where: str) -> list[Mapping[str, Any]]:
    aspects = record.get(field)
    if not isinstance(aspects, list) or not all(isinstance(a, Mapping) for a in aspects):
        raise DataError(f"{where}: field '{field}' must be a list of objects", hint="fix the data file")
    return aspects


def _offset(value: Any) -> Any:
    """The paper's `ifnt0`: a missing offset sorts as 0; strings stay strings (as in the origin)."""
    return 0 if value is None else value


def atsa_terms(record: Mapping[str, Any], params: Mapping[str, Any], where: str) -> str:
    """`term | polarity` per aspect: skip NULL/null targets, drop duplicate (term, polarity, from, to),
    order by (from, to)."""
    aspects_field = params.get("aspects_field", "aspects")
    term_field = params.get("term_field", "target")
    polarity_field = params.get("polarity_field", "polarity")
    skip = set(params.get("skip_targets", ["NULL"]))
    entries = set()
    for aspect in _aspects(record, aspects_field, where):
        term = aspect.get(term_field)
        if term is None or term in skip:
            continue
        polarity = aspect.get(polarity_field)
        if not isinstance(term, str) or not isinstance(polarity, str):
            raise DataError(f"{where}: aspect {term_field!r}/{polarity_field!r} must be strings",
                            hint="fix the data file")
        if not term.strip():  # a gold pair no model can write: the parser drops an empty term
            raise DataError(f"{where}: aspect {term_field!r} is empty", hint="write the term, or NULL (skipped) for "
                            "an aspect without one")
        loc = (_offset(aspect.get("from")), _offset(aspect.get("to")))
        entries.add((term, polarity, loc))
    try:
        ordered = sorted(entries, key=lambda e: (e[2], e[0], e[1]))
    except TypeError:  # offsets of mixed types within one record: order numerically
        ordered = sorted(entries, key=lambda e: (tuple(int(x) for x in e[2]), e[0], e[1]))
    return join_pairs([(term, polarity) for term, polarity, _ in ordered])


def acsa_categories(record: Mapping[str, Any], params: Mapping[str, Any], where: str) -> str:
    """`category | polarity` per aspect in annotation order, category lower-cased with '#' -> ' ',
    duplicate (category, polarity) dropped."""
    aspects_field = params.get("aspects_field", "aspects")
    category_field = params.get("category_field", "category")
    polarity_field = params.get("polarity_field", "polarity")
    lowercase = params.get("lowercase", True)
    replace = params.get("replace", {"#": " "})
    pairs: list[tuple[str, str]] = []
    for aspect in _aspects(record, aspects_field, where):
        category, polarity = aspect.get(category_field), aspect.get(polarity_field)
        if not isinstance(category, str) or not isinstance(polarity, str):
            raise DataError(f"{where}: aspect {category_field!r}/{polarity_field!r} must be strings",
                            hint="fix the data file")
        if not category.strip():
            raise DataError(f"{where}: aspect {category_field!r} is empty", hint="write the category")
        if lowercase:
            category = category.lower()
        for old, new in replace.items():
            category = category.replace(old, new)
        if (category, polarity) not in pairs:
            pairs.append((category, polarity))
    return join_pairs(pairs)


def label(record: Mapping[str, Any], params: Mapping[str, Any], where: str) -> str:
    """A single label from `field`, optionally renamed through `map` (e.g. 5 stars -> positive)."""
    field = params.get("field", "label")
    if field not in record:
        raise DataError(f"{where}: missing field '{field}'", hint="fix the data file or gold.params.field")
    value = record[field]
    mapping = params.get("map")
    if mapping is not None:
        key = str(value)
        if isinstance(value, float) and value.is_integer():
            key = str(int(value))
        if key not in {str(k) for k in mapping}:
            raise DataError(f"{where}: value {value!r} of '{field}' is not in gold.params.map",
                            hint="add it to the map in the task YAML")
        value = {str(k): v for k, v in mapping.items()}[key]
    return str(value)


def _span(tokens: list[str], indices: list[int], where: str, name: str) -> str:
    """Token indices of the whitespace-tokenised sentence -> the text span they cover (ASTE-V2)."""
    if indices != list(range(indices[0], indices[-1] + 1)):
        raise DataError(f"{where}: {name} indices {indices} are not contiguous",
                        hint="a span is consecutive tokens; split it into two tuples or fix the line")
    if indices[-1] >= len(tokens):
        raise DataError(f"{where}: {name} indices {indices} point past the sentence's {len(tokens)} tokens",
                        hint="indices are 0-based positions in the whitespace-split sentence")
    return " ".join(tokens[indices[0]:indices[-1] + 1])


def tuples(record: Mapping[str, Any], params: Mapping[str, Any], where: str) -> str:
    """`e1 | e2 | ... ; ...` in annotation order, duplicates kept (the ASTE/ASQP authors keep them).

    Elements named in `indices` are token-index lists turned into text spans of the whitespace-
    tokenised `input_field`; `polarity_map` renames polarity codes (POS -> positive). An element
    that would be lost or misread (empty, holding a separator, unmapped polarity) is an error."""
    aspects = _aspects(record, params.get("aspects_field", "aspects"), where)
    tokens = str(record.get(params.get("input_field", "sentence"), "")).split()
    indices = set(params.get("indices", []))
    polarity_map = params.get("polarity_map")
    out = []
    for aspect in aspects:
        fields = params.get("fields") or list(aspect)
        row = []
        for name in fields:
            value = aspect.get(name)
            if name in indices:
                if not isinstance(value, list):
                    raise DataError(f"{where}: {name} {value!r} is not a list of token indices",
                                    hint="fix the line, or gold.params.indices in the task YAML")
                value = _span(tokens, value, where, name)
            if name == "polarity" and polarity_map is not None:
                if value not in polarity_map:
                    raise DataError(f"{where}: polarity {value!r} is not in gold.params.polarity_map",
                                    hint=f"add it to the map (known: {', '.join(map(str, polarity_map))})")
                value = polarity_map[value]
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"{where}: {name} {value!r} is missing or empty",
                                hint="fix the line (write NULL for an implicit aspect or opinion)")
            bad = [sep for sep in SEPARATORS if sep in value]
            if bad:
                raise DataError(f"{where}: {name} {value!r} contains the separator {bad[0]!r} of the target format",
                                hint="edit that element in the data (the answer format `a | b ; c | d` cannot hold it)")
            row.append(value)
        out.append(row)
    return join_tuples(out)


BUILDERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any], str], str]] = {
    "atsa_terms": atsa_terms,
    "acsa_categories": acsa_categories,
    "label": label,
    "tuples": tuples,
}


def builder(name: str) -> Callable[[Mapping[str, Any], Mapping[str, Any], str], str]:
    if name not in BUILDERS:
        raise UnknownName("gold builder", name, BUILDERS)
    return BUILDERS[name]


class _Params(BaseModel):
    """Builder parameters are typed: a number where a field name belongs is refused when the task loads,
    not met as a TypeError deep inside a builder (or, worse, read as an odd but valid value)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class AtsaParams(_Params):
    aspects_field: str = "aspects"
    term_field: str = "target"
    polarity_field: str = "polarity"
    skip_targets: list[str] = ["NULL"]


class AcsaParams(_Params):
    aspects_field: str = "aspects"
    category_field: str = "category"
    polarity_field: str = "polarity"
    lowercase: bool = True
    replace: dict[str, str] = {"#": " "}


class LabelParams(_Params):
    field: str = "label"
    map: dict[str | int | float, str] | None = None  # YAML reads `5: positive` with an integer key


class TupleParams(_Params):
    aspects_field: str = "aspects"
    input_field: str = "sentence"
    fields: list[str] | None = None
    indices: list[str] = []
    polarity_map: dict[str, str] | None = None


PARAMS: dict[str, type[_Params]] = {"atsa_terms": AtsaParams, "acsa_categories": AcsaParams, "label": LabelParams,
                                    "tuples": TupleParams}


def params_problem(name: str, params: Mapping[str, Any]) -> tuple[str, str] | None:
    """(problem, fix) when a parameter is unknown to the builder or of the wrong type, else None.
    TaskSpec runs this on every construction, so a TaskSpec built in Python is checked like a YAML file."""
    model = PARAMS.get(name)
    if model is None:
        return None
    known = set(model.model_fields)
    unknown = set(params) - known
    if unknown:
        return f"unknown gold.params {sorted(unknown)} for builder {name}", f"valid params: {', '.join(sorted(known))}"
    try:
        model.model_validate(dict(params))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return (f"gold.params.{field} is {first['input']!r}: {first['msg']}",
                f"see the types of the {name} builder's params in `fsabench tasks show`")
    return None


def check_params(name: str, params: Mapping[str, Any], where: str) -> None:
    """Every parameter known to the builder and of the right type (one SpecError naming the first)."""
    problem = params_problem(name, params)
    if problem:
        raise SpecError(f"{where}: {problem[0]}", hint=problem[1])
