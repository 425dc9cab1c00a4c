"""Gzipped bundles (`<slug>.json.gz`): the same JSON, the same checks, the same audit binding; and a
gzip body from someone else is untrusted input, bounded by what it expands to."""

from __future__ import annotations

import gzip
import json

import pytest

from fsabench.leaderboard.spec import Limits
from fsabench.leaderboard.submission import SubmissionError, bundle_gzip, bundle_json_bytes
from tests.leaderboard.test_service import post, request, server  # noqa: F401 (fixture)
from tests.leaderboard.support import boards_dir, good_bundle_text, lexicon_runs, verifier


def test_submit_gzip_writes_one_json_gz_that_verify_and_build_accept(tmp_path, cli):
    lb = boards_dir(tmp_path)
    submit = ("leaderboard", "submit", lexicon_runs(), "--leaderboard", "fsa", "--name", "Lexicon baseline",
              "--category", "baseline", "--leaderboards-dir", lb)
    res = cli(*submit, "--gzip")
    assert res.returncode == 0, res.stderr
    folder = lb / "fsa" / "submissions"
    path = folder / "lexicon-baseline.json.gz"
    assert [p.name for p in folder.iterdir()] == [path.name]
    text = gzip.decompress(path.read_bytes()).decode()
    assert json.loads(text)["entry"]["name"] == "Lexicon baseline"
    assert path.stat().st_size * 5 < len(text)  # it is worth it: outputs repeat

    res = cli("leaderboard", "verify", "--leaderboards-dir", lb, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    res = cli("leaderboard", "build", "fsa", "-o", tmp_path / "site", "--leaderboards-dir", lb)
    assert res.returncode == 0, res.stderr
    assert "Lexicon baseline" in (tmp_path / "site" / "index.html").read_text()

    # gzipping again gives the same bytes (no name, no mtime): a rebuilt bundle makes no diff
    first = path.read_bytes()
    assert cli(*submit, "--gzip", "--overwrite").returncode == 0 and path.read_bytes() == first
    # the plain form replaces the gzipped one: one file per entry
    assert cli(*submit).returncode == 1  # exists (as .json.gz): refused without --overwrite
    assert cli(*submit, "--overwrite").returncode == 0
    assert [p.name for p in folder.iterdir()] == ["lexicon-baseline.json"]


def test_two_files_for_one_entry_are_refused(tmp_path):
    folder = boards_dir(tmp_path) / "fsa" / "submissions"
    (folder / "lexicon-baseline.json").write_text(good_bundle_text())
    (folder / "lexicon-baseline.json.gz").write_bytes(bundle_gzip(good_bundle_text()))
    with pytest.raises(SubmissionError, match="second bundle for the same entry 'lexicon-baseline'"):
        verifier().verify_file(folder / "lexicon-baseline.json")


def test_renamed_gzip_bundle_names_the_gz_suffix(tmp_path):
    path = boards_dir(tmp_path) / "fsa" / "submissions" / "best.json.gz"
    path.write_bytes(bundle_gzip(good_bundle_text()))
    with pytest.raises(SubmissionError, match=r"file name should be lexicon-baseline\.json\.gz"):
        verifier().verify_file(path)


def test_gzip_bomb_stops_at_the_size_limit_and_damage_is_one_line(tmp_path):
    limits = Limits(max_submission_bytes=100_000)
    bomb = gzip.compress(b" " * 50_000_000, mtime=0)  # 49 KB that expands to 50 MB
    assert len(bomb) < 100_000
    with pytest.raises(SubmissionError, match="expands to over the limit of 100,000 bytes"):
        bundle_json_bytes(bomb, "bomb.json.gz", limits)
    good = bundle_gzip(good_bundle_text())
    cases = {
        "truncated": (good[: len(good) // 2], "truncated"),
        "two files joined": (good + good, "bytes after the end of the gzip data"),
        "bad CRC": (good[:-8] + bytes(8), "damaged gzip data"),
    }
    for name, (raw, message) in cases.items():
        with pytest.raises(SubmissionError, match=message):
            bundle_json_bytes(raw, f"{name}.json.gz", Limits())
        path = tmp_path / f"{name.replace(' ', '-')}.json.gz"
        path.write_bytes(raw)
        with pytest.raises(SubmissionError) as info:
            verifier().verify_file(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    # the default limit (64 MB) holds for a file on disk too
    big = tmp_path / "big.json.gz"
    big.write_bytes(gzip.compress(b"{" + b" " * 70_000_000, compresslevel=1, mtime=0))
    with pytest.raises(SubmissionError, match="expands to over the limit of 64,000,000"):
        verifier().verify_file(big)


def test_service_takes_a_gzipped_post_and_stores_its_json(server):  # noqa: F811
    port = server.server_address[1]
    status, payload = post(port, bundle_gzip(good_bundle_text()))
    assert status == 201 and payload["slug"] == "lexicon-baseline", payload
    status, _, data = request(port, "GET", "/api/leaderboard")
    assert [e["name"] for e in json.loads(data)["entries"]] == ["Lexicon baseline"]
    assert server.app.store.bundle("fsa", "lexicon-baseline") == good_bundle_text().encode()
    status, payload = post(port, gzip.compress(b" " * 70_000_000, compresslevel=1, mtime=0))
    assert status == 422 and "expands to over the limit" in payload["error"]


def test_service_imports_a_gzipped_folder_bundle_and_drops_it_when_removed(tmp_path):
    from fsabench.leaderboard.service import make_server
    from fsabench.leaderboard.spec import load_leaderboard
    from tests.conftest import DATA_DIR

    lb = boards_dir(tmp_path)
    path = lb / "fsa" / "submissions" / "lexicon-baseline.json.gz"
    path.write_bytes(bundle_gzip(good_bundle_text()))
    board = load_leaderboard("fsa", lb)
    srv = make_server(board, DATA_DIR, db_path=tmp_path / "lb.sqlite3", import_files=[path])
    try:
        assert [r["slug"] for r in srv.app.store.rows("fsa")] == ["lexicon-baseline"]
        # stored as its JSON: the same bytes a plain .json would have given (one sha256 for the audit)
        assert srv.app.store.bundle("fsa", "lexicon-baseline") == good_bundle_text().encode()
        path.unlink()
        assert srv.app.rescan() and srv.app.store.rows("fsa") == []
    finally:
        srv.server_close()
        srv.app.store.close()
