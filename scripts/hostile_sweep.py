"""A hostile sweep (issue 22): hundreds of inputs a hostile or unlucky user could give, across every surface
that reads user input, each classified the way the issue's table counts them.

    clean           the input was accepted and the result checks out, or refused with one FsabenchError line
    silent wrong    accepted but the result is wrong (a case says what it expects), or a refusal of a valid input
    internal error  any other exception (a traceback for the user)
    DoS             over the time budget (SIGALRM) or out of memory (the process runs under an address-space cap)
    data loss       a refused write changed what was stored before (checked by the cases that write)

Every input is built here; nothing is read from the network. Run it from the repository root:

    OMP_NUM_THREADS=1 FSABENCH_DATA_DIR=/path/to/data PYTHONPATH=$PWD python scripts/hostile_sweep.py [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import io
import json
import logging
import math
import os
import resource
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIME_BUDGET_S = 20
MEMORY_CAP = 4 * 2**30
COLUMNS = ("tried", "clean", "silent wrong", "internal error", "DoS", "data loss")


@dataclass
class Case:
    surface: str
    name: str
    run: Callable[[], Any]
    expect: str = "either"  # refuse | accept | either
    check: Callable[[Any], bool] | None = None  # for accepted results: True when right
    lost: Callable[[], bool] | None = None  # True when stored data changed (run after the case)


@dataclass
class Sweep:
    cases: list[Case] = field(default_factory=list)
    servers: list = field(default_factory=list)

    def add(self, surface: str, name: str, run, expect: str = "either", check=None, lost=None) -> None:
        self.cases.append(Case(surface, name, run, expect, check, lost))


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def classify(case: Case) -> tuple[str, str]:
    from fsabench.errors import FsabenchError

    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_BUDGET_S)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            result = case.run()
        outcome, detail = "accepted", ""
    except Timeout:
        return "DoS", f"over {TIME_BUDGET_S} s"
    except MemoryError:
        return "DoS", "out of memory"
    except FsabenchError as exc:
        outcome, detail, result = ("refused", str(exc), None)
        if "\n" in str(exc):
            return "internal error", "multi-line error: " + str(exc)[:100]
    except RecursionError:
        return "internal error", "RecursionError"
    except Exception as exc:  # noqa: BLE001 - what the sweep counts
        return "internal error", f"{type(exc).__name__}: {str(exc)[:120]}"
    finally:
        signal.alarm(0)
    if case.lost is not None and case.lost():
        return "data loss", detail[:120]
    if time.perf_counter() - start > TIME_BUDGET_S:
        return "DoS", "slow"
    if outcome == "refused":
        return ("silent wrong", "refused a valid input: " + detail[:100]) if case.expect == "accept" else ("clean", detail[:120])
    if case.expect == "refuse":
        return "silent wrong", f"accepted: {str(result)[:100]}"
    if case.check is not None and not case.check(result):
        return "silent wrong", f"wrong result: {str(result)[:100]}"
    return "clean", "accepted"


# --- surfaces ---------------------------------------------------------------------------------
def data_files(sweep: Sweep, tmp: Path) -> None:
    from fsabench.data.loaders import load_records

    def case(name, fmt, content: bytes, expect="either", check=None):
        path = tmp / f"data-{len(sweep.cases)}.{fmt}"
        path.write_bytes(content)
        sweep.add(f"data files ({fmt})", name, lambda: load_records(path, fmt, ("aspect", "polarity")), expect, check)

    rows = [{"id": 1, "text": "Good food."}, {"id": 2, "text": "Bad service."}]
    jsonl = "".join(json.dumps(r) + "\n" for r in rows).encode()
    for sep in ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]:
        case(f"jsonl text holding U+{ord(sep):04X}", "jsonl", (json.dumps({"id": 1, "text": f"a{sep}b"}, ensure_ascii=False)
             + "\n").encode(), "accept", lambda r, s=sep: r == [{"id": 1, "text": f"a{s}b"}])
    for name, content, expect in [
        ("jsonl CRLF", jsonl.replace(b"\n", b"\r\n"), "accept"), ("jsonl BOM", b"\xef\xbb\xbf" + jsonl, "accept"),
        ("jsonl no final newline", jsonl.rstrip(), "accept"), ("jsonl blank lines", b"\n\n" + jsonl + b"\n \n", "accept"),
        ("jsonl duplicate key", b'{"id": 1, "id": 2}\n', "refuse"), ("jsonl NaN", b'{"id": NaN}\n', "refuse"),
        ("jsonl Infinity", b'{"id": 1, "x": -Infinity}\n', "refuse"), ("jsonl 1e999", b'{"x": 1e999}\n', "refuse"),
        ("jsonl 5000-digit int", b'{"id": ' + b"9" * 5000 + b"}\n", "refuse"),
        ("jsonl 200-digit negative int", b'{"id": -' + b"9" * 200 + b"}\n", "refuse"),
        ("jsonl deep nesting", b'{"x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n", "refuse"),
        ("jsonl array record", b"[1, 2]\n", "refuse"), ("jsonl string record", b'"x"\n', "refuse"),
        ("jsonl latin-1 bytes", b'{"text": "caf\xe9"}\n', "refuse"), ("jsonl old-Mac CR line ends (not JSON Lines)", b'{"id": 1}\r{"id": 2}\r', "either"),
        ("jsonl NUL byte", b'{"id": 1}\x00\n', "refuse"), ("jsonl truncated", b'{"id": 1, "text": "ab', "refuse"),
        ("jsonl escaped lone surrogate", b'{"id": 1, "text": "\\ud800"}\n', "either"),
        ("jsonl empty file", b"", "either"), ("jsonl only whitespace", b"  \n\t\n", "either"),
    ]:
        case(name, "jsonl", content, expect, (lambda r: len(r) == 2) if expect == "accept" else None)
    for name, content, expect, check in [
        ("json array", json.dumps(rows).encode(), "accept", lambda r: r == rows),
        ("json object not array", b'{"id": 1}', "refuse", None), ("json BOM + CRLF", b"\xef\xbb\xbf" + json.dumps(rows, indent=1).replace("\n", "\r\n").encode(), "accept", lambda r: r == rows),
        ("json duplicate key in record", b'[{"text": "a", "text": "b"}]', "refuse", None),
        ("json trailing comma", b'[{"id": 1},]', "refuse", None), ("json two documents", b"[] []", "refuse", None),
        ("json 10^6 empty objects", b"[" + b",".join([b"{}"] * 1_000_000) + b"]", "either", None),
        ("json record is null", b"[null]", "refuse", None), ("json comments", b"[ // x\n {}]", "refuse", None),
        ("json single quotes", b"[{'id': 1}]", "refuse", None), ("json U+2028 raw in string", json.dumps([{"t": "a\u2028b"}], ensure_ascii=False).encode(), "accept", lambda r: r == [{"t": "a\u2028b"}]),
    ]:
        case(name, "json", content, expect, check)
    for name, content, expect, check in [
        ("csv quoted newline", b'id,text\n1,"a\nb"\n', "accept", lambda r: r == [{"id": "1", "text": "a\nb"}]),
        ("csv quoted CRLF", b'id,text\r\n1,"a\r\nb"\r\n', "accept", lambda r: r == [{"id": "1", "text": "a\r\nb"}]),
        ("csv quoted comma", b'id,text\n1,"a, b"\n', "accept", lambda r: r[0]["text"] == "a, b"),
        ("csv escaped quote", b'id,text\n1,"say ""hi"""\n', "accept", lambda r: r[0]["text"] == 'say "hi"'),
        ("csv short row", b"id,text\n1\n", "refuse", None), ("csv long row", b"id,text\n1,a,b\n", "refuse", None),
        ("csv duplicate column", b"id,id\n1,2\n", "refuse", None), ("csv empty file", b"", "refuse", None),
        ("csv header only", b"id,text\n", "either", None), ("csv BOM", b"\xef\xbb\xbfid,text\n1,a\n", "accept", lambda r: list(r[0]) == ["id", "text"]),
        ("csv U+2028 in cell", 'id,text\n1,a\u2028b\n'.encode(), "accept", lambda r: r[0]["text"] == "a\u2028b"),
        ("csv NUL byte", b"id,text\n1,a\x00b\n", "either", None), ("csv unterminated quote", b'id,text\n1,"abc\n', "either", None),
        ("csv latin-1", b"id,text\n1,caf\xe9\n", "refuse", None), ("csv blank line between rows", b"id,text\n1,a\n\n2,b\n", "either", None),
    ]:
        case(name, "csv", content, expect, check)
    for name, content, expect in [
        ("tuples ok", b"Good food .####[([0], [1], 'POS')]\n", "either"),
        ("tuples call", b"x####[__import__('os').system('true')]\n", "refuse"),
        ("tuples huge exponent", b"x####[(9**9**9, 1)]\n", "refuse"), ("tuples no separator", b"just text\n", "refuse"),
        ("tuples deep list", b"x####" + b"[" * 5000 + b"]" * 5000 + b"\n", "refuse"),
        ("tuples long line", b"x####[" + b"('a','POS')," * 20_000 + b"]\n", "refuse"),
        ("tuples wrong arity", b"x####[('a','b','POS')]\n", "refuse"), ("tuples negative index", b"x####[([-1],'POS')]\n", "refuse"),
        ("tuples U+2028 in sentence", "a\u2028b####[('a','POS')]\n".encode(), "either"),
        ("tuples set literal", b"x####{('a','POS')}\n", "refuse"), ("tuples bytes literal", b"x####[(b'a','POS')]\n", "refuse"),
    ]:
        case(name, "tuple_lines", content, expect)


