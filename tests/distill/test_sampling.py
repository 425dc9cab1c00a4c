"""Seeded streaming samples: reviews per source (reviews[].sample) and responses (corpus.size)."""

from __future__ import annotations

import json

from fsabench.distill.corpus import RESPONSES, finalize
from fsabench.distill.filters import FilterSpec
from fsabench.distill.reviews import Skipped
from fsabench.distill.sampling import sample_reviews


def write_reviews(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_review_sample_is_seeded_order_free_nested_and_streams(tmp_path):
    rows = [{"text": f"review number {i}", "stars": i % 5 + 1} for i in range(1000)]
    rows.insert(10, {"stars": 3})  # no text: skipped and counted once, not twice for the two passes
    forward = write_reviews(tmp_path / "a.jsonl", rows)
    backward = write_reviews(tmp_path / "b.jsonl", rows[::-1])  # e.g. the file sorted the other way
    fields = {"text": "text", "overall": "stars"}
    skipped = Skipped()
    first = list(sample_reviews(forward, fields, None, 100, seed=7, skipped=skipped))
    assert len(first) == 100 and skipped.missing_text == 1
    texts = [r["Text"] for r in first]
    assert texts == [r["text"] for r in rows if r.get("text") in set(texts)]  # in file order
    assert texts == [r["Text"] for r in sample_reviews(forward, fields, None, 100, seed=7)]  # reproducible
    assert set(texts) == {r["Text"] for r in sample_reviews(backward, fields, None, 100, seed=7)}  # order-free
    assert set(texts) != {r["Text"] for r in sample_reviews(forward, fields, None, 100, seed=8)}
    smaller = {r["Text"] for r in sample_reviews(forward, fields, None, 40, seed=7)}
    assert smaller < set(texts)  # nested: a smaller sample lies inside a larger one
    assert len(list(sample_reviews(forward, fields, None, 5000, seed=7))) == 1000  # fewer rows than asked: all
    head = {r["Text"] for r in sample_reviews(forward, fields, None, 10, seed=7, limit=50)}
    assert head <= {f"review number {i}" for i in range(50)}  # a limit bounds what is sampled from


def test_corpus_size_keeps_a_seeded_nested_subset_of_the_filtered_responses(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    rows = [{"ID": f"r{i}", "Text": f"text {i}", "Overall": 5, "prompt_type": kind,
             "mixtral_response": f"An answer long enough to keep, number {i} ({kind})."}
            for i in range(200) for kind in ("analysis", "rewrite")]
    rows.append({**rows[0], "mixtral_response": ""})  # a duplicate key: dropped before sampling
    write_reviews(folder / RESPONSES, rows)
    report = finalize(folder, FilterSpec(), 0.1, size=150, seed=3)
    assert report["kept"] == 150 and report["train"] + report["valid"] == 150
    assert report["size"] == 150 and report["left_out_by_size"] == 250 and report["dropped"] == {"duplicate": 1}
    keys = lambda: {(r["ID"], r["prompt_type"]) for name in ("corpus.jsonl", "valid.jsonl")  # noqa: E731
                    for r in map(json.loads, (folder / name).read_text().splitlines())}
    big = keys()
    assert finalize(folder, FilterSpec(), 0.1, size=150, seed=3)["kept"] == 150 and keys() == big
    finalize(folder, FilterSpec(), 0.1, size=60, seed=3)
    assert keys() < big
    assert finalize(folder, FilterSpec(), 0.1)["kept"] == 400  # no size: every filtered response
