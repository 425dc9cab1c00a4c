"""`fsabench data pull|verify|path` against a real HTTP server on 127.0.0.1 serving a mirror."""

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from fsabench.data import sources


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    disable_nagle_algorithm = True
    requests_seen: list[str] = []
    ranges: list[str | None] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        QuietHandler.requests_seen.append(self.path)
        QuietHandler.ranges.append(self.headers.get("Range"))
        wanted = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not wanted.startswith("bytes=") or not path.is_file():
            return super().do_GET()
        body = path.read_bytes()[int(wanted[6:].split("-")[0]):]
        self.send_response(206)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def mirror(tmp_path, data_dir):
    """A loopback web server laid out like the origin: /<repo>/<commit>/<origin path>."""
    root = tmp_path / "mirror"
    for f in sources.pinned_files(["fsa"]):
        repo_commit_origin = f.url.split("raw.githubusercontent.com/", 1)[-1] if "raw.github" in f.url else None
        assert repo_commit_origin, "tests build URLs from the default template"
        dest = root / repo_commit_origin
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((data_dir / f.path).read_bytes())
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    QuietHandler.requests_seen, QuietHandler.ranges = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}/{{repo}}/{{commit}}/{{origin}}", root
    server.shutdown()
    server.server_close()


def test_pull_verifies_is_idempotent_and_resumes(cli, tmp_path, mirror):
    url, _ = mirror
    env = {"FSABENCH_DATA_URL": url}
    target = tmp_path / "data"
    res = cli("data", "pull", "--bundles", "fsa", "--data-dir", target, "--json", env=env)
    assert res.returncode == 0, res.stderr
    assert len(QuietHandler.requests_seen) == 17
    assert cli("data", "verify", "--bundles", "fsa", "--data-dir", target, env=env).returncode == 0
    again = cli("data", "pull", "--bundles", "fsa", "--data-dir", target, env=env)
    assert again.returncode == 0 and len(QuietHandler.requests_seen) == 17  # nothing re-downloaded
    # an interrupted download: half a file left as .part, the file itself gone -> resumed, not restarted
    test_json = target / "fsa-distillation/atsa/rest14/test.json"
    data = test_json.read_bytes()
    test_json.unlink()
    Path(str(test_json) + ".part").write_bytes(data[: len(data) // 2])
    assert cli("data", "pull", "--bundles", "fsa", "--data-dir", target, env=env).returncode == 0
    assert hashlib.sha256(test_json.read_bytes()).hexdigest() == sources.expected_sha256(
        "fsa-distillation/atsa/rest14/test.json")
    assert len(QuietHandler.requests_seen) == 18
    assert QuietHandler.ranges[-1] == f"bytes={len(data) // 2}-"  # only the missing half was fetched


def test_verify_reports_a_changed_file(cli, tmp_path, mirror):
    url, _ = mirror
    target = tmp_path / "data"
    assert cli("data", "pull", "--bundles", "fsa", "--data-dir", target, env={"FSABENCH_DATA_URL": url}).returncode == 0
    (target / "fsa-distillation/acsa/rest16/dev.json").write_text("[]")
    res = cli("data", "verify", "--bundles", "fsa", "--data-dir", target)
    assert res.returncode == 1 and "fsabench data pull" in res.stderr and "mismatch" in res.stderr


def test_pull_rejects_bytes_that_do_not_match(cli, tmp_path, mirror):
    url, root = mirror
    served = next(root.rglob("rest14/dev.json"))
    served.write_bytes(served.read_bytes() + b" ")
    res = cli("data", "pull", "--bundles", "fsa", "--data-dir", tmp_path / "d", env={"FSABENCH_DATA_URL": url})
    assert res.returncode == 1 and "do not match the pinned sha256" in res.stderr
    assert not (tmp_path / "d/fsa-distillation/atsa/rest14/dev.json").exists()


def test_offline_pull_fails_with_one_line(cli, tmp_path):
    res = cli("data", "pull", "--data-dir", tmp_path, env={"FSABENCH_DATA_URL": "http://127.0.0.1:9/{repo}/{commit}/{origin}"})
    assert res.returncode == 1 and "could not download" in res.stderr and "FSABENCH_DATA_DIR" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_data_path_follows_env_and_option(cli, tmp_path):
    assert cli("data", "path", env={"FSABENCH_DATA_DIR": str(tmp_path)}).stdout.strip() == str(tmp_path)
    assert cli("data", "path", "--data-dir", tmp_path / "x").stdout.strip() == str(tmp_path / "x")
