"""Human evaluation, end to end without a browser: a study over the shipped Mixtral analyses, three
scripted annotators saving through the real annotation server (HTTP on loopback, SQLite), and
statistics whose alpha matches Krippendorff's formula computed independently here.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations

import httpx
import pytest

from fsabench.errors import SpecError
from fsabench.human.agreement import cohen_kappa
from fsabench.human.rubric import load_rubric
from fsabench.human.report import load_stats
from fsabench.human.server import build_app
from fsabench.human.study import open_study
from fsabench.human.web import ServerThread
from tests.conftest import DATA_DIR
from tests.conftest import run_cli_in_process as run_cli  # in-process: no test here needs a real process

pytestmark = pytest.mark.slow  # ~15 s: CLI subprocesses, a real server, a report with a chart

TEACHER = DATA_DIR / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"
REASONING = ["1", "2", "3", "4", "5"]


def h(*parts) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def scripted_answer(annotator: str, item: dict) -> dict:
    """ana gives a fixed 'true' answer; ben departs from it on 1 unit in 5, cy on 2 in 5 (by hash),
    so agreement is known to be high but imperfect, and ana > ben > cy in closeness."""
    drift = {"ana": 0, "ben": 1, "cy": 2}[annotator]

    def pick(options, unit):
        true = h(item["id"], unit) % len(options)
        if h(annotator, item["id"], unit) % 5 < drift:
            true = min(true + 1, len(options) - 1) if true < len(options) - 1 else true - 1
        return options[true]

    hallucinated = h(item["id"], "hal") % 4 == 0
    values = {"accuracy": [pick(["wrong", "partly", "right"], f"t{t}") for t in range(len(item["targets"]))],
              "reasoning": pick(REASONING, "reasoning"), "persuasiveness": pick(REASONING, "pers"),
              "hallucination": "minor" if hallucinated else "none"}
    spans = {"hallucination": [{"start": 0, "end": 16}]} if hallucinated else {}
    return {"values": values, "spans": spans}


def krippendorff_ordinal(units: list[list[int]], k: int) -> float:
    """Krippendorff (2011) 'Computing Krippendorff's alpha-reliability', ordinal metric, from the
    coincidence matrix; `units` holds the codes (0..k-1) each unit got from its raters."""
    o = [[0.0] * k for _ in range(k)]
    for codes in units:
        m = len(codes)
        if m < 2:
            continue
        for i, j in ((i, j) for i in range(m) for j in range(m) if i != j):
            o[codes[i]][codes[j]] += 1 / (m - 1)
    n_c = [sum(row) for row in o]
    n = sum(n_c)

    def delta(c, d):
        lo, hi = min(c, d), max(c, d)
        return (sum(n_c[g] for g in range(lo, hi + 1)) - (n_c[c] + n_c[d]) / 2) ** 2

    observed = sum(o[c][d] * delta(c, d) for c in range(k) for d in range(k))
    expected = sum(n_c[c] * n_c[d] * delta(c, d) for c in range(k) for d in range(k))
    return 1 - (n - 1) * observed / expected


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("human") / "pilot"
    res = run_cli("human", "create", folder, "--items", TEACHER, "--rubric", "analysis", "--sample", "40",
                  "--per-item", "3", "--annotators", "ana,ben,cy", "--seed", "11", "--json")
    assert res.returncode == 0, res.stderr
    made = json.loads(res.stdout)
    assert made["items"] == 40 and made["assignment"] == {"ana": 40, "ben": 40, "cy": 40}
    opened = open_study(folder)
    with ServerThread(build_app(opened)) as server:
        tokens = opened.tokens()

        def annotate(name: str) -> int:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                state = client.get(f"/api/{tokens[name]}/state").json()
                for item in state["items"]:
                    r = client.put(f"/api/{tokens[name]}/answers/{item['id']}", json=scripted_answer(name, item))
                    assert r.status_code == 200 and r.json()["status"] == "done", r.text
                return client.get(f"/api/{tokens[name]}/state").json()["progress"]["done"]

        with ThreadPoolExecutor(3) as pool:  # three annotators at once
            assert list(pool.map(annotate, ["ana", "ben", "cy"])) == [40, 40, 40]
    return folder


def test_study_is_blinded_sampled_and_hashed(study):
    opened = open_study(study)
    text = (study / "study.json").read_text()
    assert "mixtral" not in text.lower()  # model names only in key.json
    assert {v["model"] for v in json.loads((study / "key.json").read_text())["items"].values()} == {"teacher:mixtral"}
    orders = [opened.assignment[a] for a in ("ana", "ben", "cy")]
    assert all(sorted(o) == sorted(orders[0]) for o in orders) and orders[0] != orders[1]  # own random order
    assert all(i["analysis"].startswith("Opinion Target") for i in opened.items.values())  # analyses, not rewrites
    # the same seed samples the same items; editing the assignment afterwards is caught
    again = study.parent / "again"
    assert run_cli("human", "create", again, "--items", TEACHER, "--sample", "40", "--per-item", "3",
                   "--annotators", "ana,ben,cy", "--seed", "11").returncode == 0
    assert sorted(open_study(again).items) == sorted(opened.items)
    data = json.loads((again / "study.json").read_text())
    data["assignment"]["ana"].reverse()
    (again / "study.json").write_text(json.dumps(data))
    res = run_cli("human", "stats", again)
    assert res.returncode == 1 and "does not match 'assignment_sha256'" in res.stderr and "Traceback" not in res.stderr


def test_alpha_matches_independent_computation(study):
    res = run_cli("human", "stats", study, "--json", "--bootstrap", "500")
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout)
    assert stats == load_stats(study / "stats.json")
    opened = open_study(study)
    answers = {name: {item["id"]: scripted_answer(name, item) for item in opened.items.values()}
               for name in ("ana", "ben", "cy")}
    agreement = {a["dimension"]: a for a in stats["agreement"]}
    for dim, scale in (("reasoning", REASONING), ("persuasiveness", REASONING)):
        units = [[scale.index(answers[a][i]["values"][dim]) for a in answers] for i in sorted(opened.items)]
        assert agreement[dim]["alpha"] == pytest.approx(krippendorff_ordinal(units, 5), abs=1e-9)
        assert 0.3 < agreement[dim]["alpha"] < 0.95  # known, imperfect agreement
    acc = ["wrong", "partly", "right"]
    units = [[acc.index(answers[a][i]["values"]["accuracy"][t]) for a in answers]
             for i in sorted(opened.items) for t in range(len(opened.items[i]["targets"]))]
    assert agreement["accuracy"]["units"] == len(units)
    assert agreement["accuracy"]["alpha"] == pytest.approx(krippendorff_ordinal(units, 3), abs=1e-9)
    assert agreement["hallucination"]["alpha"] == pytest.approx(1.0)  # everyone marks the same items
    # pairwise kappa: ana-ben closer than ana-cy; the value matches scikit-learn's linear-weighted kappa
    from sklearn.metrics import cohen_kappa_score

    pairs = {(p["a"], p["b"]): p["kappa"] for p in agreement["reasoning"]["kappa_pairs"]}
    assert pairs[("ana", "ben")] > pairs[("ana", "cy")]
    for a, b in combinations(["ana", "ben", "cy"], 2):
        x = [answers[a][i]["values"]["reasoning"] for i in sorted(opened.items)]
        y = [answers[b][i]["values"]["reasoning"] for i in sorted(opened.items)]
        assert pairs[(a, b)] == pytest.approx(cohen_kappa_score(x, y, labels=REASONING, weights="linear"), abs=1e-9)
    # the hallucination rate is the share of items scripted as hallucinated; means carry an interval
    rows = {(r["dimension"], r["statistic"]): r for r in stats["models"]}
    expected = sum(h(i, "hal") % 4 == 0 for i in opened.items) / 40
    assert rows[("hallucination", "rate")]["value"] == pytest.approx(expected)
    mean = rows[("reasoning", "mean")]
    assert mean["n_items"] == 40 and mean["ci_low"] < mean["value"] < mean["ci_high"]
    assert stats["disagreements"] and stats["disagreements"][0]["disagreement"] >= stats["disagreements"][-1]["disagreement"]


def test_kappa_edge_cases():
    assert cohen_kappa([0, 1, 2], [0, 1, 2], 3) == pytest.approx(1.0)
    assert cohen_kappa([1, 1, 1], [1, 1, 1], 3) is None  # no variation: undefined, never 1
    assert cohen_kappa([], [], 3) is None


def test_report_renders_the_human_section(study, report_runs, tmp_path):
    assert run_cli("human", "stats", study, "--bootstrap", "200").returncode == 0
    runs = tmp_path / "runs"
    runs.mkdir()
    for path in sorted(report_runs.rglob("*.json"))[:2]:  # two RunResults are enough beside the human table
        (runs / path.name).write_bytes(path.read_bytes())
    res = run_cli("report", runs, "-o", tmp_path / "r", "--format", "md,json", "--figures", "none",
                  "--bootstrap", "0", "--human", study / "stats.json")
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Human evaluation: pilot" in md and "teacher:mixtral" in md and "Krippendorff's alpha" in md
    tables = json.loads((tmp_path / "r" / "report.json").read_text())["tables"]
    assert any("Human evaluation" in json.dumps(t) for t in tables)
    # the chart is drawn from the stats file alone, byte for byte the same each time
    from fsabench.human.report import render_human_section
    from fsabench.report.charts import figure_bytes

    table, figure = render_human_section(study / "stats.json")
    assert figure_bytes(figure.draw()) == figure_bytes(render_human_section(study / "stats.json")[1].draw())
    bad = run_cli("report", runs, "-o", tmp_path / "c", "--format", "md", "--figures", "none",
                  "--human", tmp_path / "nope.json")
    assert bad.returncode == 1 and "human stats" in bad.stderr


def test_bad_rubric_and_answers_get_one_line_errors(study, tmp_path):
    rubric = tmp_path / "mine.yaml"
    rubric.write_text("name: mine\ntitle: t\ninstructions: i\ndimensions:\n"
                      "  - {name: fun, title: Fun, question: q, level: ordinal, colour: red,\n"
                      "     scale: [{value: a, label: A, key: a, score: 1}, {value: b, label: B, key: b, score: 2}]}\n")
    res = run_cli("human", "rubric", rubric)
    assert res.returncode == 1 and "field 'dimensions.0.colour'" in res.stderr and str(rubric) in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    rubric.write_text(rubric.read_text().replace(" colour: red,", "").replace("key: b", "key: s"))
    with pytest.raises(SpecError, match="key 's' is reserved"):
        load_rubric(rubric)
    rubric.write_text(rubric.read_text().replace("key: s", "key: b"))
    assert [d.name for d in load_rubric(rubric).dimensions] == ["fun"]
    opened = open_study(study)
    with ServerThread(build_app(opened)) as server, httpx.Client(base_url=server.url) as client:
        token, item = opened.tokens()["ana"], opened.assignment["ana"][0]
        r = client.put(f"/api/{token}/answers/{item}", json={"values": {"reasoning": "7"}})
        assert r.status_code == 422 and "not on the scale" in r.json()["detail"]
        assert client.put(f"/api/{token}/answers/{opened.assignment['ana'][0]}x", json={}).status_code == 404
        assert client.get("/api/not-a-token/state").status_code == 404
        big = client.put(f"/api/{token}/answers/{item}", content=b"{" + b" " * 400_000 + b"}",
                         headers={"content-type": "application/json"})
        assert big.status_code == 413
