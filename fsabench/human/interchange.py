"""Study <-> Label Studio and CSV, so a team can annotate elsewhere and keep fsabench's statistics.

Label Studio: `export` writes a labeling config (XML: the review, the analysis with a span label for
hallucinations, one Choices block per dimension, per-target dimensions as numbered slots up to the
study's most targets) and a task list (JSON, one task per item, blinded). Label Studio's JSON export
of the annotated project reads back with `import`: each annotation becomes one answer of annotator
`ls:<email or id>`, checked against the rubric like any other answer.
"""

from __future__ import annotations

import csv
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


def _annotator(annotation: dict) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    name = str(who if who not in (None, "") else "unknown").replace(" ", "_")[:60]
    return f"ls:{name}"


def answer_from_results(study: Study, item: dict, results: list, where: str) -> dict[str, Any]:
    """Label Studio result regions -> an answer in the store's shape."""
    values: dict[str, Any] = {}
    spans: dict[str, list] = {}
    dims = {d.name: d for d in study.rubric.dimensions}
    for region in results:
        if not isinstance(region, dict):
            raise DataError(f"{where}: a result is not an object", hint="import Label Studio's JSON export")
        name, value = str(region.get("from_name", "")), region.get("value") or {}
        if region.get("type") == "labels" and name.endswith("_span") and name[:-5] in dims:
            start, end = value.get("start"), value.get("end")
            if isinstance(start, int) and isinstance(end, int):
                spans.setdefault(name[:-5], []).append({"start": start, "end": end})
            continue
        picked = (value.get("choices") or [None])[0]
        base, _, slot = name.rpartition("_")
        if name in dims and dims[name].per == "item":
            values[name] = picked
        elif base in dims and dims[base].per == "target" and slot.isdigit():
            t = int(slot) - 1
            if t < len(item["targets"]):
                values.setdefault(base, [None] * len(item["targets"]))[t] = picked
        elif not name.startswith("target_"):
            raise DataError(f"{where}: from_name {name!r} is not a question of rubric {study.rubric.name!r}",
                            hint="export the project that `fsabench human export --format label-studio` set up")
    return {"values": values, "spans": spans}


def import_label_studio(study: Study, path: Path) -> dict[str, int]:
    """Read Label Studio's JSON export; store each (annotator, item) answer. Returns counts."""
    tasks = read_json(path, "Label Studio export", error=DataError, max_bytes=MAX_IMPORT_BYTES,
                      missing="export the Label Studio project as JSON", hint="export the Label Studio project as JSON")
    if not isinstance(tasks, list):
        raise DataError(f"{path}: a Label Studio export is a list of tasks", hint="export the project as JSON (not JSON-MIN)")
    counts = {"answers": 0, "tasks": 0}
    with closing(store_of(study)) as store:
        for n, task in enumerate(tasks):
            where = f"{path} task {n}"
            item_id = (task.get("data") or {}).get("item") if isinstance(task, dict) else None
            if item_id not in study.items:
                raise DataError(f"{where}: field 'data.item' is {item_id!r}, not an item of this study",
                                hint="import the export of the project made from this study's tasks")
            counts["tasks"] += 1
            for annotation in task.get("annotations") or []:
                if annotation.get("was_cancelled"):
                    continue
                raw = answer_from_results(study, study.items[item_id], annotation.get("result") or [], where)
                try:
                    answer, status = check_answer(study.rubric, study.items[item_id], raw)
                except ValueError as exc:
                    raise DataError(f"{where}: {exc}", hint="fix the annotation in Label Studio and export again") from None
                store.save(_annotator(annotation), item_id, "human", status, answer)
                counts["answers"] += 1
    return counts
