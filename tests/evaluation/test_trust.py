"""Issue 10: every class of silently wrong number is refused, warned about or re-run.

Each test builds its own bad input (a dataset, a task file, a cache, a server) and checks what a user
sees: the one-line error naming file/id/piece, the warning, or the re-run.
"""

from __future__ import annotations

import http.server
import json
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import fsabench
from fsabench.errors import DataError, FsabenchError, SpecError
from fsabench.models.base import Completion
from fsabench.results import result_path

MY_TASK = """\
name: {name}
data:
  format: jsonl
  dir: {dir}
  splits: {{train: [train.jsonl], test: [test.jsonl]}}
  id_field: uid
  input_field: text
gold:
  builder: atsa_terms
  params: {{aspects_field: opinions, term_field: term, polarity_field: sentiment}}
output: {{parser: pairs, polarities: [positive, neutral, negative], require_in_input: true}}
metric: tuple_f1
subsets:
  all: {{}}
  nothing: {{field_equals: {{uid: -1}}}}
prompt:
  template: "Sentence: {{{{ input }}}}\\nAnswer:"
"""


def make_task(tmp_path: Path, rows: list[dict], name: str = "mycafe", extra: str = "") -> Path:
    """A JSONL dataset and its task YAML, as a user would write them (README 'Adding a dataset')."""
    data = tmp_path / "data" / name
    data.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tasks = tmp_path / "tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / f"{name}.yaml").write_text(MY_TASK.format(name=name, dir=data) + extra, encoding="utf-8")
    return tasks


GOOD = [{"uid": 1, "text": "Great coffee, rude staff.", "opinions": [{"term": "coffee", "sentiment": "positive"},
                                                                     {"term": "staff", "sentiment": "negative"}]},
        {"uid": 2, "text": "The cake was fine.", "opinions": [{"term": "cake", "sentiment": "neutral"}]}]


class ChatEcho:
    """An adapter living in the test's process: answers every prompt with one fixed pair."""

    prompt_style = "chat"

    def __init__(self, name: str = "test:echo", answer: str = "coffee | positive") -> None:
        self.name, self.answer, self.calls = name, answer, 0

    def identity(self):
        return {"answer": self.answer}

    def settings(self):
        return {}

    def generate(self, requests):
        self.calls += len(requests)
        return [Completion(text=self.answer) for _ in requests]


# --- 1. scores of nothing ------------------------------------------------------------------------
def test_a_model_that_predicts_nothing_has_no_precision_and_old_files_still_verify(tmp_path):
    """Precision of zero predictions is undefined (the paper's code said 100); F1 stays the paper's 0.
    A result file written with the old 100 still matches its examples (same counts), so reports and
    the leaderboard do not call it tampered."""
    from fsabench.scoring import first_score_difference

    result = fsabench.evaluate("baseline:empty", "atsa-rest14", limit=20)[0]
    score = result.scores["all"]
    assert score.n_pred == 0 and score.precision is None and score.recall == 0.0 and score.f1 == 0.0
    legacy = {k: v.model_copy(update={"precision": 100.0}) for k, v in result.scores.items()}
    assert first_score_difference(legacy, result.scores) is None
    forged = {k: v.model_copy(update={"recall": 100.0}) for k, v in result.scores.items()}
    assert "recall: stored 100.0, re-computed 0.0" in first_score_difference(forged, result.scores)


def test_an_empty_subset_and_a_goldless_task_score_undefined_not_100(tmp_path, cli):
    tasks = make_task(tmp_path, GOOD)
    result = fsabench.evaluate("baseline:gold", "mycafe", tasks_dir=[tasks])[0]
    assert result.scores["all"].f1 == 100.0
    nothing = result.scores["nothing"]
    assert nothing.n == 0 and nothing.f1 is None and nothing.precision is None
    no_pairs = [{"uid": 1, "text": "Nice.", "opinions": []}, {"uid": 2, "text": "Okay.", "opinions": []}]
    empty = make_task(tmp_path / "b", no_pairs, name="nopairs")
    result = fsabench.evaluate("baseline:empty", "nopairs", tasks_dir=[empty])[0]
    assert result.scores["all"].n == 2 and result.scores["all"].f1 is None  # answering nothing is not 100
    res = cli("run", "-m", "baseline:empty", "-t", "nopairs", "--tasks-dir", empty, "-o", tmp_path / "out", "--json")
    payload = json.loads(res.stdout)
    assert res.returncode == 0 and "f1" not in payload[0]["scores"]["all"]  # null, never 100
    res = cli("run", "-m", "baseline:empty", "-t", "nopairs", "--tasks-dir", empty, "-o", tmp_path / "out2")
    assert "–" in res.stdout and "100.00" not in res.stdout


