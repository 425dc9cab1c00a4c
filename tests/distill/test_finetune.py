"""Multi-seed fine-tuning: a 2-seed sweep executed by Ray on this machine, RunResults per seed
(protocol fine-tuned, best dev epoch recorded), an aggregate, and checkpoints removed after testing."""

from __future__ import annotations

import json

import pytest

from fsabench.results import load_result, result_path


@pytest.fixture
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_runs_a_two_seed_finetune(tiny_t5, tmp_path, data_dir, ray_cluster):
    from fsabench.distill.finetune import FinetuneConfig
    from fsabench.distill.sweep import SweepOptions, plan_jobs, sweep

    config = FinetuneConfig(epochs=2, lr=3e-3, train_limit=48, dev_limit=16, test_limit=24, threads=1)
    model = f"hf:{tiny_t5}"
    jobs = plan_jobs(model, model, ["atsa-rest14"], [42, 52], tmp_path / "results", tmp_path / "work", data_dir, config)
    seen = []
    summary = sweep(jobs, tmp_path / "work", SweepOptions(executor="ray", cpus_per_job=1), seen.append)
    assert summary["errors"] == [] and sorted(o.seed for o in seen) == [42, 52]
    for seed in (42, 52):
        result = load_result(result_path(tmp_path / "results", model, "atsa-rest14", seed))
        assert result.protocol == "fine-tuned" and result.seed == seed and len(result.examples) == 24
        assert result.meta["finetune"]["best_epoch"] in (1, 2) and len(result.meta["finetune"]["dev"]) == 2
        assert result.model.name == model
    task = summary["tasks"]["atsa-rest14"]
    assert task["seeds"] == [42, 52] and set(task["subsets"]["all"]) == {"mean", "std", "values"}
    assert json.loads((tmp_path / "work" / "aggregate.json").read_text())["executor"] == "ray"
    assert not list((tmp_path / "work").rglob("best"))  # checkpoints deleted after testing (no --keep)


def test_finetune_refuses_an_empty_seed_list(cli, tiny_t5, tmp_path):
    res = cli("distill", "finetune", "--model", f"hf:{tiny_t5}", "--tasks", "atsa-rest14", "--seeds", "",
              "--output", tmp_path)
    assert res.returncode == 1 and "no seeds given" in res.stderr


def test_a_result_made_with_other_settings_is_not_reused(tmp_path):
    from fsabench.distill.finetune import FinetuneConfig, check_same_settings
    from fsabench.errors import FsabenchError

    made = FinetuneConfig(epochs=2, threads=1).model_dump(mode="json")
    check_same_settings(made, FinetuneConfig(epochs=2, threads=4), tmp_path / "r.json")  # threads: speed only
    with pytest.raises(FsabenchError, match=r"changed: epochs"):
        check_same_settings(made, FinetuneConfig(epochs=3), tmp_path / "r.json")
