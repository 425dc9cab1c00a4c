"""Issue 22: property tests for the readers not covered beside their classes: RunResult files, study files,
labels files. Any input ends in a valid result or one FsabenchError line, never another exception."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fsabench
from fsabench.errors import FsabenchError
from fsabench.human.study import create_study, open_study
from fsabench.report.labels import display_names, load_labels
from fsabench.results import load_result, save_result
from tests.conftest import DATA_DIR

LEAF = st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats() | st.text(max_size=10)
VALUE = st.recursive(LEAF, lambda x: st.lists(x, max_size=3) | st.dictionaries(st.text(max_size=6), x, max_size=3),
                     max_leaves=8)
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def one_line(call) -> None:
    try:
        call()
    except FsabenchError as exc:
        assert "\n" not in str(exc)


@pytest.fixture(scope="module")
def result_dict():
    return fsabench.evaluate("baseline:lexicon", "sc-sst2", limit=3, cache=False)[0].model_dump(mode="json")


def edit(doc: dict, path: list[str], value) -> dict:
    doc = json.loads(json.dumps(doc))
    target = doc
    for key in path[:-1]:
        target = target[key] if isinstance(target, dict) else target[int(key)]
    if isinstance(target, dict):
        target[path[-1]] = value
    return doc


RESULT_PATHS = [["usage", "prompt_tokens"], ["usage", "cost_usd"], ["seed"], ["scores", "all", "n"], ["examples"],
                ["examples", "0", "output"], ["examples", "0", "id"], ["task", "name"], ["model"], ["timing", "seconds"],
                ["complete"], ["schema_version"], ["meta"], ["surprise"]]


@SETTINGS
@given(st.sampled_from(RESULT_PATHS), VALUE)
def test_any_edit_of_a_result_file_loads_or_raises_one_error(result_dict, tmp_path, path, value):
    file = tmp_path / "r.json"
    file.write_text(json.dumps(edit(result_dict, path, value), allow_nan=True))
    one_line(lambda: load_result(file))


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_as_a_result_file(tmp_path, raw):
    file = tmp_path / "r.json"
    file.write_bytes(raw)
    one_line(lambda: load_result(file))


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory):
    teacher = DATA_DIR / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"
    return create_study(tmp_path_factory.mktemp("s") / "study", [teacher], "analysis", 3, 2, ["a", "b"], 1).folder


STUDY_PATHS = [["seed"], ["per_item"], ["items"], ["assignment"], ["rubric"], ["rubric", "dimensions"],
               ["items", "0", "analysis"], ["items", "0", "targets"], ["rubric_sha256"], ["items_sha256"], ["name"]]


@SETTINGS
@given(st.sampled_from(STUDY_PATHS), VALUE)
def test_any_edit_of_study_json_opens_or_raises_one_error(study_folder, tmp_path, path, value):
    folder = tmp_path / "copy"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(study_folder, folder)
    data = json.loads((folder / "study.json").read_text())
    (folder / "study.json").write_text(json.dumps(edit(data, path, value), allow_nan=True))
    one_line(lambda: open_study(folder))


@SETTINGS
@given(st.dictionaries(st.sampled_from(["baseline:lexicon", "baseline:empty", "hf:x", "x"]),
                       LEAF | st.dictionaries(st.sampled_from(["name", "color", "nom"]), LEAF, max_size=2), max_size=4)
       | st.text(max_size=80))
def test_any_labels_file_names_models_or_raises_one_error(tmp_path, doc):
    file = tmp_path / "labels.yaml"
    file.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))

    def run():
        names = display_names(["baseline:lexicon", "baseline:empty", "hf:x"], load_labels(file))
        assert len(set(names.values())) == 3
    one_line(run)
