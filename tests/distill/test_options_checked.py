"""Issue 22, class 7: fine-tuning options are validated once, the same from the CLI, a recipe and Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsabench.distill.finetune import FinetuneConfig
from fsabench.distill.sweep import plan_jobs
from fsabench.errors import FsabenchError
from tests.conftest import DATA_DIR, run_cli


@pytest.mark.parametrize("settings, words", [
    ({"lr": float("inf")}, "field 'lr': Input should be a finite number"),
    ({"lr": float("nan")}, "field 'lr': Input should be a finite number"),
    ({"lr": -1.0}, "field 'lr'"), ({"weight_decay": -0.01}, "field 'weight_decay'"),
    ({"grad_clip": float("inf")}, "field 'grad_clip'"), ({"epochs": 0}, "field 'epochs'")])
def test_bad_numbers_are_one_fsabench_error(settings, words):
    with pytest.raises(FsabenchError, match=words):
        FinetuneConfig(**settings)


@pytest.mark.parametrize("seeds, words", [((1, 1), "seed 1 is given twice"), ((10**20,), "is not an integer from 0"),
                                          ((-1,), "is not an integer from 0"), ((True,), "is not an integer"),
                                          (("7",), "is not an integer")])
def test_seeds_are_distinct_bounded_integers(tmp_path, seeds, words):
    with pytest.raises(FsabenchError, match=words):
        plan_jobs("hf:x", "hf:x", ["atsa-rest14"], list(seeds), tmp_path / "o", tmp_path / "w", DATA_DIR, FinetuneConfig())


@pytest.mark.parametrize("args, words", [(["--seeds", "1,1"], "seed 1 is given twice"),
                                         (["--lr", "inf"], "finite number"), (["--lr", "nan"], "finite number"),
                                         (["--weight-decay", "-1"], "weight_decay"),
                                         (["--seeds", "12345678901234567890"], "is not an integer from 0")])
def test_the_cli_refuses_the_same_values_in_one_line(tmp_path, args, words):
    done = run_cli("distill", "finetune", "-m", "hf:" + str(Path(tmp_path) / "nomodel"), "--tasks", "atsa-rest14",
                   "-o", tmp_path / "o", "--work", tmp_path / "w", *args)
    assert done.returncode == 1 and words in done.stderr and "internal error" not in done.stderr, done.stderr
