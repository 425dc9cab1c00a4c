"""Study <-> Label Studio and CSV, so a team can annotate elsewhere and keep fsabench's statistics.

Label Studio: `export` writes a labeling config (XML: the review, the analysis with a span label for
hallucinations, one Choices block per dimension, per-target dimensions as numbered slots up to the
study's most targets) and a task list (JSON, one task per item, blinded). Label Studio's JSON export
of the annotated project reads back with `import`: each annotation becomes one answer of annotator
`ls:<email or id>`, checked against the rubric like any other answer.
"""

from __future__ import annotations

import csv
import hashlib
import io
from contextlib import closing
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from fsabench.errors import DataError
from fsabench.human.store import check_answer, store_of
from fsabench.human.study import Study
from fsabench.io import read_json

SPAN_LABEL = "hallucination"
MAX_IMPORT_BYTES = 200_000_000


def max_targets(study: Study) -> int:
    return max((len(i["targets"]) for i in study.items.values()), default=1)


def choices_xml(name: str, to: str, scale, required: bool = False) -> str:
    options = "".join(f"<Choice value={quoteattr(c.value)} hint={quoteattr(c.anchor)}/>" for c in scale)
    required_attr = ' required="true"' if required else ""
    return (f'<Choices name={quoteattr(name)} toName={quoteattr(to)} choice="single-radio" showInline="true"'
            f'{required_attr}>{options}</Choices>')


def labeling_config(study: Study) -> str:
    parts = ["<View>", '<Header value="Review"/>', '<Text name="review" value="$review"/>',
             '<Header value="Analysis"/>']
    span_dims = [d for d in study.rubric.dimensions if d.span]
    if span_dims:
        parts.append(f'<Labels name="{span_dims[0].name}_span" toName="analysis">'
                     f'<Label value="{SPAN_LABEL}" background="#ffd37a"/></Labels>')
    parts.append('<Text name="analysis" value="$analysis"/>')
    for dim in study.rubric.dimensions:
        parts.append(f"<Header value={quoteattr(dim.title + ': ' + dim.question)}/>")
        if dim.per == "target":
            for t in range(1, max_targets(study) + 1):
                parts.append(f'<Text name="target_{t}" value="$target_{t}"/>')
                parts.append(choices_xml(f"{dim.name}_{t}", "analysis", dim.scale))
        else:
            parts.append(choices_xml(dim.name, "analysis", dim.scale))
    parts.append("</View>")
    return "\n".join(p for p in parts if p) + "\n"


def label_studio_tasks(study: Study) -> list[dict]:
    tasks = []
    for item in study.items.values():
        data = {"item": item["id"], "review": item["review"], "analysis": item["analysis"]}
        for t in range(1, max_targets(study) + 1):
            data[f"target_{t}"] = item["targets"][t - 1] if t <= len(item["targets"]) else ""
        tasks.append({"data": data})
    return tasks


def export_label_studio(study: Study, out: Path) -> list[Path]:
    from fsabench.io import write_json_atomic, write_text_atomic

    return [write_text_atomic(out / "label-studio-config.xml", labeling_config(study)),
            write_json_atomic(out / "label-studio-tasks.json", label_studio_tasks(study))]


def export_csv(study: Study, unblind: bool = False) -> str:
    """One row per answered question: annotator, kind, item, dimension, target, value, spans."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["annotator", "kind", "status", "item"] + (["model"] if unblind else []) + [
        "dimension", "target", "value", "spans", "flagged", "note"]
    writer.writerow(header)
    with closing(store_of(study)) as store:
        rows = store.rows()
    for row in rows:
        item = study.items.get(row.item)
        if item is None:
            continue
        for dim in study.rubric.dimensions:
            value = row.answer.get("values", {}).get(dim.name)
            values = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            spans = ";".join(f"{s['start']}-{s['end']}" for s in row.answer.get("spans", {}).get(dim.name, []))
            for t, v in values:
                target = item["targets"][t] if t is not None and t < len(item["targets"]) else ""
                writer.writerow([row.annotator, row.kind, row.status, row.item]
                                + ([study.model_of(row.item)] if unblind else [])
                                + [dim.name, target, v if v is not None else "", spans,
                                   int(bool(row.answer.get("flagged"))), row.answer.get("note", "")])
    return buffer.getvalue()


def _annotator(annotation: dict, where: str) -> str:
    """`ls:<email or id>`, whole: two people whose emails share their first 60 characters stay apart (a
    long name keeps a readable head and a hash of the whole)."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    if isinstance(who, bool) or not isinstance(who, (str, int)) or who == "":
        raise DataError(f"{where}: annotation has no 'completed_by' (an email or a user id)",
                        hint="import Label Studio's JSON export (JSON-MIN drops the annotator)")
    name = str(who).replace(" ", "_")
    if len(name) > 60:
        name = f"{name[:40]}~{hashlib.sha256(name.encode('utf-8', 'replace')).hexdigest()[:12]}"
    return f"ls:{name}"


