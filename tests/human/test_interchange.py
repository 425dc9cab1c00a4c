"""Label Studio round trip (config + tasks out, its JSON export back in), CSV export, and an LLM judge
run through the real openai-compat adapter against the scripted OpenAI-compatible server."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest

from fsabench.human.judge import parse_judgement
from fsabench.human.store import check_answer, store_of
from fsabench.human.study import create_study
from tests.conftest import DATA_DIR
from tests.conftest import run_cli_in_process as run_cli  # in-process: no test here needs a real process

TEACHER = DATA_DIR / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"


@pytest.fixture
def study(tmp_path):
    return create_study(tmp_path / "ls", [TEACHER], "analysis", 6, 2, ["ana", "ben"], 2)


def label_studio_export(tasks: list[dict], config: ET.Element) -> list[dict]:
    """What Label Studio's JSON export holds after two people answered every task (shape of LS 1.x:
    task data, annotations with completed_by and result regions keyed by from_name)."""
    names = {c.get("name") for c in config.iter("Choices")}
    out = []
    for n, task in enumerate(tasks):
        data = task["data"]
        annotations = []
        for who, (acc, reasoning) in (({"id": 1, "email": "ana@lab.org"}, ("right", "4")), (2, ("partly", "2"))):
            result = [{"from_name": "reasoning", "to_name": "analysis", "type": "choices", "value": {"choices": [reasoning]}},
                      {"from_name": "persuasiveness", "to_name": "analysis", "type": "choices", "value": {"choices": ["3"]}},
                      {"from_name": "hallucination", "to_name": "analysis", "type": "choices", "value": {"choices": ["major"]}},
                      {"from_name": "hallucination_span", "to_name": "analysis", "type": "labels",
                       "value": {"start": 0, "end": 14, "text": data["analysis"][:14], "labels": ["hallucination"]}}]
            for t in range(1, 13):
                if data.get(f"target_{t}"):
                    assert f"accuracy_{t}" in names
                    result.append({"from_name": f"accuracy_{t}", "to_name": "analysis", "type": "choices",
                                   "value": {"choices": [acc]}})
            annotations.append({"id": 100 * n + len(annotations), "completed_by": who, "was_cancelled": False,
                                "result": result})
        out.append({"id": n + 1, "data": data, "annotations": annotations})
    return out


@pytest.mark.slow
def test_label_studio_round_trip_and_csv(study, tmp_path):
    res = run_cli("human", "export", study.folder, "--format", "label-studio", "-o", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    config = ET.fromstring((tmp_path / "out" / "label-studio-config.xml").read_text())
    tasks = json.loads((tmp_path / "out" / "label-studio-tasks.json").read_text())
    assert len(tasks) == 6 and "mixtral" not in json.dumps(tasks).lower()  # blinded
    variables = set(re.findall(r'value="\$(\w+)"', (tmp_path / "out" / "label-studio-config.xml").read_text()))
    assert variables <= set(tasks[0]["data"])  # every $variable the config shows is in each task
    assert {"review", "analysis"} <= {t.get("name") for t in config.iter("Text")}
    assert {"reasoning", "persuasiveness", "hallucination"} <= {c.get("name") for c in config.iter("Choices")}
    assert [l.get("value") for l in config.iter("Label")] == ["hallucination"]

    export = tmp_path / "project-export.json"
    export.write_text(json.dumps(label_studio_export(tasks, config)))
    res = run_cli("human", "import", study.folder, export, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"answers": 12, "tasks": 6}
    rows = {(r.annotator, r.item): r for r in store_of(study).rows()}
    assert {a for a, _ in rows} == {"ls:ana@lab.org", "ls:2"}
    first = tasks[0]["data"]["item"]
    answer = rows[("ls:ana@lab.org", first)].answer
    assert answer["values"]["reasoning"] == "4" and set(answer["values"]["accuracy"]) == {"right"}
    assert answer["spans"]["hallucination"][0]["text"] == study.items[first]["analysis"][:14]
    assert rows[("ls:ana@lab.org", first)].status == "done"

    res = run_cli("human", "export", study.folder, "--format", "csv", "--unblind")
    table = list(csv.DictReader(io.StringIO(res.stdout)))
    reasoning = [r for r in table if r["dimension"] == "reasoning"]
    assert len(reasoning) == 12 and {r["model"] for r in reasoning} == {"teacher:mixtral"}
    assert {r["value"] for r in reasoning if r["annotator"] == "ls:2"} == {"2"}
    stats = json.loads(run_cli("human", "stats", study.folder, "--json", "--bootstrap", "100").stdout)
    assert stats["humans"] == ["ls:2", "ls:ana@lab.org"]
    assert {a["dimension"]: a["alpha"] for a in stats["agreement"]}["persuasiveness"] is None  # all "3": undefined

    bad = json.loads(export.read_text())
    bad[0]["data"]["item"] = "i000000000000"
    export.write_text(json.dumps(bad))
    res = run_cli("human", "import", study.folder, export)
    assert res.returncode == 1 and "task 0: field 'data.item'" in res.stderr and len(res.stderr.splitlines()) == 1


ANSWERS = [
    '{"accuracy": ["right", "partly"], "reasoning": "4", "persuasiveness": "3", "hallucination": "none", '
    '"hallucination_span": ""}',
    'Here is my rating: {"accuracy": ["wrong", "right"], "reasoning": 2, "persuasiveness": "5", '
    '"hallucination": "minor", "hallucination_span": "called it crispy"} Hope it helps.',
]


def two_target_corpus(path, n: int = 8):
    rows = [{"ID": i, "Text": f"Review {i}: the fries were great, the waiter slow.", "Overall": 3,
             "mixtral_response": f'Opinion Target 1: "fries"\nAspect: Taste\nSentiment: Positive\nReasoning: Great, '
                                 f'called it crispy ({i}).\n\nOpinion Target 2: "waiter"\nAspect: Service\n'
                                 f'Sentiment: Negative\nReasoning: Slow.'} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_judge_runs_through_the_openai_compatible_adapter(scripted, tmp_path):
    scripted.control(labels=ANSWERS)
    study = create_study(tmp_path / "j", [two_target_corpus(tmp_path / "t.jsonl")], "analysis", None, 2, ["ana", "ben"], 1)
    model = f"openai-compat:{scripted.url}#scripted"
    res = run_cli("human", "judge", study.folder, "--model", model, "--json")
    assert res.returncode == 0, res.stderr
    first = json.loads(res.stdout)
    assert first["stored"] == 8 and first["failed"] == 0 and first["judge"] == f"judge:{model}"
    judged = store_of(study).rows(kind="judge")
    assert len(judged) == 8 and {r.status for r in judged} == {"done"}
    minor = [r for r in judged if r.answer["values"]["hallucination"] == "minor"]
    assert minor and all(r.answer["spans"]["hallucination"][0]["text"] == "called it crispy" for r in minor)
    # resumable: a second run asks nothing; --max-cost 0 stops before the first request
    again = json.loads(run_cli("human", "judge", study.folder, "--model", model, "--json").stdout)
    assert again["asked"] == 0 and again["already_done"] == 8
    capped = json.loads(run_cli("human", "judge", study.folder, "--model", model, "--overwrite", "--max-cost", "0",
                                "--json").stdout)
    assert capped["stopped_by_max_cost"] and capped["asked"] == 0
    shown = run_cli("human", "judge", study.folder, "--model", model, "--overwrite")  # not --json: progress shows
    assert shown.returncode == 0 and "judge: 8/8 (100%)" in shown.stderr, shown.stderr
    # humans answer like the judge on half the items: judge-vs-human agreement is reported apart
    store = store_of(study)
    for name in ("ana", "ben"):
        for i, row in enumerate(sorted(judged, key=lambda r: r.item)):
            values = dict(row.answer["values"]) if i % 2 == 0 else {
                "accuracy": ["right", "right"], "reasoning": "5", "persuasiveness": "1", "hallucination": "none"}
            answer, status = check_answer(study.rubric, study.items[row.item], {"values": values, "spans": row.answer["spans"]})
            store.save(name, row.item, "human", status, answer)
    stats = json.loads(run_cli("human", "stats", study.folder, "--json", "--bootstrap", "100").stdout)
    assert stats["humans"] == ["ana", "ben"] and stats["judges"] == [f"judge:{model}"]
    rows = {r["dimension"]: r for r in stats["judges_vs_humans"]}
    assert rows["reasoning"]["units"] == 8 and 0.4 <= rows["reasoning"]["consensus_agreement"] <= 0.6
    assert {a["dimension"]: a["alpha"] for a in stats["agreement"]}["reasoning"] == pytest.approx(1.0)


def test_judge_answers_that_do_not_parse_are_refused(study):
    item = next(iter(study.items.values()))
    with pytest.raises(ValueError, match="no JSON object"):
        parse_judgement(study.rubric, item, "I think it is good.")
    raw = parse_judgement(study.rubric, item, '{"accuracy": ["right"], "reasoning": "9"}')
    with pytest.raises(ValueError):
        check_answer(study.rubric, item, raw)


def test_items_from_runs_and_a_distill_corpus_folder(report_runs, tmp_path):
    """RunResults: a sampled review keeps every model's analysis of it; a corpus folder reads as the
    teacher file does (its train and held-out rows)."""
    study = create_study(tmp_path / "runs", [report_runs], "analysis", 5, 1, ["ana"], 4)
    by_review: dict[str, set] = {}
    for item_id, item in study.items.items():
        by_review.setdefault(item["review"], set()).add(study.model_of(item_id))
    assert len(by_review) == 5 and len(set(study.key[i]["model"] for i in study.items)) > 1
    runs = [json.loads(p.read_text()) for p in sorted(report_runs.rglob("*.json"))]
    written = [(run, r) for run in runs for r in run["examples"]]
    expected = {(run["model"]["name"], run["task"]["name"], run["seed"], r["id"]) for run, r in written
                if r["input"] in by_review and (r["output"] or "").strip()}
    assert len(study.items) == len(expected)  # every model's (and seed's) analysis of each sampled review
    assert "baseline:" not in (study.folder / "study.json").read_text()
    from fsabench.distill.corpus import finalize, import_corpus
    from fsabench.distill.filters import FilterSpec

    import_corpus([TEACHER], tmp_path / "corpus")  # what `fsabench distill corpus --import` does
    finalize(tmp_path / "corpus", FilterSpec(), 0.2)
    rows = [json.loads(line) for name in ("corpus.jsonl", "valid.jsonl")
            for line in (tmp_path / "corpus" / name).read_text().splitlines() if line.strip()]
    folder = create_study(tmp_path / "from-corpus", [tmp_path / "corpus"], "analysis", None, 1, ["ana"], 4)
    assert len(folder.items) == sum(r["prompt_type"] == "analysis" for r in rows) > 200
