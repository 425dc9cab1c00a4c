"""Tasks are data: built-in specs, subset sizes, user tasks, and clear errors for bad YAML."""

import json
from collections import Counter

import pytest

from fsabench.errors import SpecError, UnknownName
from fsabench.examples import load_split
from fsabench.tasks.registry import build_registry, load_spec_file

EXPECTED = {  # all / implicit / multi sentences, from the issue (and the paper's code)
    "atsa-rest14": (1140, 477, 189, 340),
    "atsa-laptop14": (1037, 345, 99, 237),
    "acsa-rest16": (1016, 484, 146, 340),
    "acsa-laptop16": (1045, 462, 94, 237),
}


@pytest.mark.parametrize("task", sorted(EXPECTED))
def test_subset_sizes_match_the_paper(task, data_dir):
    spec = build_registry().spec(task)
    counts = Counter(s for e in load_split(spec, data_dir).examples for s in e.subsets)
    assert (counts["all"], counts["implicit"], counts["multi"], counts["hard"]) == EXPECTED[task]


def test_group_fsa_expands_to_the_four_tasks():
    assert build_registry().expand(["fsa"]) == ["atsa-rest14", "atsa-laptop14", "acsa-rest16", "acsa-laptop16"]


def test_unknown_task_suggests_close_names():
    with pytest.raises(UnknownName, match="did you mean atsa-rest14"):
        build_registry().expand(["atsa-rest41"])


def test_hard_set_categories_keep_their_spelling(data_dir):
    """The ACSA copy of the restaurant hard set says DRINKS#..., the ATSA copy DRINK#... (unused there)."""
    spec = build_registry().spec("acsa-rest16")
    hard = [e for e in load_split(spec, data_dir).examples if "hard" in e.subsets]
    assert any("drinks " in e.target for e in hard) and not any("drink " in e.target for e in hard)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_names_file_line_and_fix(tmp_path):
    builtin = build_registry().tasks["atsa-rest14"]
    bad = write(tmp_path / "bad.yaml", f"include: {builtin}\nname: mine\nmetric: tuple_f1\nmetrik: f1\n")
    with pytest.raises(SpecError) as err:
        load_spec_file(bad)
    assert "bad.yaml:4: unknown key 'metrik'" in str(err.value)


def test_a_bad_key_in_a_base_names_the_base_file(tmp_path):
    """A variant is short; a mistake in its `_base.yaml` is reported there, at its line."""
    write(tmp_path / "_base.yaml", f"include: {build_registry().tasks['atsa-rest14']}\ntype: extraction\n"
          "max_new_tokens: 0\n")
    variant = write(tmp_path / "variant.yaml", "include: _base.yaml\nname: mine\n")
    with pytest.raises(SpecError) as err:
        load_spec_file(variant)
    assert "_base.yaml:3: field 'max_new_tokens'" in str(err.value)


def test_yaml_cannot_run_code(tmp_path):
    evil = write(tmp_path / "evil.yaml", "name: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(SpecError, match="invalid YAML"):
        load_spec_file(evil)
    assert not (tmp_path / "pwned").exists()
    fn = write(tmp_path / "fn.yaml", "name: x\nprocess_results: !function utils.process\n")
    with pytest.raises(SpecError, match="invalid YAML"):
        load_spec_file(fn)


def test_bad_values_name_the_field(tmp_path):
    builtin = build_registry().tasks["atsa-rest14"]
    bad = write(tmp_path / "b.yaml", f"include: {builtin}\ngold: {{builder: my_python_func}}\n")
    with pytest.raises(SpecError, match="field 'gold.builder'"):
        load_spec_file(bad)
    no_all = write(tmp_path / "c.yaml", "name: x\ndata: {dir: d, splits: {test: [t.json]}}\n"
                   "gold: {builder: atsa_terms}\nsubsets: {multi: {min_distinct: {field: polarity}}}\n")
    with pytest.raises(SpecError, match="subsets must include 'all'"):
        load_spec_file(no_all)


def test_include_variant_overrides_only_what_changes(tmp_path):
    builtin = build_registry().tasks["atsa-rest14"]
    write(tmp_path / "_base.yaml", f"include: {builtin}\n")
    write(tmp_path / "variant.yaml", "include: _base.yaml\nname: atsa-rest14-no-hard\n"
          "data:\n  splits:\n    test: [test.json]\nsubsets:\n  all: {}\n")
    spec = build_registry([str(tmp_path)]).spec("atsa-rest14-no-hard")
    assert spec.data.splits["test"] == ["test.json"] and spec.data.splits["train"] == ["train.json"]
    assert spec.gold.builder == "atsa_terms"
    assert list(spec.subsets) == ["all"]  # a variant's subsets replace the base's (it drops 'hard')


def test_a_user_variant_of_a_builtin_base_is_a_few_lines(tmp_path, data_dir):
    """`include: _atsa.yaml` finds the built-in base from any folder: a new ATSA dataset is its dir."""
    write(tmp_path / "mine.yaml", "include: _atsa.yaml\nname: atsa-mine\n"
          "data: {dir: fsa-distillation/atsa/laptop14}\n")
    spec = build_registry([str(tmp_path)]).spec("atsa-mine")
    builtin = build_registry().spec("atsa-laptop14")
    assert spec.model_copy(update={"name": builtin.name, "description": builtin.description,
                                   "tags": builtin.tags}) == builtin


def test_a_new_dataset_is_one_yaml_file(tmp_path, monkeypatch):
    """A user's JSONL dataset with different field names becomes a task with no code."""
    data = tmp_path / "data" / "mine"
    data.mkdir(parents=True)
    rows = [{"uid": i, "text": t, "opinions": a} for i, (t, a) in enumerate([
        ("Great coffee, rude staff.", [{"term": "coffee", "sentiment": "positive"}, {"term": "staff", "sentiment": "negative"}]),
        ("Nothing to say.", []),
    ])]
    write(data / "test.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    write(data / "train.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write(tasks / "mine.yaml", f"""
name: atsa-mine
data:
  format: jsonl
  dir: {data}
  splits: {{train: [train.jsonl], test: [test.jsonl]}}
  id_field: uid
  input_field: text
gold:
  builder: atsa_terms
  params: {{aspects_field: opinions, term_field: term, polarity_field: sentiment}}
subsets:
  all: {{}}
  multi: {{min_distinct: {{field: sentiment, count: 2}}, aspects_field: opinions}}
""")
    monkeypatch.setenv("FSABENCH_TASKS_PATH", str(tasks))
    spec = build_registry().spec("atsa-mine")
    examples = load_split(spec, tmp_path).examples
    assert examples[0].target == "coffee | positive ; staff | negative"
    assert examples[0].subsets == ("all", "multi") and examples[1].subsets == ("all",)