def predictions(sweep: Sweep, tmp: Path) -> None:
    from fsabench.external import read_predictions, score_predictions

    def case(name, content: bytes, expect="either", check=None, score=False):
        path = tmp / f"pred-{len(sweep.cases)}.jsonl"
        path.write_bytes(content)
        run = (lambda: score_predictions("sc-sst2", path)) if score else (lambda: read_predictions(path))
        sweep.add("predictions", name, run, expect, check)

    for name, line, expect in [
        ("ok", '{"id": "1", "output": "positive"}', "accept"), ("int id", '{"id": 1, "output": "x"}', "accept"),
        ("float id", '{"id": 1.0, "output": "x"}', "refuse"), ("bool id", '{"id": true, "output": "x"}', "refuse"),
        ("null output", '{"id": 1, "output": null}', "refuse"), ("list output", '{"id": 1, "output": ["x"]}', "refuse"),
        ("missing output", '{"id": 1}', "refuse"), ("extra keys", '{"id": 1, "output": "x", "score": 5}', "either"),
        ("5000-digit id", '{"id": ' + "7" * 5000 + ', "output": "x"}', "refuse"),
        ("NaN", '{"id": 1, "output": "x", "p": NaN}', "refuse"), ("dup key", '{"id": 1, "id": 2, "output": "x"}', "refuse"),
        ("U+2028 output", json.dumps({"id": 1, "output": "a\u2028b"}, ensure_ascii=False), "accept"),
        ("U+0085 output", json.dumps({"id": 1, "output": "a\u0085b"}, ensure_ascii=False), "accept"),
        ("array line", "[1, 2]", "refuse"), ("deep", '{"id": 1, "output": "x", "d": ' + "[" * 30000 + "]" * 30000 + "}", "refuse"),
    ]:
        case(name, (line + "\n").encode(), expect, (lambda r: len(r) == 1) if expect == "accept" else None)
    case("duplicate id", b'{"id": 1, "output": "a"}\n{"id": "1", "output": "b"}\n', "refuse")
    case("latin-1", b'{"id": 1, "output": "caf\xe9"}\n', "refuse")
    case("empty file", b"", "either")
    from fsabench.examples import load_split
    from fsabench.settings import data_dir
    from fsabench.tasks.registry import build_registry

    ids = [e.id for e in load_split(build_registry().spec("sc-sst2"), data_dir()).examples]
    full = "".join(json.dumps({"id": i, "output": "positive"}) + "\n" for i in ids)
    case("score full", full.encode(), "accept", lambda r: r.scores["all"].n == len(ids), score=True)
    case("score one missing", full.split("\n", 1)[1].encode(), "refuse", score=True)
    case("score unknown id", (full + '{"id": "nope", "output": "x"}\n').encode(), "refuse", score=True)
    case("score lone surrogate", full.replace('"positive"', '"\\ud800"', 1).encode(), "refuse", score=True)
    case("score U+2028 in output", full.replace('"positive"', '"posi\u2028tive"', 1).encode(), "accept",
         lambda r: r.scores["all"].n == len(ids), score=True)


