"""Teacher corpus: import of the real 500-line Mixtral file, quality filters, review files, and
generation through a real loopback OpenAI-compatible server (faults, resume, dry run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR

TEACHER_FILE = DATA_DIR / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"
ANSWERS = ["Opinion Target 1: \"food\"\nAspect: Taste\nSentiment: Very Positive\nReasoning: the reviewer says it.",
           "I loved the food here, and I felt the staff was friendly and quick.",
           "ok"]  # too short: the default filter drops it


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_import_the_released_teacher_file_and_report_filters(cli, tmp_path):
    res = cli("distill", "corpus", "--import", TEACHER_FILE, "--out", tmp_path, "--valid-fraction", "0.1", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)["report"]
    assert report["responses"] == 500
    assert report["by_prompt_type"] == {"analysis": 234, "rewrite": 266}  # as the data README counts them
    assert report["cut"]["runaway"] >= 20  # "Consider the following reviews:", "Review: ..." continuations
    train, valid = rows(tmp_path / "corpus.jsonl"), rows(tmp_path / "valid.jsonl")
    assert len(train) + len(valid) == report["kept"] and 20 < len(valid) < 80
    assert set(train[0]) >= {"ID", "Text", "Overall", "mixtral_response", "prompt_type"}
    assert not any("Consider the following review" in r["mixtral_response"] for r in train + valid)
    # importing again adds nothing: rows are keyed by (ID, prompt type)
    again = cli("distill", "corpus", "--import", TEACHER_FILE, "--out", tmp_path, "--json")
    assert json.loads(again.stdout)["imported"] == 0


def test_filters_drop_and_cut_by_rule():
    from fsabench.distill.filters import FilterSpec, check

    spec = FilterSpec(min_words=3)
    key = "t_response"
    assert check(spec, {key: "   "}, key)[1] == "empty"
    assert check(spec, {key: "a long enough answer", "finish_reason": "length"}, key)[1] == "truncated"
    kept, reason, cut = check(spec, {key: "I liked it a lot.\n\nReview: the next made-up review"}, key)
    assert reason is None and cut and kept[key] == "I liked it a lot."
    assert check(FilterSpec(runaway_action="drop"), {key: "Fine answer here.\nConsider the following reviews:"},
                 key)[1] == "runaway"
    assert check(spec, {key: "two words"}, key)[1] == "too_short"
    assert check(FilterSpec(truncated_heuristic=True), {key: "this one stops in the midd"}, key)[1] == "truncated"
    assert check(FilterSpec(max_review_words=2), {key: "a fine answer here now", "Text": "one two three"},
                 key)[1] == "review_too_long"


def test_reviews_from_csv_with_a_field_mapping(tmp_path):
    from fsabench.distill.reviews import iter_reviews, parse_fields
    from fsabench.errors import DataError

    path = tmp_path / "r.csv"
    path.write_text("asin,reviewText,stars\nB1,Great keyboard.,5\nB2,,1\n,Loud fan.,2\n", encoding="utf-8")
    got = list(iter_reviews(path, parse_fields("id=asin,text=reviewText,overall=stars")))
    assert got == [{"ID": "B1", "Text": "Great keyboard.", "Overall": 5.0},
                   {"ID": "r:4", "Text": "Loud fan.", "Overall": 2.0}]
    with pytest.raises(DataError, match="no review has a text field 'Text'"):  # a wrong mapping stops
        list(iter_reviews(path))
    with pytest.raises(DataError, match="bad entry"):
        parse_fields("body=reviewText")


def test_a_review_without_its_text_field_is_skipped_and_counted(tmp_path):
    """Raw Amazon dumps hold records without reviewText: one of them must not stop a 2M-review run."""
    from fsabench.distill.reviews import Skipped, iter_reviews

    path = tmp_path / "amazon.jsonl"
    path.write_text('{"reviewText": "Great mouse.", "overall": 5}\n{"summary": "no text", "overall": 1}\n'
                    '{"reviewText": "Loud fan.", "overall": 2}\n', encoding="utf-8")
    skipped = Skipped()
    got = list(iter_reviews(path, {"text": "reviewText", "overall": "overall"}, skipped=skipped))
    assert [r["Text"] for r in got] == ["Great mouse.", "Loud fan."]
    assert skipped.missing_text == 1 and skipped.where == [f"{path}:2"]


@pytest.fixture
def teacher_server():
    from tests.servers.scripted import Script, ServerThread

    return ServerThread(Script(labels=ANSWERS, faults={"500": 0.3, "429": 0.1}, retry_after=0.01))


def test_generate_through_a_loopback_teacher_with_faults_then_resume(cli, tmp_path, teacher_server):
    teacher = f"openai-compat:{teacher_server.url}#scripted"
    base = ("distill", "corpus", "--teacher", teacher, "--reviews", TEACHER_FILE, "--out", tmp_path,
            "--teacher-name", "scripted", "--json")
    dry = cli("distill", "corpus", "--teacher", teacher, "--reviews", TEACHER_FILE, "--limit", "30", "--out", tmp_path,
              "--dry-run", "--price-in", "1", "--price-out", "2", "--json")
    plan = json.loads(dry.stdout)
    assert plan["requests"] == 60 and plan["cost"]["max_usd"] > plan["cost"]["typical_usd"] > 0
    assert teacher_server.stats()["requests"] == 0  # a dry run sends nothing

    first = cli(*base, "--limit", "20")
    assert first.returncode == 0, first.stderr
    payload = json.loads(first.stdout)
    assert payload["generation"]["written"] == 40 and payload["generation"]["failed"] == 0
    assert sum(teacher_server.stats()["faults"].values()) > 0  # faults were injected and retried through
    written = rows(tmp_path / "responses.jsonl")
    assert {r["prompt_type"] for r in written} == {"analysis", "rewrite"}
    assert all(r["scripted_response"] in ANSWERS for r in written)
    assert payload["report"]["dropped"].get("too_short", 0) == sum(r["scripted_response"] == "ok" for r in written)

    sent = teacher_server.stats()["prompts"]
    second = cli(*base, "--limit", "25", "--no-cache")  # resume: only the 5 new reviews are asked
    assert json.loads(second.stdout)["generation"]["sent"] == 10
    assert teacher_server.stats()["prompts"] == sent + 10
    assert teacher_server.stats()["repeated"] == 0


def test_corpus_needs_a_source(cli, tmp_path):
    res = cli("distill", "corpus", "--out", tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("error: nothing to build a corpus from")
