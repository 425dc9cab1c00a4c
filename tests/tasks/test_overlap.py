"""`fsabench tasks overlap`: test sentences found in a corpus, streamed; planted sentences all found, nothing else."""

from __future__ import annotations

import csv
import gzip
import json
import random

import pytest

import fsabench
from fsabench.api import overlap
from fsabench.cli import main

TEACHER = "fsa-distillation/teacher/mixtral/test_500_4m8d.json"


def teacher_rows(data_dir):
    return [json.loads(line) for line in (data_dir / TEACHER).read_text(encoding="utf-8-sig").splitlines() if line.strip()]


def test_shipped_teacher_corpus(data_dir):
    """The 500-response sample holds one Yelp review whose sentences are in the restaurant hard set."""
    found = overlap(data_dir / TEACHER, tasks="fsa", fields="Text,mixtral_response").to_dict()
    rest = found["tasks"]["atsa-rest14"]["subsets"]
    assert found["records"] == 500
    assert rest["all"]["ids"] == rest["hard"]["ids"] and sorted(rest["all"]["ids"]) == ["4466396:0", "4466396:3", "4466396:8"]
    assert found["tasks"]["atsa-laptop14"]["subsets"]["all"]["overlapping"] == 0


@pytest.mark.parametrize("kind", ["jsonl", "csv", "jsonl.gz"])
def test_planted_sentences_all_found_nothing_else(tmp_path, data_dir, kind):
    from fsabench.examples import load_split

    rng = random.Random(7)
    examples = [e for e in load_split(fsabench.task("atsa-laptop14"), data_dir, "test").examples
                if len(e.input.split()) >= 10]
    planted = rng.sample(examples, 12)
    rows = [{"text": r["Text"], "id": r["ID"]} for r in teacher_rows(data_dir) if r["ID"] != 4466396]
    for example in planted:  # inside a review, with other words around it and its case changed
        host = rng.randrange(len(rows))
        rows[host]["text"] += " Also: " + example.input.upper() + " That is all."
    path = tmp_path / f"corpus.{kind}"
    if kind == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "text"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        text = "".join(json.dumps(r) + "\n" for r in rows)
        path.write_bytes(gzip.compress(text.encode()) if kind.endswith(".gz") else text.encode())
    found = overlap(path, tasks="atsa-laptop14,atsa-rest14").to_dict()
    assert sorted(found["tasks"]["atsa-laptop14"]["subsets"]["all"]["ids"]) == sorted(e.id for e in planted)
    assert found["tasks"]["atsa-rest14"]["subsets"]["all"]["overlapping"] == 0


def test_cli_json_and_missing_field(tmp_path, capsys, data_dir):
    def cli(*args):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code
        return code, capsys.readouterr()

    code, captured = cli("tasks", "overlap", "--corpus", data_dir / TEACHER, "--field", "Text", "--tasks",
                         "atsa-rest14", "--json")
    assert code == 0 and json.loads(captured.out)["tasks"]["atsa-rest14"]["subsets"]["hard"]["overlapping"] == 3
    code, captured = cli("tasks", "overlap", "--corpus", data_dir / TEACHER, "--tasks", "atsa-rest14")
    assert code == 1 and "no record has a text field 'text'" in captured.err and "Text" in captured.err