def run_results(sweep: Sweep, tmp: Path, result) -> None:
    from fsabench.results import load_result

    base = result.model_dump(mode="json")

    def case(name, mutate, expect="refuse", raw: bytes | None = None):
        data = copy.deepcopy(base)
        path = tmp / f"result-{len(sweep.cases)}.json"
        if raw is None:
            mutate(data)
            path.write_text(json.dumps(data, allow_nan=True))
        else:
            path.write_bytes(raw)
        sweep.add("RunResult files", name, lambda: load_result(path), expect)

    def setter(*keys, value):
        def mutate(d):
            for k in keys[:-1]:
                d = d[k]
            d[keys[-1]] = value
        return mutate

    case("unchanged", lambda d: None, "accept")
    for field_ in ("prompt_tokens", "completion_tokens", "requests", "cached", "failed"):
        case(f"usage.{field_} negative", setter("usage", field_, value=-1))
        case(f"usage.{field_} string", setter("usage", field_, value="5"), "either")
    for value in (-0.5, float("nan"), float("inf")):
        case(f"usage.cost_usd {value}", setter("usage", "cost_usd", value=value))
    case("record prompt_tokens negative", lambda d: d["examples"][0].update(prompt_tokens=-3))
    case("record cost NaN", lambda d: d["examples"][0].update(cost_usd=float("nan")))
    case("schema_version 99", setter("schema_version", value=99), "either")
    case("extra top key", setter("surprise", value=1))
    case("missing examples", lambda d: d.pop("examples"))
    case("examples not a list", setter("examples", value={}))
    case("scores.all.n wrong", lambda d: d["scores"]["all"].update(n=d["scores"]["all"]["n"] + 1), "either")
    case("seed 30 digits", setter("seed", value=10**30), "either")
    case("task.name int", setter("task", "name", value=5))
    case("model.name null", setter("model", "name", value=None))
    case("dup key", None, raw=json.dumps(base).replace('"seed":', '"seed": 1, "seed":', 1).encode())
    case("truncated", None, raw=json.dumps(base).encode()[:200])
    case("not UTF-8", None, raw=b"\xff\xfe" + json.dumps(base).encode())
    case("deep nesting", None, raw=b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    case("empty", None, raw=b"")
    case("a list", None, raw=b"[]")
    case("output lone surrogate escape", lambda d: d["examples"][0].update(output="\ud800"), "either")
    case("timing.seconds NaN", setter("timing", "seconds", value=float("nan")), "either")


def bundles(sweep: Sweep, verifier, good: dict, board) -> None:
    from fsabench.leaderboard.submission import entry_slug, parse_bundle

    limits = board.spec.limits

    def raw_case(name, raw: bytes, expect="refuse"):
        sweep.add("leaderboard bundles", name, lambda: parse_bundle(raw, "b.json", limits), expect)

    def case(name, mutate, expect="refuse", check=None):
        data = copy.deepcopy(good)
        mutate(data)
        raw = json.dumps(data, allow_nan=True).encode()
        sweep.add("leaderboard bundles", name, lambda: verifier.verify_bytes(raw, "b.json"), expect, check)

    head = json.dumps({k: good[k] for k in good if k != "runs"})[:-1]
    for n, piece in [(2_000_000, "{}"), (2_000_000, "[]"), (2_000_000, "0"), (1_500_000, '""'), (1_000_000, "null")]:
        raw_case(f"runs of {n:,} x {piece}", gzip.compress((head + ', "runs": [' + ",".join([piece] * n) + "]}").encode(), 6))
    raw_case("examples of 2M empty objects", gzip.compress((head + ', "runs": [{"examples": [' + ",".join(["{}"] * 2_000_000)
                                                            + "]}]}").encode(), 6))
    raw_case("deep nesting", (head + ', "runs": ' + "[" * 200_000 + "]" * 200_000 + "}").encode())
    raw_case("strings bomb", (head + ', "runs": ["' + '","'.join(["a"] * 3_000_000) + '"]}').encode())
    raw_case("gzip of gzip", gzip.compress(gzip.compress(json.dumps(good).encode())))
    raw_case("gzip truncated", gzip.compress(json.dumps(good).encode())[:-10])
    raw_case("two gzip members", gzip.compress(b"{}") + gzip.compress(b"{}"))
    raw_case("UTF-16", json.dumps(good).encode("utf-16"))
    raw_case("BOM", b"\xef\xbb\xbf" + json.dumps(good).encode(), "either")
    raw_case("dup kind key", json.dumps(good).replace('"leaderboard":', '"leaderboard": "x", "leaderboard":', 1).encode())
    raw_case("100-digit seed", json.dumps(good).replace('"seed": ', '"seed": ' + "9" * 150 + ', "x": ', 1).encode())
    for name, lookalike in [("Cyrillic e", "Lеxicon baseline"), ("Greek omicron", "Lexicοn baseline"),
                            ("fullwidth", "Ｌｅｘｉｃｏｎ baseline"), ("Cyrillic a", "Lexicon bаseline"),
                            ("mixed case + spaces", "LEXICON   baseline"), ("script l", "ℓexicon baseline")]:
        case(f"look-alike name ({name})", lambda d, n=lookalike: d["entry"].update(name=n), "either",
             lambda v: v.slug == entry_slug(good["entry"]["name"]))
    for link in ["https://huggingface.co@evil.example/x", "https://u:p@example.org/", "javascript:alert(1)", "https:///x",
                 "http://example.org:99999/", "https://example.org/\u202egnp.exe", "ftp://example.org/", "https://exa mple.org"]:
        case(f"link {link[:30]}", lambda d, l=link: d["entry"].update(link=l))
    for name, mutate in [
        ("name with RLO", lambda d: d["entry"].update(name="Lexicon\u202e baseline")),
        ("name with ZWJ", lambda d: d["entry"].update(name="Lexi\u200dcon")), ("name markup", lambda d: d["entry"].update(name="<b>x</b>")),
        ("name 500 chars", lambda d: d["entry"].update(name="x" * 500)), ("name empty", lambda d: d["entry"].update(name="")),
        ("name leading space", lambda d: d["entry"].update(name=" x")), ("date in 2999", lambda d: d["entry"].update(date="2999-01-01")),
        ("parameters -1", lambda d: d["entry"].update(parameters=-1)), ("parameters 1e30", lambda d: d["entry"].update(parameters=10**30)),
        ("parameters '5'", lambda d: d["entry"].update(parameters="5")), ("category unknown", lambda d: d["entry"].update(category="zzz")),
        ("seed '0'", lambda d: d["runs"][0].update(seed="0")), ("seed -1", lambda d: d["runs"][0].update(seed=-1)),
        ("meta.limit 10.5", lambda d: d["runs"][0]["meta"].update(limit=10.5)), ("num_shots 10000", lambda d: d["runs"][0]["meta"].update(num_shots=10000)),
        ("an example twice", lambda d: d["runs"][0]["examples"].append(d["runs"][0]["examples"][0])),
        ("an example missing", lambda d: d["runs"][0]["examples"].pop()),
        ("output changed", lambda d: d["runs"][0]["examples"][0].update(output="food | positive ; x | negative")),
        ("cost NaN", lambda d: d["runs"][0]["usage"].update(cost_usd=float("nan"))),
        ("cost negative", lambda d: d["runs"][0]["usage"].update(cost_usd=-1)),
        ("tokens negative", lambda d: d["runs"][0]["examples"][0].update(prompt_tokens=-5)),
        ("scores claimed higher", lambda d: d["runs"][0]["scores"]["all"].update(f1=99.0)),
        ("run for another task", lambda d: d["runs"][0]["task"].update(name="sc-sst2")),
        ("complete false", lambda d: d["runs"][0].update(complete=False)),
        ("unknown key in example", lambda d: d["runs"][0]["examples"][0].update(gold="x")),
        ("bundle_version 1", lambda d: d.update(bundle_version=1)), ("no runs", lambda d: d.update(runs=[])),
        ("output with NUL", lambda d: d["runs"][0]["examples"][0].update(output="a\x00b")),
        ("output lone surrogate", lambda d: d["runs"][0]["examples"][0].update(output="\ud800")),
    ]:
        case(name, mutate)


def task_files(sweep: Sweep, tmp: Path) -> None:
    from fsabench.examples import load_split
    from fsabench.tasks.registry import load_spec_file

    data = tmp / "taskdata"
    data.mkdir(exist_ok=True)
    rows = [{"uid": i, "text": f"Great coffee {i}.", "opinions": [{"term": "coffee", "sentiment": "positive", "ow": ["great"]}]}
            for i in range(4)]
    for split in ("train", "test"):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = {"name": "t", "data": {"format": "jsonl", "dir": str(data), "splits": {"train": ["train.jsonl"], "test": ["test.jsonl"]},
                                  "id_field": "uid", "input_field": "text"},
            "gold": {"builder": "atsa_terms", "params": {"aspects_field": "opinions", "term_field": "term", "polarity_field": "sentiment"}},
            "output": {"parser": "pairs", "polarities": ["positive", "neutral", "negative"]}, "metric": "tuple_f1",
            "subsets": {"all": {}}, "prompt": {"template": "Sentence: {{ input }}"}}
    import yaml

    def case(name, mutate, expect="refuse", text: str | None = None, load_data=True):
        spec = copy.deepcopy(base)
        if mutate is not None:
            mutate(spec)
        path = tmp / f"task-{len(sweep.cases)}.yaml"
        path.write_text(text if text is not None else yaml.safe_dump(spec))

        def run():
            from fsabench.tasks.checks import check_task

            loaded = load_spec_file(path)
            check_task(loaded, str(path))
            return load_split(loaded, data) if load_data else loaded
        sweep.add("task YAML", name, run, expect)

    case("ok", None, "accept")
    for name, value in [("yes", True), ("'50'", "50"), ("50.0", 50.0), ("0", 0), ("-1", -1), ("10**9", 10**9)]:
        case(f"max_new_tokens {name}", lambda s, v=value: s.update(max_new_tokens=v))
    case("version true", lambda s: s.update(version=True))
    case("version '2'", lambda s: s.update(version="2"))
    for name, rule in [("any_aspect_empty typo", {"any_aspect_empty": "owz", "aspects_field": "opinions"}),
                       ("min_distinct field typo", {"min_distinct": {"field": "sentimnt", "count": 2}, "aspects_field": "opinions"}),
                       ("min_distinct count 0", {"min_distinct": {"field": "sentiment", "count": 0}, "aspects_field": "opinions"}),
                       ("min_distinct count '2'", {"min_distinct": {"field": "sentiment", "count": "2"}, "aspects_field": "opinions"}),
                       ("min_distinct count -5", {"min_distinct": {"field": "sentiment", "count": -5}, "aspects_field": "opinions"}),
                       ("field_equals typo", {"field_equals": {"knd": "x"}}),
                       ("any_aspect_is typo", {"any_aspect_is": {"trm": "coffee"}, "aspects_field": "opinions"}),
                       ("aspects_field typo", {"any_aspect_empty": "ow", "aspects_field": "opinionz"}),
                       ("file not in splits", {"file": "other.jsonl"}), ("unknown filter key", {"regex": ".*"})]:
        case(f"subset {name}", lambda s, r=rule: s["subsets"].update(odd=r))
    for name, tpl in [("join of input", "{{ input|join(input) }}"), ("join chain", "{{ input|join('x')|join('y') }}"),
                      ("six loops over input", "".join("{%% for c%d in input %%}" % i for i in range(6)) + "x" + "{% endfor %}" * 6),
                      ("nested shots loops", "{% for a in shots %}{% for b in shots %}x{% endfor %}{% endfor %}"),
                      ("range", "{% for i in range(10**9) %}x{% endfor %}"), ("multiply", "{{ input * 10**8 }}"),
                      ("center", "{{ input|center(10**9) }}"), ("dunder", "{{ input.__class__.__mro__ }}"),
                      ("call", "{{ lipsum(10**6) }}"), ("unknown var", "{{ config }}"), ("cycler", "{{ cycler }}"),
                      ("format filter", "{{ '%s'|format(input) }}"), ("replace filter", "{{ input|replace('a', input) }}"),
                      ("wordwrap", "{{ input|wordwrap(1) }}"), ("default of var", "{{ input|default(target) }}"),
                      ("truncate star", "{{ input|truncate(*shots) }}"), ("set statement", "{% set x = input %}{{ x }}"),
                      ("macro", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"), ("include", "{% include 'x' %}"),
                      ("import", "{% import 'x' as y %}"), ("raw huge", "x" * 30000), ("syntax error", "{{ input "),
                      ("join ok", "{{ input|join('-') }}")]:
        case(f"template {name}", lambda s, t=tpl: s["prompt"].update(template=t), "accept" if name == "join ok" else "refuse",
             load_data=False)
    case("alias bomb", None, text="a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
         "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n")
    case("python tag", None, text="name: !!python/object/apply:os.system ['true']\n")
    case("duplicate key", None, text=yaml.safe_dump(base) + "name: other\n")
    case("unknown top key", lambda s: s.update(surprise=1))
    (data / "empty.jsonl").write_text(json.dumps({"uid": 9, "text": "x", "opinions": [{"term": "", "sentiment": "positive"}]}) + "\n")
    case("empty gold term in data", lambda s: s["data"]["splits"].update(test=["empty.jsonl"]))
    case("not a mapping", None, text="- a\n- b\n")
    case("deep YAML", None, text="a: " + "[" * 20000 + "]" * 20000 + "\n")


def endpoint_answers(sweep: Sweep) -> None:
    from fsabench.models.answers import check_completion
    from fsabench.models.engine import Transient
    from fsabench.models.openai_compat import parse_chat_answer

    def parse(raw: bytes):
        try:
            return check_completion(parse_chat_answer(raw))
        except Transient as exc:  # what the engine retries and then records as failed
            from fsabench.models.base import Completion

            return Completion(text=None, error=str(exc))

    def storable(c) -> bool:
        try:
            json.dumps(c.__dict__ | {"extra": None}, allow_nan=False).encode("utf-8")
        except (ValueError, TypeError):
            return False
        return all(v is None or (type(v) is int and v >= 0) for v in (c.prompt_tokens, c.completion_tokens)) and (
            c.cost_usd is None or (math.isfinite(c.cost_usd) and c.cost_usd >= 0))

    def body(content='"ok"', usage="{}", extra=""):
        return f'{{"choices": [{{"message": {{"content": {content}}}}}], "usage": {usage}{extra}}}'.encode()

    cases = [("ok", body()), ("lone high surrogate", body('"\\ud800"')), ("lone low surrogate", body('"ab\\udfff"')),
             ("emoji pair", body('"\\ud83d\\ude00"')), ("content null", body("null")), ("content int", body("5")),
             ("content list", body('[{"type": "text", "text": "x"}]')), ("content object", body("{}")),
             ("NaN usage", body(usage='{"prompt_tokens": NaN}')), ("negative usage", body(usage='{"prompt_tokens": -1}')),
             ("huge usage", body(usage='{"prompt_tokens": 1e30}')), ("float usage", body(usage='{"prompt_tokens": 1.5}')),
             ("string usage", body(usage='{"completion_tokens": "7"}')), ("bool usage", body(usage='{"prompt_tokens": true}')),
             ("usage list", body(usage="[1]")), ("usage null", body(usage="null")), ("100-digit usage", body(usage='{"prompt_tokens": ' + "9" * 120 + "}")),
             ("deep nesting", b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), ("empty body", b""),
             ("not JSON", b"<html>502</html>"), ("no choices", b'{"id": 1}'), ("choices empty", b'{"choices": []}'),
             ("choices not list", b'{"choices": {"0": 1}}'), ("message missing", b'{"choices": [{}]}'),
             ("dup key", b'{"choices": [{"message": {"content": "a", "content": "b"}}]}'),
             ("latin-1 body", b'{"choices": [{"message": {"content": "caf\xe9"}}]}'), ("BOM", b"\xef\xbb\xbf" + body()),
             ("1 MB content", body(json.dumps("x" * 1_000_000))), ("2 MB content", body(json.dumps("x" * 2_000_000))),
             ("NUL in content", body('"a\\u0000b"')), ("top-level list", b"[]"), ("Infinity cost", body(extra=', "cost": Infinity')),
             ("10^5 values", b'{"choices": [{"message": {"content": "ok"}}], "x": [' + b",".join([b"0"] * 200_000) + b"]}"),
             ("two documents", body() + body()), ("trailing garbage", body() + b"xx")]
    for name, raw in cases:
        sweep.add("endpoint answers", name, lambda r=raw: parse(r), "accept", storable)


def adapters(sweep: Sweep, spec, data) -> None:
    from fsabench.models.base import Completion
    from fsabench.runner import RunOptions, run_task

    class Scripted:
        prompt_style = "chat"

        def __init__(self, answers, name="test:hostile"):
            self.name, self.answers = name, answers

        def identity(self):
            return {"n": self.name}

        def settings(self):
            return {}

        def generate(self, requests):
            if isinstance(self.answers, BaseException):
                raise self.answers
            return self.answers(requests)

    def ok(result) -> bool:
        return result.complete and len(result.examples) == 4 and result.usage.cost_usd >= 0 and math.isfinite(result.usage.cost_usd)

    for name, answers in [
        ("raises RuntimeError", RuntimeError("boom")), ("raises KeyError", KeyError("x")), ("raises ValueError", ValueError("v")),
        ("returns None", lambda r: None), ("too few", lambda r: [Completion(text="positive")] * (len(r) - 1)),
        ("too many", lambda r: [Completion(text="positive")] * (len(r) + 3)), ("strings", lambda r: ["positive"] * len(r)),
        ("text None no error", lambda r: [Completion(text=None)] * len(r)), ("surrogate text", lambda r: [Completion(text="\ud800")] * len(r)),
        ("NaN cost", lambda r: [Completion(text="positive", cost_usd=float("nan"))] * len(r)),
        ("negative tokens", lambda r: [Completion(text="positive", prompt_tokens=-9)] * len(r)),
        ("huge cost", lambda r: [Completion(text="positive", cost_usd=1e300)] * len(r)),
        ("bytes text", lambda r: [Completion(text=b"positive")] * len(r)),
        ("generator", lambda r: (Completion(text="positive") for _ in r)),
        ("error with surrogate", lambda r: [Completion(text=None, error="bad \udc80")] * len(r)),
    ]:
        sweep.add("adapters (run)", name, lambda a=answers: run_task(spec, Scripted(a), data, RunOptions(limit=4)), "accept", ok)


def human(sweep: Sweep, tmp: Path) -> None:
    import shutil
    import sqlite3

    from fsabench.human.interchange import import_label_studio, label_studio_tasks
    from fsabench.human.report import load_stats
    from fsabench.human.store import store_of
    from fsabench.human.study import create_study, open_study
    from fsabench.settings import data_dir

    teacher = data_dir() / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"
    base = create_study(tmp / "study-base", [teacher], "analysis", 4, 2, ["ana", "ben"], 3)

    def fresh(n: int):
        folder = tmp / f"study-{n}"
        shutil.copytree(base.folder, folder)
        return folder

    def study_case(name, change, expect="refuse"):
        folder = fresh(len(sweep.cases))
        path = folder / "study.json"
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
        sweep.add("human study files", name, lambda: open_study(folder), expect)

    study_case("unchanged", lambda d: None, "accept")
    study_case("score edited", lambda d: d["rubric"]["dimensions"][0]["scale"][0].update(score=42))
    study_case("anchor edited", lambda d: d["rubric"]["dimensions"][0]["scale"][0].update(anchor="x"))
    study_case("item analysis edited", lambda d: d["items"][0].update(analysis="x"))
    study_case("item review edited", lambda d: d["items"][0].update(review="x"))
    study_case("target added", lambda d: d["items"][0]["targets"].append("x"))
    study_case("item removed", lambda d: d["items"].pop())
    study_case("assignment edited", lambda d: d["assignment"].update(ana=[]))
    study_case("seed string", lambda d: d.update(seed="3"))
    study_case("per_item float", lambda d: d.update(per_item=2.5))
    study_case("items not a list", lambda d: d.update(items={}))
    study_case("rubric dropped", lambda d: d.pop("rubric"))

    def key_case(name, change):
        folder = fresh(len(sweep.cases))
        path = folder / "key.json"
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
        sweep.add("human study files", name, lambda: open_study(folder), "refuse")

    key_case("key model swapped", lambda d: next(iter(d["items"].values())).update(model="other"))
    key_case("key emptied", lambda d: d.update(items={}))

    def answers_case(name, row, expect="refuse"):
        folder = fresh(len(sweep.cases))
        study = open_study(folder)
        store_of(study).close()
        db = sqlite3.connect(folder / "answers.sqlite")
        db.execute("INSERT INTO answers VALUES (?,?,?,?,?,?)", row(next(iter(study.items))))
        db.commit()
        db.close()
        sweep.add("human study files", name, lambda: store_of(open_study(folder)).rows(), expect)

    answers_case("answer row values int", lambda i: ("ana", i, "human", "done", '{"values": 5}', 0.0))
    answers_case("answer row not JSON", lambda i: ("ana", i, "human", "done", "{", 0.0))
    answers_case("answer row kind", lambda i: ("ana", i, "robot", "done", "{}", 0.0))
    answers_case("answer row status", lambda i: ("ana", i, "human", "finished", "{}", 0.0))

    def export_of(study, who=({"email": "ana@lab.org"},), extra=()):
        out = []
        for n, task in enumerate(label_studio_tasks(study)):
            data = task["data"]
            result = [{"from_name": "reasoning", "type": "choices", "value": {"choices": ["4"]}},
                      {"from_name": "persuasiveness", "type": "choices", "value": {"choices": ["3"]}},
                      {"from_name": "hallucination", "type": "choices", "value": {"choices": ["none"]}}]
            result += [{"from_name": f"accuracy_{t}", "type": "choices", "value": {"choices": ["right"]}}
                       for t in range(1, 40) if data.get(f"target_{t}")]
            result += [dict(r) for r in extra]
            out.append({"id": n, "data": data, "annotations": [{"completed_by": w, "result": copy.deepcopy(result)} for w in who]})
        return out

    def ls_case(name, make, expect="refuse", check=None):
        folder = fresh(len(sweep.cases))
        study = open_study(folder)
        with contextlib.closing(store_of(study)) as store:  # a stored answer that a refused import must keep
            store.save("ls:keep", next(iter(study.items)), "human", "open", {"values": {}, "spans": {}})
        path = folder / "export.json"
        content = make(study)
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())

        refused = []

        def run():
            try:
                return import_label_studio(open_study(folder), path)
            except Exception:
                refused.append(True)
                raise

        def lost() -> bool:  # the answer stored before is gone, or a refused import stored part of itself
            rows = store_of(open_study(folder)).rows()
            return not any(r.annotator == "ls:keep" for r in rows) or (bool(refused) and len(rows) != 1)
        sweep.add("Label Studio import", name, run, expect, check, lost)

    ls_case("ok", export_of, "accept", lambda c: c["answers"] == 4)
    for slot in ("0", "01", "-1", "99", "1.0", "x"):
        ls_case(f"accuracy_{slot}", lambda s, sl=slot: export_of(s, extra=[{"from_name": f"accuracy_{sl}", "type": "choices",
                                                                           "value": {"choices": ["wrong"]}}]))
    ls_case("two long emails", lambda s: export_of(s, who=({"email": "a" * 80 + "1"}, {"email": "a" * 80 + "2"})), "accept",
            lambda c: c["answers"] == 8)
    ls_case("last task refused", lambda s: (lambda e: (e[-1]["annotations"][0]["result"][0].update(value={"choices": ["zzz"]}), e)[1])(export_of(s)))
    ls_case("two choices", lambda s: (lambda e: (e[0]["annotations"][0]["result"][0]["value"].update(choices=["4", "5"]), e)[1])(export_of(s)))
    ls_case("annotations not list", lambda s: (lambda e: (e[0].update(annotations=5), e)[1])(export_of(s)))
    ls_case("result dict", lambda s: (lambda e: (e[0]["annotations"][0].update(result={}), e)[1])(export_of(s)))
    ls_case("value list", lambda s: (lambda e: (e[0]["annotations"][0]["result"][0].update(value=[1]), e)[1])(export_of(s)))
    ls_case("no completed_by", lambda s: (lambda e: (e[0]["annotations"][0].pop("completed_by"), e)[1])(export_of(s)))
    ls_case("same person twice", lambda s: (lambda e: (e[0]["annotations"].append(e[0]["annotations"][0]), e)[1])(export_of(s)))
    ls_case("item unknown", lambda s: (lambda e: (e[0]["data"].update(item="nope"), e)[1])(export_of(s)))
    ls_case("data not object", lambda s: (lambda e: (e[0].update(data=[1]), e)[1])(export_of(s)))
    ls_case("not a list", lambda s: {"tasks": []})
    ls_case("NaN", lambda s: b'[{"data": {"item": NaN}}]')
    ls_case("deep", lambda s: b"[" * 50_000 + b"]" * 50_000)
    ls_case("span floats", lambda s: export_of(s, extra=[{"from_name": "hallucination_span", "type": "labels",
                                                         "value": {"start": 0.5, "end": 3}}]))
    ls_case("span outside", lambda s: export_of(s, extra=[{"from_name": "hallucination_span", "type": "labels",
                                                          "value": {"start": 0, "end": 10**9}}]))
    ls_case("dup key", lambda s: json.dumps(export_of(s)).replace('"data":', '"data": {}, "data":', 1).encode())

    stats_base = {"study": "s", "items": 4, "humans": ["a", "b"], "bootstrap": {"resamples": 10, "method": "p"},
                  "rubric": {"dimensions": [{"name": "d", "title": "D", "min": 1, "max": 5}]},
                  "models": [{"model": "m", "dimension": "d", "statistic": "mean", "n_items": 4, "value": 3.0, "ci_low": 2.5, "ci_high": 3.5}],
                  "agreement": [{"dimension": "d", "alpha": 0.5}], "judges_vs_humans": []}

    def stats_case(name, change=None, raw: bytes | None = None, expect="refuse"):
        data = copy.deepcopy(stats_base)
        if change:
            change(data)
        path = tmp / f"stats-{len(sweep.cases)}.json"
        path.write_bytes(raw if raw is not None else json.dumps(data).encode())
        sweep.add("human stats files", name, lambda: load_stats(path), expect)

    stats_case("ok", expect="accept")
    stats_case("value Infinity", raw=json.dumps(stats_base).replace('"value": 3.0', '"value": Infinity').encode())
    stats_case("value NaN", raw=json.dumps(stats_base).replace('"value": 3.0', '"value": NaN').encode())
    stats_case("reversed interval", lambda d: d["models"][0].update(ci_low=3.5, ci_high=2.5))
    stats_case("value string", lambda d: d["models"][0].update(value="3.0"))
    stats_case("alpha 2.5", lambda d: d["agreement"][0].update(alpha=2.5))
    stats_case("mean off scale", lambda d: d["models"][0].update(value=9.0, ci_low=8.0, ci_high=9.5))
    stats_case("rate 1.5", lambda d: d["models"][0].update(statistic="rate", value=1.5, ci_low=1.0, ci_high=2.0))
    stats_case("n_items -1", lambda d: d["models"][0].update(n_items=-1))
    stats_case("kappa 3", lambda d: d["judges_vs_humans"].append({"judge": "j", "dimension": "d", "kappa_mean": 3}))
    stats_case("only one CI bound", lambda d: d["models"][0].update(ci_high=None))
    stats_case("min == max", lambda d: d["rubric"]["dimensions"][0].update(max=1))
    stats_case("models not list", lambda d: d.update(models={}))
    stats_case("empty", raw=b"")
    stats_case("deep", raw=b"[" * 100_000 + b"]" * 100_000)


def labels(sweep: Sweep, tmp: Path) -> None:
    from fsabench.report.labels import Labels, display_names, load_labels, parse_label_options

    models = ["baseline:lexicon", "baseline:empty", "hf:/a/b/student", "hf:/c/b/student"]

    def unique(names) -> bool:
        return len(set(names.values())) == len(names)

    def case(name, make, expect="either"):
        sweep.add("labels", name, lambda: display_names(models, make()), expect, unique)

    case("none", lambda: None, "accept")
    case("same --label twice", lambda: parse_label_options(["baseline:lexicon=X", "baseline:empty=X"]), "refuse")
    case("same label other case", lambda: parse_label_options(["baseline:lexicon=Ours", "baseline:empty=ours"]), "refuse")
    case("labels cut to 60 equal", lambda: parse_label_options([f"baseline:lexicon={'y' * 70}1", f"baseline:empty={'y' * 70}2"]), "refuse")
    case("label equals a default", lambda: Labels({"baseline:lexicon": "baseline:empty"}), "accept")
    case("label with newline", lambda: parse_label_options(["baseline:lexicon=a\nb"]), "accept")
    case("empty label", lambda: parse_label_options(["baseline:lexicon="]), "refuse")
    for name, text in [("ok", '"baseline:lexicon": Lexicon\n'), ("bad color", '"baseline:lexicon": {name: L, color: red}\n'),
                       ("unknown key", '"baseline:lexicon": {nom: L}\n'), ("list", "- a\n"), ("alias bomb",
                       "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"),
                       ("two models one name", '"baseline:lexicon": X\n"baseline:empty": X\n'), ("name is list", '"baseline:lexicon": [a]\n')]:
        path = tmp / f"labels-{len(sweep.cases)}.yaml"
        path.write_text(text)
        sweep.add("labels", f"labels.yaml {name}", lambda p=path: display_names(models, load_labels(p)),
                  "accept" if name == "ok" else "refuse", unique)


def python_api(sweep: Sweep, tmp: Path) -> None:
    import fsabench
    from fsabench.api import build_report as report

    for name, call in [
        ("evaluate output_dir=5", lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, output_dir=5)),
        ("evaluate data_dir=5", lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, data_dir=5)),
        ("evaluate tasks_dir='/nonexistent'", lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, tasks_dir="/nonexistent")),
        ("evaluate tasks=None", lambda: fsabench.evaluate("baseline:empty", None)), ("evaluate model=None", lambda: fsabench.evaluate(None, "sc-sst2")),
        ("evaluate limit='5'", lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit="5")),
        ("evaluate limit=-1", lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=-1)),
        ("evaluate seed=10**30", lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, seed=10**30)),
        ("evaluate max_cost=nan", lambda: fsabench.evaluate("baseline:empty", "sc-sst2", limit=2, max_cost=float("nan"))),
        ("score(None, {})", lambda: fsabench.score(None, {})), ("score preds None", lambda: fsabench.score("sc-sst2", None)),
        ("task(None)", lambda: fsabench.task(None)), ("task(5)", lambda: fsabench.task(5)),
        ("tasks(tasks_dir='/x')", lambda: fsabench.tasks(tasks_dir="/x")), ("list_tasks(tasks_dir='/x')", lambda: fsabench.list_tasks(tasks_dir="/x")),
        ("load_results(None)", lambda: fsabench.load_results(None)), ("load_results([None])", lambda: fsabench.load_results([None])),
        ("report(None, dir)", lambda: report(None, tmp / "r")), ("report([], dir)", lambda: report([], tmp / "r2")),
    ]:
        sweep.add("Python API", name, call, "refuse")


