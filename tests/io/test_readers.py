"""fsabench.io's reader family: one strict, bounded reader per format, one-line errors naming file and line."""

from __future__ import annotations

import pytest

from fsabench.errors import DataError, FsabenchError, SpecError
from fsabench.io import iter_csv, iter_jsonl, read_csv, read_json, read_json_object, read_jsonl, read_text, read_yaml


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_json_strict_and_named(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"a": 1, "a": 2}', encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_json(path, error=DataError, hint="fix it")
    assert one_line(exc) == f"{path}: invalid JSON (key 'a' appears twice in one object) (fix: fix it)"
    path.write_text('{"x": NaN}', encoding="utf-8")
    with pytest.raises(FsabenchError, match="NaN is not a number JSON allows"):
        read_json(path)
    path.write_text('\ufeff[1, 2]', encoding="utf-8")
    assert read_json(path) == [1, 2]
    with pytest.raises(FsabenchError, match="holds a JSON object, not list"):
        read_json_object(path, "stage record")


def test_missing_folder_size_and_encoding(tmp_path):
    with pytest.raises(SpecError, match=r"nope.json: study file not found \(fix: make one\)"):
        read_json(tmp_path / "nope.json", "study file", error=SpecError, missing="make one")
    with pytest.raises(FsabenchError, match="is a folder, not a JSON file"):
        read_json(tmp_path)
    big = tmp_path / "big.json"
    big.write_text("[" + "1," * 100 + "1]", encoding="utf-8")
    with pytest.raises(FsabenchError, match="bytes is larger than a JSON file may be"):
        read_json(big, max_bytes=100)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\xff")
    with pytest.raises(FsabenchError, match=r"not UTF-8 \(byte 2\)"):
        read_text(bad)


def test_jsonl_lines_end_at_newline_only(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes('\ufeff{"t": "a\u2028b\u0085c"}\r\n\n{"t": 2}\n'.encode("utf-8"))
    lines = read_jsonl(path)
    assert [(n, v) for n, _, _, v in lines] == [(1, {"t": "a\u2028b\u0085c"}), (3, {"t": 2})]
    resumed = list(iter_jsonl(path, start=lines[0].end))
    assert [line.value for line in resumed] == [{"t": 2}] and resumed[0].begin == lines[1].begin
    path.write_text('{"t": 1}\n{"t": 1, "t": 2}\n', encoding="utf-8")
    with pytest.raises(DataError) as exc:
        read_jsonl(path, error=DataError, hint="fix that line")
    assert one_line(exc).startswith(f"{path}:2: invalid JSON line (key 't' appears twice")
    path.write_text('{"t": "' + "x" * 200 + '"}\n', encoding="utf-8")
    with pytest.raises(FsabenchError, match=r":1: line longer than 100 bytes"):
        list(iter_jsonl(path, max_line_bytes=100))


def test_csv_parsed_on_the_file(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes('\ufeffid,text\r\n1,"two\nlines"\r\n2,"x\u2028y"\r\n'.encode("utf-8"))
    assert read_csv(path) == [(3, {"id": "1", "text": "two\nlines"}), (4, {"id": "2", "text": "x\u2028y"})]
    path.write_text("id,id\n1,2\n", encoding="utf-8")
    with pytest.raises(FsabenchError, match=r"a.csv:1: column 'id' appears twice"):
        read_csv(path)
    path.write_text("id,text\n1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a.csv:2: row has 1 cells, the header 2"):
        list(iter_csv(path, error=DataError))
    path.write_text("", encoding="utf-8")
    with pytest.raises(FsabenchError, match="CSV has no header row"):
        read_csv(path)


def test_yaml_bounded_with_the_callers_error(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\na: 2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a.yaml:2: key 'a' appears twice"):
        read_yaml(path, error=DataError)
    path.write_text("a: !!python/object:os.system 1\n", encoding="utf-8")
    with pytest.raises(SpecError, match="invalid YAML"):
        read_yaml(path, error=SpecError)
    path.write_text("a: [1, 2]\n", encoding="utf-8")
    assert read_yaml(path) == {"a": [1, 2]}


def test_result_files_read_through_the_family(tmp_path, monkeypatch):
    from fsabench import results
    from fsabench.errors import ResultError

    path = tmp_path / "r.json"
    with pytest.raises(ResultError, match=r"r.json: result file not found \(fix: check the path\)"):
        results.load_result(path)
    with pytest.raises(ResultError, match="is a folder, not a result file"):
        results.load_result(tmp_path)
    path.write_text('{"schema_version": 1, "schema_version": 1}', encoding="utf-8")
    with pytest.raises(ResultError, match=r"r.json: not valid JSON \(key 'schema_version' appears twice"):
        results.load_result(path)
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", 10)
    with pytest.raises(ResultError, match="larger than a result file may be"):
        results.load_result(path)