def _choice(value: Any, name: str, where: str) -> Any:
    choices = value.get("choices") if isinstance(value, dict) else None
    if not isinstance(choices, list) or len(choices) != 1:
        raise DataError(f"{where}: result {name!r} holds {choices!r}, not one choice",
                        hint="each question takes exactly one choice (the config is single-radio)")
    return choices[0]


def answer_from_results(study: Study, item: dict, results: Any, where: str) -> dict[str, Any]:
    """Label Studio result regions -> an answer in the store's shape, field by field exactly: a per-target
    question is `<dimension>_<n>` with n from 1 to the item's targets (no `_0`, no `_01`), each once."""
    values: dict[str, Any] = {}
    spans: dict[str, list] = {}
    dims = {d.name: d for d in study.rubric.dimensions}
    if not isinstance(results, list):
        raise DataError(f"{where}: 'result' is not a list", hint="import Label Studio's JSON export")
    seen: set[str] = set()
    for region in results:
        if not isinstance(region, dict):
            raise DataError(f"{where}: a result is not an object", hint="import Label Studio's JSON export")
        name, value = region.get("from_name"), region.get("value")
        if not isinstance(name, str) or not isinstance(value, dict):
            raise DataError(f"{where}: a result has no 'from_name' text and 'value' object",
                            hint="import Label Studio's JSON export")
        if region.get("type") == "labels" and name.endswith("_span") and name[:-5] in dims:
            start, end = value.get("start"), value.get("end")
            if type(start) is not int or type(end) is not int:
                raise DataError(f"{where}: span {name!r} has no integer start and end", hint="mark the span again")
            spans.setdefault(name[:-5], []).append({"start": start, "end": end})
            continue
        if name.startswith("target_"):
            continue  # the target texts shown beside the questions
        if name in seen:
            raise DataError(f"{where}: question {name!r} is answered twice in one annotation",
                            hint="keep one answer per question")
        seen.add(name)
        base, _, slot = name.rpartition("_")
        if name in dims and dims[name].per == "item":
            values[name] = _choice(value, name, where)
        elif base in dims and dims[base].per == "target" and slot.isdigit() and slot == str(int(slot)) \
                and 1 <= int(slot) <= max_targets(study):
            if int(slot) <= len(item["targets"]):
                values.setdefault(base, [None] * len(item["targets"]))[int(slot) - 1] = _choice(value, name, where)
        else:
            raise DataError(f"{where}: from_name {name!r} is not a question of rubric {study.rubric.name!r}",
                            hint="export the project that `fsabench human export --format label-studio` set up")
    return {"values": values, "spans": spans}


def import_label_studio(study: Study, path: Path) -> dict[str, int]:
    """Read Label Studio's JSON export; store each (annotator, item) answer. Returns counts.

    All or nothing: every task and annotation is checked first, then every answer is stored in one
    SQLite transaction, so a refused export leaves the answers as they were."""
    tasks = read_json(path, "Label Studio export", error=DataError, max_bytes=MAX_IMPORT_BYTES,
                      missing="export the Label Studio project as JSON", hint="export the Label Studio project as JSON",
                      max_values=20_000_000, max_depth=32)
    if not isinstance(tasks, list):
        raise DataError(f"{path}: a Label Studio export is a list of tasks", hint="export the project as JSON (not JSON-MIN)")
    counts = {"answers": 0, "tasks": 0}
    answers: dict[tuple[str, str], tuple[str, Any]] = {}
    for n, task in enumerate(tasks):
        where = f"{path} task {n}"
        data = task.get("data") if isinstance(task, dict) else None
        item_id = data.get("item") if isinstance(data, dict) else None
        if not isinstance(item_id, str) or item_id not in study.items:
            raise DataError(f"{where}: field 'data.item' is {item_id!r}, not an item of this study",
                            hint="import the export of the project made from this study's tasks")
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
            raise DataError(f"{where}: 'annotations' is not a list of objects", hint="import Label Studio's JSON export")
        counts["tasks"] += 1
        for annotation in annotations:
            if annotation.get("was_cancelled"):
                continue
            who = _annotator(annotation, where)
            result = annotation.get("result")
            raw = answer_from_results(study, study.items[item_id], [] if result is None else result, where)
            try:
                answer, status = check_answer(study.rubric, study.items[item_id], raw)
            except ValueError as exc:
                raise DataError(f"{where}: {exc}", hint="fix the annotation in Label Studio and export again") from None
            if (who, item_id) in answers:
                raise DataError(f"{where}: {who} annotated item {item_id!r} twice in this export",
                                hint="keep one annotation per person and item")
            answers[who, item_id] = (status, answer)
    with closing(store_of(study)) as store:
        store.save_many([(who, item, "human", status, answer) for (who, item), (status, answer) in answers.items()])
    counts["answers"] = len(answers)
    return counts
