"""Typed options (fsabench/options.py): one pydantic object per verb, unknown names refused, frozen, and
every bad value one FsabenchError line naming the option, the same from Python and from the CLI."""

from __future__ import annotations

import pydantic
import pytest

import fsabench
from fsabench import api
from fsabench.errors import FsabenchError
from fsabench.options import (CorpusOptions, EvalOptions, ExportOptions, FinetuneOptions, JudgeOptions, ModelOptions,
                              ServeOptions, TaskIdsOptions, ValidateOptions, split_model_options)


def test_model_options_are_shared_by_every_verb_that_loads_a_model():
    for cls in (EvalOptions, ServeOptions, CorpusOptions, JudgeOptions):
        assert cls.model_fields["model"].annotation is ModelOptions, cls


@pytest.mark.parametrize("build, message", [
    (lambda: ModelOptions(batch_size=0), "--batch-size 0 must be at least 1"),
    (lambda: ModelOptions(device="tpu"), "--device 'tpu' is not known"),
    (lambda: EvalOptions(limit="5"), "--limit '5' is not an integer"),
    (lambda: EvalOptions(seed=-1), "--seed -1 must be from 0"),
    (lambda: ExportOptions(output="x", prompt_style="fancy"), "--prompt-style 'fancy' is not known"),
    (lambda: ServeOptions(model_name="hf:x", max_tokens=0), "--max-tokens 0 must be at least 1"),
    (lambda: ServeOptions(model_name="hf:x", port=70000), "--port 70000"),
    (lambda: TaskIdsOptions(name="atsa-rest14", limit=0), "--limit 0"),
    (lambda: FinetuneOptions(model_name="hf:x", seeds="4,x"), "--seeds '4,x'"),
    (lambda: CorpusOptions(output="c"), "nothing to build a corpus from"),
    (lambda: ValidateOptions(paths=["a"], colour=True), "unknown option 'colour' for ValidateOptions"),
])
def test_a_bad_value_is_one_line_naming_the_option(build, message):
    with pytest.raises(FsabenchError) as caught:
        build()
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not isinstance(caught.value, pydantic.ValidationError)


def test_options_are_frozen_and_replace_revalidates():
    options = ModelOptions(batch_size=4)
    with pytest.raises(pydantic.ValidationError):
        options.batch_size = 8
    assert options.replace(batch_size=8).batch_size == 8
    with pytest.raises(FsabenchError, match="--batch-size 0"):
        options.replace(batch_size=0)


def test_python_keywords_and_options_objects_are_one_call(tmp_path):
    with pytest.raises(FsabenchError, match="unknown model option 'batch_sise'.*did you mean 'batch_size'"):
        split_model_options({"batch_sise": 2})
    with pytest.raises(FsabenchError, match="--batch-size 0 must be at least 1"):
        fsabench.evaluate("baseline:gold", "atsa-rest14", batch_size=0)
    by_keywords = api.task_ids(name="atsa-rest14", limit=2)
    assert by_keywords == api.task_ids(TaskIdsOptions(name="atsa-rest14", limit=2)) and len(by_keywords) == 2
    with pytest.raises(FsabenchError, match="not both"):
        api.task_ids(TaskIdsOptions(name="atsa-rest14"), limit=2)


def test_the_cli_prints_the_same_line(cli, tmp_path):
    res = cli("export", "lm-eval", tmp_path / "x", "--num-shots", "-1")
    assert res.returncode == 2  # the parser's own range check comes first
    res = cli("distill", "finetune", "-m", "hf:x", "--seeds", "4,x", "-o", tmp_path)
    assert res.returncode == 1 and res.stderr.strip() == (
        "error: --seeds '4,x': not a comma-separated list of integers (fix: e.g. --seeds 42,52)")