# --- 2. gold the task's own parser would drop ----------------------------------------------------
@pytest.mark.parametrize("bad, piece", [
    ({"term": "coffee", "sentiment": "Positive"}, "coffee | Positive"),  # a label outside the polarities
    ({"term": "coffee; tea", "sentiment": "positive"}, "coffee"),  # a term holding the separator
    ({"term": "latte", "sentiment": "positive"}, "latte | positive"),  # not a substring of the sentence
])
def test_gold_that_the_parser_drops_is_an_error_in_run_score_and_validate(tmp_path, cli, bad, piece):
    rows = [GOOD[0], {"uid": 7, "text": "Great coffee; tea too.", "opinions": [bad]}]
    tasks = make_task(tmp_path, rows)
    with pytest.raises(DataError) as info:
        fsabench.evaluate("baseline:empty", "mycafe", tasks_dir=[tasks])
    assert "test.jsonl: example 7: gold piece" in str(info.value) and repr(piece) in str(info.value)
    res = cli("run", "-m", "baseline:empty", "-t", "mycafe", "--tasks-dir", tasks, "-o", tmp_path / "o")
    assert res.returncode == 1 and "example 7" in res.stderr and "fix:" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": 1, "output": ""}\n{"id": 7, "output": ""}\n')
    res = cli("score", "--task", "mycafe", "--tasks-dir", tasks, preds)
    assert res.returncode == 1 and "example 7" in res.stderr
    res = cli("tasks", "validate", tasks / "mycafe.yaml", "--check-data")
    assert res.returncode == 1 and "example 7" in res.stderr


def test_gold_params_are_checked_by_run_not_only_validate(tmp_path, cli):
    tasks = make_task(tmp_path, GOOD)
    path = tasks / "mycafe.yaml"
    path.write_text(path.read_text().replace("polarity_field: sentiment", "polarity_feild: sentiment"))
    res = cli("run", "-m", "baseline:gold", "-t", "mycafe", "--tasks-dir", tasks, "-o", tmp_path / "o")
    assert res.returncode == 1 and "polarity_feild" in res.stderr


def test_validate_check_data_prints_n_and_n_gold_per_split_and_subset(tmp_path, cli):
    tasks = make_task(tmp_path, GOOD)
    res = cli("tasks", "validate", tasks / "mycafe.yaml", "--check-data", "--json")
    splits = json.loads(res.stdout)[0]["splits"]
    assert splits["test"]["all"] == {"n": 2, "n_gold": 3} and splits["train"]["nothing"] == {"n": 0, "n_gold": 0}


# --- 3. reusing the wrong result -----------------------------------------------------------------
def test_a_stored_result_is_reused_only_for_the_same_run(tmp_path, caplog):
    out = tmp_path / "results"
    first = fsabench.evaluate("baseline:lexicon", "atsa-rest14", limit=50, output_dir=out)[0]
    assert first.scores["all"].n == 50
    again = fsabench.evaluate("baseline:lexicon", "atsa-rest14", limit=50, output_dir=out)[0]
    assert again.timing.started == first.timing.started  # reused
    with caplog.at_level("WARNING", logger="fsabench"):
        full = fsabench.evaluate("baseline:lexicon", "atsa-rest14", output_dir=out)[0]
    assert full.scores["all"].n == 1140 and "a different limit" in caplog.text
    echo = ChatEcho()
    fsabench.evaluate(echo, "atsa-rest14", limit=20, output_dir=out)
    fsabench.evaluate(echo, "atsa-rest14", limit=20, output_dir=out, num_shots=3)
    assert echo.calls == 40  # --num-shots 3 after 0 re-runs
    fsabench.evaluate(ChatEcho(answer="staff | negative"), "atsa-rest14", limit=20, output_dir=out)
    assert "a different model.identity" in caplog.text  # same name, other model: re-run


def test_two_model_names_never_share_a_result_path(tmp_path):
    names = ["hf:a/b", "hf:a_b", "hf:a:b", "hf:a-b", "openai-compat:http://h/v1#a", "openai-compat:http://h/v1#a/"]
    paths = {result_path(tmp_path, n, "t") for n in names}
    assert len(paths) == len(names)
    assert result_path(tmp_path, "baseline:lexicon", "t").parent.name == "baseline_lexicon"


