"""Issue 22, class 5: study files are hashed and checked; the Label Studio import is exact and all-or-nothing."""

from __future__ import annotations

import copy
import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsabench.errors import DataError, FsabenchError, SpecError
from fsabench.human.interchange import import_label_studio, label_studio_tasks
from fsabench.human.store import store_of
from fsabench.human.study import create_study, open_study
from tests.conftest import DATA_DIR

TEACHER = DATA_DIR / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return create_study(tmp_path_factory.mktemp("h") / "study", [TEACHER], "analysis", 4, 2, ["ana", "ben"], 3).folder


@pytest.fixture
def study(base, tmp_path):
    import shutil

    folder = tmp_path / "study"
    shutil.copytree(base, folder)
    return open_study(folder)


def edit_study(study, change) -> None:
    path = study.folder / "study.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("change, field", [
    (lambda d: d["rubric"]["dimensions"][0]["scale"][0].update(score=99), "rubric"),
    (lambda d: d["rubric"]["dimensions"][0].update(question="Is it good?"), "rubric"),
    (lambda d: d["items"][0].update(analysis=d["items"][0]["analysis"] + " (edited)"), "items"),
    (lambda d: d["items"][0]["targets"].append("extra target"), "items")])
def test_an_edited_score_or_text_in_study_json_is_refused_naming_the_file(study, change, field):
    edit_study(study, change)
    with pytest.raises(SpecError, match=rf"study.json: field '{field}' does not match '{field}_sha256'"):
        open_study(study.folder)


@pytest.mark.parametrize("change", [lambda d: d.update(seed="3"), lambda d: d.update(per_item=2.5),
                                    lambda d: d["items"].append(7)])
def test_wrong_types_in_study_json_are_one_line(study, change):
    edit_study(study, change)
    with pytest.raises(SpecError, match="not a study file"):
        open_study(study.folder)


def test_a_damaged_answer_row_is_refused_naming_annotator_and_item(study):
    item = next(iter(study.items))
    store_of(study).close()  # creates the table
    db = sqlite3.connect(study.folder / "answers.sqlite")
    db.execute("INSERT INTO answers VALUES (?,?,?,?,?,?)", ("ana", item, "human", "done", '{"values": 5}', 0.0))
    db.commit()
    db.close()
    with pytest.raises(FsabenchError, match=f"the answer of 'ana' on item '{item}' is damaged"):
        store_of(study).rows()


def export_of(study, who=({"email": "ana@lab.org"},), accuracy="right", extra=()) -> list[dict]:
    out = []
    for n, task in enumerate(label_studio_tasks(study)):
        data = task["data"]
        result = [{"from_name": "reasoning", "type": "choices", "value": {"choices": ["4"]}},
                  {"from_name": "persuasiveness", "type": "choices", "value": {"choices": ["3"]}},
                  {"from_name": "hallucination", "type": "choices", "value": {"choices": ["none"]}}]
        result += [{"from_name": f"accuracy_{t}", "type": "choices", "value": {"choices": [accuracy]}}
                   for t in range(1, 40) if data.get(f"target_{t}")]
        result += [dict(r) for r in extra]
        out.append({"id": n, "data": data, "annotations": [{"completed_by": w, "result": copy.deepcopy(result)}
                                                           for w in who]})
    return out


def write(tmp_path, export) -> object:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    return path


def test_accuracy_0_is_refused_not_read_as_the_last_target(study, tmp_path):
    export = export_of(study, extra=[{"from_name": "accuracy_0", "type": "choices", "value": {"choices": ["wrong"]}}])
    with pytest.raises(DataError, match="from_name 'accuracy_0' is not a question"):
        import_label_studio(study, write(tmp_path, export))
    for name in ("accuracy_01", "accuracy_-1", "accuracy_99"):
        export = export_of(study, extra=[{"from_name": name, "type": "choices", "value": {"choices": ["wrong"]}}])
        with pytest.raises(DataError, match="is not a question"):
            import_label_studio(study, write(tmp_path, export))


def test_annotators_whose_names_share_60_characters_stay_apart(study, tmp_path):
    head = "a" * 70
    export = export_of(study, who=({"email": head + "1@lab.org"}, {"email": head + "2@lab.org"}))
    counts = import_label_studio(study, write(tmp_path, export))
    assert counts["answers"] == 2 * len(study.items)
    assert len({r.annotator for r in store_of(study).rows()}) == 2


def test_a_refused_import_stores_nothing(study, tmp_path):
    export = export_of(study)
    export[-1]["annotations"][0]["result"][0]["value"] = {"choices": ["not on the scale"]}
    with pytest.raises(DataError, match=f"task {len(export) - 1}"):
        import_label_studio(study, write(tmp_path, export))
    assert store_of(study).rows() == []  # the first tasks were not stored either


@pytest.mark.parametrize("mangle, words", [
    (lambda e: e[0].update(annotations="x"), "'annotations' is not a list"),
    (lambda e: e[0]["annotations"][0].update(result={"a": 1}), "'result' is not a list"),
    (lambda e: e[0]["annotations"][0]["result"].append(5), "a result is not an object"),
    (lambda e: e[0]["annotations"][0]["result"][0].update(value=[1]), "no 'from_name' text and 'value' object"),
    (lambda e: e[0]["annotations"][0]["result"][0].update(value={"choices": ["4", "5"]}), "not one choice"),
    (lambda e: e[0]["annotations"][0]["result"].append(e[0]["annotations"][0]["result"][0]), "answered twice"),
    (lambda e: e[0]["annotations"][0].pop("completed_by"), "no 'completed_by'"),
    (lambda e: e[0].update(data=[1]), "field 'data.item'"),
    (lambda e: e[0]["annotations"].append(e[0]["annotations"][0]), "annotated item"),
])
def test_malformed_label_studio_shapes_are_one_line(study, tmp_path, mangle, words):
    export = export_of(study)
    mangle(export)
    with pytest.raises(DataError, match=words) as info:
        import_label_studio(study, write(tmp_path, export))
    assert "\n" not in str(info.value)


LEAF = st.none() | st.booleans() | st.integers(-2, 40) | st.text(max_size=12)
SHAPES = st.recursive(LEAF, lambda x: st.lists(x, max_size=3) | st.dictionaries(
    st.sampled_from(["data", "item", "annotations", "result", "completed_by", "from_name", "value", "choices", "type",
                     "start", "end", "was_cancelled"]), x, max_size=4), max_leaves=16)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=100).map(lambda b: ("raw", b)), SHAPES.map(lambda v: ("json", v)),
                 st.integers(0, 3).map(lambda i: ("mutate", i))))
def test_any_label_studio_export_imports_or_raises_one_data_error(study, tmp_path, case):
    kind, value = case
    if kind == "raw":
        (tmp_path / "e.json").write_bytes(value)
    else:
        export = export_of(study) if kind == "mutate" else value
        if kind == "mutate":
            export[0]["annotations"][0]["result"][value % 3]["from_name"] = ["accuracy_0", "x", "reasoning_1"][value % 3]
        (tmp_path / "e.json").write_text(json.dumps(export))
    try:
        import_label_studio(study, tmp_path / "e.json")
    except FsabenchError as exc:
        assert "\n" not in str(exc)
