"""Zero-/few-shot classification tasks (sentibench group), prompts, repairs and likelihood scoring."""

from __future__ import annotations

import json

import fsabench
from fsabench.examples import load_split
from fsabench.prompts import build_requests
from fsabench.tasks.registry import build_registry
from tests.conftest import DATA_DIR

SENTIBENCH = ["sc-sst2", "sc-imdb", "sc-yelp2", "sc-twitter", "review-stars"]


def test_sentibench_group_scores_100_with_gold(cli, tmp_path):
    assert build_registry().expand(["sentibench"]) == SENTIBENCH
    res = cli("run", "-m", "baseline:gold", "-t", "sentibench", "--limit", "200", "-o", tmp_path, "--json")
    assert res.returncode == 0, res.stderr
    for entry in json.loads(res.stdout):
        assert entry["scores"]["all"]["accuracy"] == 100.0 and entry["scores"]["all"]["macro_f1"] == 100.0


def test_review_stars_reads_overall_from_the_teacher_file():
    spec = build_registry().spec("review-stars")
    examples = load_split(spec, DATA_DIR, "test").examples
    assert len(examples) == 500 and {e.target for e in examples} == {"1", "2", "3", "4", "5"}
    assert examples[0].input.startswith("Joe Sent Me") and examples[0].target == "4"


def test_prompts_zero_and_few_shot_are_deterministic():
    spec = build_registry().spec("sc-twitter")
    test = load_split(spec, DATA_DIR, "test").examples[:3]
    train = load_split(spec, DATA_DIR, "train").examples
    [zero] = build_requests(spec, test[:1], "chat")
    assert zero.messages[-1]["content"].startswith("Classify the sentiment of the tweet")
    assert zero.messages[-1]["content"].endswith(f"Tweet: {test[0].input}\nSentiment:")
    a = build_requests(spec, test, "chat", train, num_shots=4, seed=1)
    b = build_requests(spec, test, "chat", train, num_shots=4, seed=1)
    c = build_requests(spec, test, "chat", train, num_shots=4, seed=2)
    assert a == b and a != c
    assert a[0].prompt.count("\nSentiment: ") == 4 and a[0].prompt.count("Tweet:") == 5
    [raw] = build_requests(spec, test[:1], "raw", train, num_shots=4, seed=1)
    assert raw.prompt == test[0].input  # fine-tuned students read the raw sentence, as in the paper


def test_llm_wrappers_are_repaired_and_counted(scripted, cli, tmp_path):
    scripted.control(labels=["```\npositive\n```", "Answer: negative - the tweet complains", "Neutral.", "negative"])
    res = cli("run", "-m", f"openai-compat:{scripted.url}#scripted", "-t", "sc-twitter", "--limit", "40",
              "-o", tmp_path, "--json")
    assert res.returncode == 0, res.stderr
    score = json.loads(res.stdout)[0]["scores"]["all"]
    assert score["unparseable"] == 0.0
    assert set(score["repairs"]) == {"strip_code_fences", "strip_answer_prefix", "strip_explanation"}
    record = json.loads(next(tmp_path.rglob("sc-twitter.json")).read_text())["examples"]
    fenced = next(r for r in record if r["output"].startswith("```"))
    assert fenced["prediction"] == [["positive"]] and fenced["repairs"] == ["strip_code_fences"]


def test_likelihood_scoring_with_a_local_model(tiny_t5, tmp_path):
    results = fsabench.evaluate(f"hf:{tiny_t5}", "sc-sst2,sc-twitter", limit=12, output_dir=tmp_path,
                                scoring="likelihood", data_dir=DATA_DIR, device="cpu")
    assert [r.usage.failed for r in results] == [0, 0]
    for path in tmp_path.rglob("*.json"):
        result = json.loads(path.read_text())
        labels = result["task"]["definition"]["output"]["labels"]
        assert result["meta"]["scoring"] == "likelihood"
        assert all(e["output"] in labels and e["prediction"] == [[e["output"]]] for e in result["examples"])


def test_likelihood_needs_labels_and_a_local_model(cli, tmp_path):
    wrong_task = cli("run", "-m", "baseline:gold", "-t", "atsa-rest14", "--scoring", "likelihood", "-o", tmp_path)
    assert wrong_task.returncode == 1 and "needs a local model" in wrong_task.stderr
    api = cli("run", "-m", "litellm:openai/gpt-4o-mini", "-t", "sc-sst2", "--scoring", "likelihood", "-o", tmp_path)
    assert api.returncode == 1 and "needs a local model" in api.stderr
    extraction = cli("run", "-m", "hf:/nonexistent", "-t", "atsa-rest14", "--scoring", "likelihood", "-o", tmp_path)
    assert extraction.returncode == 1 and "needs a classification task" in extraction.stderr