def serve_requests(sweep: Sweep) -> list:
    """Raw HTTP to `fsabench serve` (an in-process adapter behind the real app and protocol guards)."""
    import socket

    from fsabench.errors import FsabenchError
    from fsabench.models.base import Completion
    from fsabench.serve import ModelServer
    from fsabench.web import Limits

    class Echo:
        name, prompt_style = "test:echo", "chat"

        def identity(self):
            return {}

        def settings(self):
            return {}

        def generate(self, requests):
            return [Completion(text="positive", prompt_tokens=1, completion_tokens=1) for _ in requests]

    server = ModelServer(Echo(), "echo", limits=Limits(max_body=64 * 1024, request_timeout=2)).start()

    def exchange(data: bytes) -> bytes:
        host, port = server.thread.sock.getsockname()[:2]
        with socket.create_connection((host, port), timeout=4) as sock:
            sock.sendall(data)
            chunks = []
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except socket.timeout:
                chunks.append(b"<open>")
        return b"".join(chunks)

    def post(body: bytes, extra: bytes = b"Connection: close\r\n") -> bytes:
        return (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra
                + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def status_is(code: bytes, closed: bool = True):
        def run(data):
            answer = exchange(data)
            if not answer.startswith(b"HTTP/1.1 " + code) or (closed and answer.endswith(b"<open>")) or \
                    answer.count(b"HTTP/1.1 ") != 1:
                raise AssertionError(f"got {answer[:120]!r}")
            return answer
        return run

    ok = b'{"prompt": "a", "max_tokens": 3}'
    for name, data, code in [
        ("good request", post(ok), b"200"), ("duplicate max_tokens", post(b'{"prompt": "a", "max_tokens": 3, "max_tokens": 99999}'), b"400"),
        ("duplicate prompt", post(b'{"prompt": "a", "prompt": "b"}'), b"400"), ("NaN temperature", post(b'{"prompt": "a", "temperature": NaN}'), b"400"),
        ("Infinity", post(b'{"prompt": "a", "top_p": Infinity}'), b"400"), ("deep nesting", post(b'{"prompt": ' + b"[" * 5000 + b"]" * 5000 + b"}"), b"400"),
        ("5000-digit int", post(b'{"prompt": "a", "max_tokens": ' + b"9" * 5000 + b"}"), b"400"),
        ("TE + CL", b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                    b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        ("CL + TE order swapped", b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n", b"400"),
        ("two Content-Length", b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", b"400"),
        ("latin-1 body", post(b'{"prompt": "caf\xe9"}'), b"400"), ("body over the limit", post(b'{"prompt": "' + b"a" * 70_000 + b'"}'), b"413"),
    ]:
        sweep.add("serve requests", name, lambda d=data, c=code: status_is(c)(d), "accept")
    return [server]


# --- main ---------------------------------------------------------------------------------------
def build(tmp: Path) -> Sweep:
    from fsabench.examples import load_split  # noqa: F401
    from fsabench.models import load_model
    from fsabench.runner import RunOptions, run_task
    from fsabench.settings import data_dir
    from fsabench.tasks.registry import build_registry

    sweep = Sweep()
    spec = build_registry().spec("sc-sst2")
    result = run_task(spec, load_model("baseline:lexicon"), data_dir(), RunOptions(limit=5))
    data_files(sweep, tmp)
    predictions(sweep, tmp)
    run_results(sweep, tmp, result)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.leaderboard.support import board, good_bundle, verifier
    bundles(sweep, verifier(), good_bundle(), board())
    task_files(sweep, tmp)
    endpoint_answers(sweep)
    adapters(sweep, spec, data_dir())
    human(sweep, tmp)
    labels(sweep, tmp)
    python_api(sweep, tmp)
    sweep.servers = serve_requests(sweep)
    return sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every case and its class here")
    parser.add_argument("--show", default="silent wrong,internal error,DoS,data loss", help="classes to list")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    logging.disable(logging.WARNING)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with tempfile.TemporaryDirectory(prefix="hostile-sweep-") as tmp:
        os.environ["FSABENCH_CACHE_DIR"] = str(Path(tmp) / "cache")
        sweep = build(Path(tmp))
        table: dict[str, Counter] = defaultdict(Counter)
        listed, rows = [], []
        start = time.perf_counter()
        for case in sweep.cases:
            verdict, detail = classify(case)
            table[case.surface]["tried"] += 1
            table[case.surface][verdict] += 1
            rows.append({"surface": case.surface, "case": case.name, "class": verdict, "detail": detail})
            if verdict in args.show.split(","):
                listed.append(f"  {verdict:14s} {case.surface}: {case.name}: {detail}")
        for server in sweep.servers:
            server.shutdown()
    total = Counter()
    width = max(len(s) for s in table) + 2
    print(f"{'surface':{width}s}" + "".join(f"{c:>16s}" for c in COLUMNS))
    for surface, counts in table.items():
        total.update(counts)
        print(f"{surface:{width}s}" + "".join(f"{counts[c]:16d}" for c in COLUMNS))
    print(f"{'total':{width}s}" + "".join(f"{total[c]:16d}" for c in COLUMNS))
    print(f"({time.perf_counter() - start:.0f} s; loadavg {open('/proc/loadavg').read().split()[:3]})")
    if listed:
        print("\n".join(listed))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
