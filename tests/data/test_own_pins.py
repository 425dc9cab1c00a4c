"""Issue 22, class 16: a pin error on a user's own file prints the full sha256 and the right fix."""

from __future__ import annotations

import hashlib

import pytest

import fsabench
from fsabench.errors import ChecksumError
from tests.evaluation.test_trust import GOOD, make_task


def test_a_wrong_pin_in_the_users_task_file_prints_both_full_hashes_and_how_to_update_it(tmp_path):
    tasks = make_task(tmp_path, GOOD)
    path = tasks / "mycafe.yaml"
    path.write_text(path.read_text().replace("  id_field: uid\n", "  id_field: uid\n  sha256: {test.jsonl: '" + "0" * 64 + "'}\n"))
    digest = hashlib.sha256((tmp_path / "data" / "mycafe" / "test.jsonl").read_bytes()).hexdigest()
    with pytest.raises(ChecksumError) as info:
        fsabench.evaluate("baseline:empty", "mycafe", tasks_dir=[tasks], data_dir=tmp_path / "data")
    message = str(info.value)
    assert f"sha256 {digest} differs from the pin {'0' * 64}" in message
    assert f"set data.sha256.test.jsonl: {digest}" in message and "data pull" not in message
