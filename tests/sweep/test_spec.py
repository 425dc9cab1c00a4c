"""SWEEP.yaml validation: each problem is one line naming the file (and line) and the field."""

from __future__ import annotations

import pytest

from fsabench.errors import FsabenchError
from fsabench.sweep.plan import load_plan
from fsabench.sweep.spec import load_sweep

GOOD = """models:
  - model: baseline:lexicon
  - {model: "openai-compat:http://127.0.0.1:9/v1#x", concurrency: 8}
  - {model: "hf:./runs/student", resources: {num_gpus: 1}}
tasks: [atsa-rest14]
num_shots: [0, 4]
seeds: [1, 2]
prompts: [default, terse]
limit: null
exclude: [{model: "hf:./runs/student", num_shots: 4}]
"""


def write(tmp_path, text):
    path = tmp_path / "SWEEP.yaml"
    path.write_text(text)
    return path


def test_the_issue_example_shape_loads_and_expands(tmp_path):
    spec, cells, _ = load_plan(write(tmp_path, GOOD))
    assert spec.models[2].resources.num_gpus == 1 and spec.models[1].concurrency == 8
    assert len(cells) == 3 * 2 * 2 * 2 - 4  # the student's 4-shot cells are excluded
    assert not [c for c in cells if c.model == "hf:./runs/student" and c.num_shots == 4]


@pytest.mark.parametrize("change, message", [
    (("seeds: [1, 2]", "seedz: [1, 2]"), r"SWEEP.yaml:7: unknown key 'seedz'"),
    (("num_shots: [0, 4]", "num_shots: [0, -1]"), r"SWEEP.yaml:6: field 'num_shots': shots must be >= 0"),
    (("seeds: [1, 2]", "seeds: [1, 1]"), r"field 'seeds': 1 is listed twice"),
    (("concurrency: 8", "concurrency: 0"), r"SWEEP.yaml:3: field 'models.1.concurrency'"),
    (("num_gpus: 1", "gpus: 1"), r"unknown key 'models.2.resources.gpus'"),
    (("model: baseline:lexicon", "model: lexicon"), r"field 'models.0.model': 'lexicon' has no scheme prefix"),
    (("tasks: [atsa-rest14]\n", ""), r"SWEEP.yaml(:1)?: missing required key 'tasks'"),
    (("exclude: [{model: \"hf:./runs/student\", num_shots: 4}]", "exclude: [{}]"), r"exclude.0.*at least one of"),
])
def test_spec_errors_name_file_line_and_field(tmp_path, change, message):
    with pytest.raises(FsabenchError, match=message) as info:
        load_sweep(write(tmp_path, GOOD.replace(*change)))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("change, message", [
    (("prompts: [default, terse]", "prompts: [default, loud]"),
     r"field 'prompts': task atsa-rest14 has no prompt variant 'loud'"),
    (("tasks: [atsa-rest14]", "tasks: [atsa-rest99]"), r"unknown task 'atsa-rest99'"),
    (("exclude: [{model: \"hf:./runs/student\"", "exclude: [{model: \"hf:./runs/studnet\""),
     r"field 'exclude.0.model': 'hf:./runs/studnet' is not one of the models"),
    (("tasks: [atsa-rest14]", "tasks: [review-stars]"), r"task review-stars has no train split"),
    (("concurrency: 8}", "concurrency: 8, device: tpu}"), r"field 'models.1': --device 'tpu' is not known"),
])
def test_plan_errors_name_the_field(tmp_path, change, message):
    with pytest.raises(FsabenchError, match=message):
        load_plan(write(tmp_path, GOOD.replace(*change)))


def test_bare_strings_and_single_values(tmp_path):
    spec = load_sweep(write(tmp_path, "models: [baseline:gold]\ntasks: atsa-rest14,sc-sst2\nnum_shots: 0\nseeds: 3\n"))
    assert spec.models[0].model == "baseline:gold" and spec.tasks == ["atsa-rest14", "sc-sst2"]
    assert spec.num_shots == [0] and spec.seeds == [3] and spec.prompts == ["default"]


def test_cli_prints_one_line_and_exits_1(tmp_path, cli):
    res = cli("sweep", write(tmp_path, GOOD.replace("seeds:", "seedz:")), "-o", tmp_path / "out", "--dry-run")
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0 and "unknown key 'seedz'" in res.stderr