def test_a_failed_run_is_not_reused(tmp_path):
    class Failing(ChatEcho):
        def generate(self, requests):
            return [Completion(text=None, error="HTTP 503: down") for _ in requests]

    out = tmp_path / "o"
    result = fsabench.evaluate(Failing(), "atsa-rest14", limit=5, output_dir=out)[0]
    assert result.usage.failed == 5 and result.scores["all"].f1 is None  # never 0 or 100
    echo = ChatEcho()
    assert fsabench.evaluate(echo, "atsa-rest14", limit=5, output_dir=out)[0].usage.failed == 0 and echo.calls == 5


# --- 5. untrusted task files ---------------------------------------------------------------------
def alias_bomb(path: Path) -> Path:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path.write_text("\n".join(lines) + "\nname: bomb\n")
    return path


def test_an_alias_bomb_is_refused_quickly_and_small(tmp_path):
    bomb = alias_bomb(tmp_path / "bomb.yaml")
    assert bomb.stat().st_size < 2048
    code = ("import sys; from fsabench.tasks.registry import load_spec_file\n"
            "try: load_spec_file(sys.argv[1])\nexcept Exception as e: print(type(e).__name__, e)\n"
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    done = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, timeout=60)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-2000:]
    message, peak_kb = lines[0], lines[-1]
    assert message.startswith("SpecError") and "aliases expand" in message
    assert int(peak_kb) < 100 * 1024


@pytest.mark.parametrize("template, words", [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loops"),
    ("{{ input * 100000000 }}", "mul"),
    ("{{ input|center(1000000000) }}", "center"),
    ("{{ ''.__class__ }}", "getattr"),  # allowed node, but the sandbox refuses dunder access on render
    ("{{ lipsum() }}", "call"),
    ("{{ config }}", "unknown variable"),
])
def test_unbounded_or_unsafe_templates_are_refused(tmp_path, template, words):
    tasks = make_task(tmp_path, GOOD, extra="")
    path = tasks / "mycafe.yaml"
    text = path.read_text().replace('template: "Sentence: {{ input }}\\nAnswer:"', f"template: {json.dumps(template)}")
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        fsabench.task("mycafe", tasks_dir=[tasks])
    assert words in str(info.value) or "template failed" in str(info.value) or "access" in str(info.value)


def test_include_stays_inside_the_task_folders(tmp_path, cli):
    secret = tmp_path / "secret.yaml"
    secret.write_text("data: {format: json, dir: /, splits: {test: [x]}, input_field: a}\n")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "evil.yaml").write_text("include: ../secret.yaml\nname: evil\n")
    res = cli("tasks", "validate", "--check-data", tasks / "evil.yaml")
    assert res.returncode == 1 and "outside the task folders" in res.stderr
    res = cli("run", "--tasks-dir", tasks, "-t", "evil", "-o", tmp_path / "o")
    assert res.returncode == 1 and "outside the task folders" in res.stderr


# --- 6. errors a user can act on -----------------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["run", "--modle", "x"], "Did you mean --model?"),
    (["run", "--limit", "-3"], "--limit"),
    (["run", "--device", "gpu"], "--device"),
    (["score"], "Missing argument"),
    (["rnu"], "Did you mean"),
])
def test_usage_errors_print_usage_and_exit_2(cli, args, words):
    res = cli(*args)
    assert res.returncode == 2 and words in res.stderr and "Usage:" in res.stderr
    assert "internal error" not in res.stderr


def test_an_unusable_output_folder_fails_before_model_work(tmp_path, cli):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = cli("run", "-t", "atsa-rest14", "-o", blocker / "sub")
    assert res.returncode == 1 and "is a file, not a folder" in res.stderr


@pytest.mark.parametrize("damage", ["garbage", "locked"])
def test_a_damaged_or_locked_cache_warns_and_the_run_completes(tmp_path, damage, caplog, monkeypatch):
    from fsabench.models import cache as cache_module

    monkeypatch.setattr(cache_module, "PROBE_TIMEOUT_S", 0.3)
    cache = tmp_path / "cache"
    cache.mkdir()
    db = cache / "responses.sqlite"
    holder = None
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    else:  # another process is in the middle of a long write
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("BEGIN EXCLUSIVE")
    with caplog.at_level("WARNING", logger="fsabench"):
        result = fsabench.evaluate(ChatEcho(), "atsa-rest14", limit=10, cache_dir=cache)[0]
    if holder is not None:
        holder.close()
    assert "running without the response cache" in caplog.text
    assert len(result.examples) == 10 and result.usage.failed == 0


