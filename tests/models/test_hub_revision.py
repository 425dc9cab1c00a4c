"""A hub model's identity names the snapshot commit it was loaded from (cache key and RunResult), read
from a real hub cache layout offline: models--ORG--NAME/refs/main -> snapshots/<commit>/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR

COMMITS = ("a" * 40, "b" * 40)


def fake_hub(root: Path, model_dir: Path, repo: str = "fsabench/tiny-t5") -> Path:
    """The huggingface_hub cache layout with the tiny model at two commits; refs/main names the first."""
    folder = root / f"models--{repo.replace('/', '--')}"
    for commit in COMMITS:
        shutil.copytree(model_dir, folder / "snapshots" / commit, ignore=shutil.ignore_patterns(".fixture-*"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(COMMITS[0])
    return folder


@pytest.mark.slow  # three tiny-T5 runs (~3 s once torch is imported)
def test_hub_model_identity_and_cache_key_carry_the_snapshot_commit(tiny_t5, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub

    import fsabench

    folder = fake_hub(tmp_path / "hub", tiny_t5)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))  # what HF_HUB_CACHE / HF_HUB_OFFLINE set
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)  # at import, for this process already past it

    def run(out: str):
        return fsabench.evaluate("hf:fsabench/tiny-t5", "atsa-rest14", limit=3, data_dir=DATA_DIR,
                                 output_dir=tmp_path / out, device="cpu", max_new_tokens=4)[0]

    first = run("a")
    assert first.model.identity["commit"] == COMMITS[0] and "fingerprint" not in first.model.identity
    assert all(e.cached for e in run("a2").examples)  # same commit: answered from the cache
    (folder / "refs" / "main").write_text(COMMITS[1])  # `main` moved: new weights for all we know
    moved = run("b")
    assert moved.model.identity["commit"] == COMMITS[1]
    assert not any(e.cached for e in moved.examples)  # never answered from the old commit's cache


def test_hub_commit_is_none_off_the_hub(tmp_path):
    from fsabench.models.fingerprint import hub_commit

    assert hub_commit("not a repo id!") is None and hub_commit(str(tmp_path)) is None
    assert hub_commit("fsabench/never-downloaded") is None
