"""Issue 22, class 16: small things a new user trips on."""

from __future__ import annotations

import hashlib
import json

from fsabench import __version__
from tests.conftest import run_cli


def test_version():
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"fsabench {__version__}"


def test_data_hash_prints_the_sha256_to_pin_a_file_with(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"id": 1}\n')
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    done = run_cli("data", "hash", path)
    assert done.returncode == 0 and done.stdout.split() == [digest, str(path)]
    assert json.loads(run_cli("data", "hash", path, "--json").stdout) == {str(path): digest}
    missing = run_cli("data", "hash", tmp_path / "nope")
    assert missing.returncode == 1 and "no such file" in missing.stderr and len(missing.stderr.splitlines()) == 1


def test_data_path_is_absolute_for_a_relative_data_dir(tmp_path):
    done = run_cli("data", "path", "--data-dir", "rel/data", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == str(tmp_path / "rel" / "data")