# --- 7. nothing generated is lost ----------------------------------------------------------------
def test_a_cache_that_stops_taking_writes_mid_run_loses_no_answer(tmp_path, caplog, monkeypatch):
    from fsabench.models import cache as cache_module

    monkeypatch.setattr(cache_module, "WRITE_TIMEOUT_S", 0.3)
    cache = tmp_path / "cache"

    class Saboteur(ChatEcho):
        holder = None

        def generate(self, requests):
            if self.calls and self.holder is None:  # after the first chunk is stored, another writer locks it
                self.holder = sqlite3.connect(cache / "responses.sqlite", isolation_level=None)
                self.holder.execute("BEGIN EXCLUSIVE")
            return super().generate(requests)

    adapter = Saboteur()
    with caplog.at_level("WARNING", logger="fsabench"):
        result = fsabench.evaluate(adapter, "atsa-rest14", limit=200, cache_dir=cache, concurrency=1,
                                   output_dir=tmp_path / "o")[0]
    adapter.holder.close()
    assert "stopped working" in caplog.text and caplog.text.count("stopped working") == 1
    assert len(result.examples) == 200 and all(e.output == "coffee | positive" for e in result.examples)
    stored = json.loads(next((tmp_path / "o").rglob("*.json")).read_text())
    assert len(stored["examples"]) == 200


# --- 8. failures that say why --------------------------------------------------------------------
class Refusing(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint whose key is wrong: 401 for everything, counting requests."""

    count = 0

    def do_GET(self):  # noqa: N802
        self._deny()

    def do_POST(self):  # noqa: N802
        type(self).count += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._deny()

    def _deny(self):
        body = b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_an_auth_error_fails_at_once_and_is_printed(tmp_path, cli):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        res = cli("run", "-m", f"openai-compat:{url}#m", "-t", "sc-sst2", "--limit", "200", "-o", tmp_path / "o",
                  "--concurrency", "4")
    finally:
        server.shutdown()
    assert res.returncode == 1 and "HTTP 401" in res.stderr and "Incorrect API key" in res.stderr
    assert Refusing.count <= 8  # not 200 requests x 7 attempts
    assert "no scores for sc-sst2" in res.stderr and "100.00" not in res.stdout and "0.00" not in res.stdout


def test_a_closed_port_gives_up_within_seconds(tmp_path, cli):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: connections are refused
    started = time.monotonic()
    res = cli("run", "-m", f"openai-compat:http://127.0.0.1:{port}/v1#m", "-t", "sc-sst2", "--limit", "50",
              "-o", tmp_path / "o")
    assert res.returncode == 1 and "connect" in res.stderr.lower()
    assert time.monotonic() - started < 60  # 99 s before this issue; ~6 s of retries now


def test_protocol_mismatches_are_refused_not_silently_changed(tmp_path):
    with pytest.raises(FsabenchError, match="no train split"):
        fsabench.evaluate(ChatEcho(), "review-stars", num_shots=3)
    with pytest.raises(FsabenchError, match="raw input"):
        fsabench.evaluate("baseline:lexicon", "atsa-rest14", num_shots=3, limit=5)
    with pytest.raises(FsabenchError, match="unknown model option 'batchsize'"):
        fsabench.evaluate("baseline:gold", "atsa-rest14", batchsize=3)


# --- 9. files others can read --------------------------------------------------------------------
def test_results_are_written_with_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        fsabench.evaluate("baseline:gold", "atsa-rest14", limit=5, output_dir=tmp_path)
    finally:
        os.umask(old)
    path = next(tmp_path.rglob("*.json"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_threads_default_to_physical_cores_and_can_be_set(monkeypatch):
    from fsabench.threads import physical_cores, resolve_threads

    monkeypatch.delenv("FSABENCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert 1 <= resolve_threads() == physical_cores() <= len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert resolve_threads() == 1  # the BLAS knob every user knows
    monkeypatch.setenv("FSABENCH_THREADS", "3")
    assert resolve_threads() == 3 and resolve_threads(1) == 1


def test_a_run_keeps_the_thread_count_the_user_exported(monkeypatch, tmp_path):
    """OMP_NUM_THREADS=1 means one thread for the whole run: `evaluate()` used to reset torch to the physical
    cores, so `hf:` at "one thread" ran its matrix products on two."""
    import torch

    from fsabench.api import evaluate

    monkeypatch.delenv("FSABENCH_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        evaluate("baseline:gold", "sc-sst2", limit=2, cache=False)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


if __name__ == "__main__":  # pragma: no cover
    print(textwrap.dedent(__doc__))
