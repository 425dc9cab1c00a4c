"""Issue 22, classes 6 and 12: each data format is read by its own parser, and odd but legal values end cleanly."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsabench.data.loaders import load_records
from fsabench.errors import DataError, FsabenchError, PredictionsError
from fsabench.external import read_predictions


def test_a_quoted_csv_cell_keeps_its_line_breaks(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'id,text,label\r\n1,"Great food.\nRude staff.",positive\r\n2,"one\r\ntwo, three",neutral\r\n')
    rows = load_records(path, "csv")
    assert [r["text"] for r in rows] == ["Great food.\nRude staff.", "one\r\ntwo, three"]
    assert [r["label"] for r in rows] == ["positive", "neutral"]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1e"])
def test_valid_json_lines_holding_unicode_line_separators_are_read(tmp_path, char):
    path = tmp_path / "d.jsonl"
    rows = [{"id": 1, "text": f"a{char}b"}, {"id": 2, "text": "c"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows), encoding="utf-8")
    assert load_records(path, "jsonl") == rows
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": 1, "output": f"x{char}y"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_predictions(preds) == {"1": f"x{char}y"}


def test_a_5000_digit_integer_is_one_line_error_not_a_crash(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": ' + "7" * 5000 + ', "text": "x"}\n')
    with pytest.raises(DataError, match="an integer of 5,000 digits is too large"):
        load_records(path, "jsonl")
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": ' + "7" * 5000 + ', "output": "x"}\n')
    with pytest.raises(PredictionsError, match="5,000 digits"):
        read_predictions(preds)


def test_a_folder_named_as_a_data_file_is_one_line(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        load_records(tmp_path, "jsonl")


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=120)
ROW = st.dictionaries(st.sampled_from(["id", "text", "label", "output", "x"]),
                      st.none() | st.integers() | TEXT | st.lists(TEXT, max_size=2), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["json", "jsonl", "csv", "tuple_lines"]),
       content=st.one_of(st.binary(max_size=200), TEXT.map(str.encode),
                         st.lists(ROW, max_size=4).map(lambda rows: "\n".join(json.dumps(r) for r in rows).encode()),
                         st.lists(ROW, max_size=4).map(lambda rows: json.dumps(rows).encode()),
                         st.lists(st.tuples(TEXT, TEXT), max_size=4).map(
                             lambda rows: "\n".join(f"{a}####[('{b[:5]}', 'POS')]" for a, b in rows).encode())))
def test_any_data_file_reads_to_records_or_one_data_error(tmp_path, fmt, content):
    path = tmp_path / "f"
    path.write_bytes(content)
    try:
        records = load_records(path, fmt, ("aspect", "polarity"))
        assert all(isinstance(r, dict) for r in records)
    except FsabenchError as exc:
        assert "\n" not in str(exc).replace(str(path), "")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=200),
                 st.lists(ROW, max_size=4).map(lambda rows: "\n".join(json.dumps(r) for r in rows).encode())))
def test_any_predictions_file_reads_or_raises_one_predictions_error(tmp_path, content):
    path = tmp_path / "p.jsonl"
    path.write_bytes(content)
    try:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in read_predictions(path).items())
    except FsabenchError as exc:
        assert "\n" not in str(exc)


def test_a_prediction_holding_a_lone_surrogate_is_one_line(tmp_path):
    import fsabench
    from fsabench.examples import load_split
    from tests.conftest import DATA_DIR

    ids = [e.id for e in load_split(fsabench.task("sc-sst2"), DATA_DIR).examples]
    with pytest.raises(PredictionsError, match=r"lone surrogate U\+D800"):
        fsabench.score("sc-sst2", {e: "positive" if i else "\ud800" for i, e in enumerate(ids)})


def test_an_empty_gold_term_is_refused_with_its_record(tmp_path):
    from tests.evaluation.test_trust import make_task

    rows = [{"uid": 1, "text": "Great coffee.", "opinions": [{"term": " ", "sentiment": "positive"}]}]
    tasks = make_task(tmp_path, rows)
    import fsabench

    with pytest.raises(DataError, match="aspect 'term' is empty"):
        fsabench.evaluate("baseline:empty", "mycafe", tasks_dir=[tasks], data_dir=tmp_path / "data")
