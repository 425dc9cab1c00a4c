"""Issue 22, class 5: the round trip against a real Label Studio (the PyPI `label-studio` server in its own
virtual environment, built by scripts/label_studio_venv.sh), driven through `label-studio-sdk`."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from fsabench.human.interchange import export_label_studio, import_label_studio
from fsabench.human.store import store_of
from fsabench.human.study import create_study
from tests.conftest import DATA_DIR

VENV = Path(os.environ.get("FSABENCH_LABEL_STUDIO_VENV")
            or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fsabench-tests" / "label-studio-venv")
TEACHER = DATA_DIR / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (VENV / "bin" / "label-studio").exists(),
                                                   reason=f"no Label Studio venv at {VENV} (scripts/label_studio_venv.sh)")]


def migrated_database(scratch: Path) -> Path:
    """A Label Studio database with every migration applied and nothing else, built once per Label Studio
    version and cached (tests/fixture_cache.py): a fresh data dir spends ~25 of its ~30 s start-up on the
    migrations (the server checks them and skips the work when the schema is current). Users, tokens and
    projects are still created by the real server in each test's own copy."""
    from tests.fixture_cache import cached_build, content_key

    version = sorted(p.name for p in VENV.glob("lib/python*/site-packages/label_studio-*.dist-info"))
    key = content_key({"label_studio": version}, [])

    def build(out: Path) -> None:
        (out / "data").mkdir(parents=True)
        migrate = "from label_studio.server import _setup_env, _apply_database_migrations as m; _setup_env(); m()"
        subprocess.run([str(VENV / "bin" / "python"), "-c", migrate], check=True, capture_output=True, timeout=600,
                       cwd=out, env={**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(out / "data"),
                                     "LATEST_VERSION_CHECK": "false"})
        (out / "data" / "label_studio.sqlite3").rename(out / "label_studio.sqlite3")
        shutil.rmtree(out / "data")  # its .env (SECRET_KEY) and empty media folders: each server makes its own

    return cached_build("label_studio_db", key, build, scratch) / "label_studio.sqlite3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def label_studio(tmp_path):
    port, token = free_port(), secrets.token_hex(20)
    (tmp_path / "ls-data").mkdir()
    shutil.copyfile(migrated_database(tmp_path / "ls-migrated"), tmp_path / "ls-data" / "label_studio.sqlite3")
    # LATEST_VERSION_CHECK=false: no request to pypi.org at start-up (the test stays offline)
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(tmp_path / "ls-data"), "LATEST_VERSION_CHECK": "false",
           "LABEL_STUDIO_USERNAME": "admin@example.org",
           "LABEL_STUDIO_PASSWORD": secrets.token_urlsafe(12), "LABEL_STUDIO_USER_TOKEN": token,
           "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true"}
    log = open(tmp_path / "ls.log", "wb")
    proc = subprocess.Popen([str(VENV / "bin" / "label-studio"), "start", "--no-browser", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # bounded: ~4 s on a quiet machine (migrated database), minutes under load
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"label-studio exited {proc.returncode}: {(tmp_path / 'ls.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("label-studio did not answer /health within 4 minutes")
        yield url, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def test_round_trip_through_a_real_label_studio(label_studio, tmp_path):
    url, token = label_studio
    study = create_study(tmp_path / "study", [TEACHER], "analysis", 5, 2, ["ana", "ben"], 4)
    config, tasks = export_label_studio(study, tmp_path / "out")
    spec = {"url": url, "token": token, "config": str(config), "tasks": str(tasks), "out": str(tmp_path / "export.json"),
            "emails": ["ana@example.org", "ben@example.org"]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run([str(VENV / "bin" / "python"), str(Path(__file__).with_name("label_studio_driver.py")),
                           str(tmp_path / "spec.json")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    exported = json.loads((tmp_path / "export.json").read_text())
    assert len(exported) == 5
    counts = import_label_studio(study, tmp_path / "export.json")
    rows = store_of(study).rows()
    annotators = {r.annotator for r in rows}
    assert len(annotators) == 2  # the two Label Studio users stay apart
    assert counts["tasks"] == 5 and counts["answers"] == len(rows) == 5 * len(annotators)
    first_choices = {"reasoning", "persuasiveness", "hallucination"}
    for row in rows:
        item = study.items[row.item]
        values = row.answer["values"]
        assert first_choices <= set(values) and len(values["accuracy"]) == len(item["targets"])
        assert None not in values["accuracy"]  # every target slot mapped to its own target, none to another
        assert row.answer["spans"]["hallucination"][0]["text"] == item["analysis"][:10]
    again = import_label_studio(study, tmp_path / "export.json")  # re-import: same rows, nothing doubled
    assert again == counts and len(store_of(study).rows()) == len(rows)
