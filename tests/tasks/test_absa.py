"""The ASTE-V2 triplet and ASQP quad tasks on the real data: loaders, gold, subsets, every model kind,
refusals that name file:line, and a new triplet dataset becoming a task with YAML alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fsabench.errors import DataError
from fsabench.examples import load_split
from fsabench.results import load_result, result_path
from fsabench.tasks.registry import build_registry, load_spec_file
from tests.conftest import ROOT

SIZES = {  # sentences per split (train, dev, test), as in ../shared/data/SOURCES-more.md
    "aste-14lap": (906, 219, 328), "aste-14res": (1266, 310, 492), "aste-15res": (605, 148, 322),
    "aste-16res": (857, 210, 326), "asqp-rest15": (834, 209, 537), "asqp-rest16": (1264, 316, 544),
}
SUBSETS = {"aste-14lap": {"all": 328, "multi": 18}, "aste-14res": {"all": 492, "multi": 35},
           "aste-15res": {"all": 322, "multi": 25}, "aste-16res": {"all": 326, "multi": 11},
           "asqp-rest15": {"all": 537, "implicit": 184, "multi": 48},
           "asqp-rest16": {"all": 544, "implicit": 164, "multi": 35}}


def test_groups_splits_and_gold_of_the_real_data(data_dir):
    registry = build_registry()
    assert registry.expand(["aste", "asqp"]) == list(SIZES)
    for name, sizes in SIZES.items():
        spec = registry.spec(name)
        assert tuple(len(load_split(spec, data_dir, s).examples) for s in ("train", "dev", "test")) == sizes
    test = load_split(registry.spec("aste-14res"), data_dir, "test").examples
    assert test[0].input == "The bread is top notch as well ."
    assert test[0].target == "bread | top notch | positive"  # token indices [1] and [3, 4]
    quads = load_split(registry.spec("asqp-rest15"), data_dir, "test").examples
    assert quads[1].target == "NULL | restaurant general | neutral | alright" and "implicit" in quads[1].subsets


@pytest.mark.slow
def test_gold_scores_100_on_every_subset_with_sizes(cli, tmp_path):
    res = cli("run", "--model", "baseline:gold", "--tasks", "aste,asqp", "--output", tmp_path)
    assert res.returncode == 0, res.stderr
    for task, subsets in SUBSETS.items():
        result = load_result(result_path(tmp_path, "baseline:gold", task))
        assert {k: v.n for k, v in result.scores.items()} == subsets
        for score in result.scores.values():
            assert (score.precision, score.recall, score.f1, score.unparseable) == (100.0, 100.0, 100.0, 0.0)
            assert set(score.per_element.values()) == {100.0}
    assert re.search(r"asqp-rest16[\s│]+implicit[\s│]+164[\s│]+100\.00", res.stdout)  # with or without borders
    validate = cli("tasks", "validate", ROOT / "tasks" / "asqp-rest15.yaml", "--check-data")
    assert "test: all 537 (n_gold 795), implicit 184 (n_gold 252), multi 48 (n_gold 119)" in validate.stdout


def test_lexicon_baseline_learns_honest_triplets_from_train_only(tmp_path):
    """Aspect and opinion dictionaries from train, each opinion paired with the nearest aspect."""
    from fsabench.models import load_model
    from fsabench.runner import RunOptions, run_task

    data = tmp_path / "d"
    data.mkdir()
    (data / "train.txt").write_text("Great coffee .####[([1], [0], 'POS')]\n"
                                    "Rude staff here .####[([1], [0], 'NEG')]\n", encoding="utf-8")
    (data / "test.txt").write_text("The coffee was great but the staff rude .####[([1], [3], 'POS'), ([6], [7], 'NEG')]\n"
                                   "Nice view .####[([1], [0], 'POS')]\n", encoding="utf-8")
    task = TRIPLET_TASK.replace("splits: {test: [test.txt]}", "splits: {train: [train.txt], test: [test.txt]}")
    (tmp_path / "t.yaml").write_text(task.replace("DIR", str(data)), encoding="utf-8")
    result = run_task(load_spec_file(tmp_path / "t.yaml"), load_model("baseline:lexicon"), tmp_path, RunOptions())
    # great (char 16) is nearer coffee (4) than staff (29); nothing in train names a view
    assert [r.output for r in result.examples] == ["coffee | great | positive ; staff | rude | negative", ""]
    score = result.scores["all"]
    assert (score.precision, score.recall, score.f1) == (100.0, 66.67, 80.0)


def test_lexicon_baseline_on_the_real_tuples_and_its_refusal(cli, tmp_path, data_dir):
    from fsabench.models import load_model
    from fsabench.runner import RunOptions, run_task

    spec = build_registry().spec("asqp-rest16")
    result = run_task(spec, load_model("baseline:lexicon"), data_dir, RunOptions(limit=60))
    assert result.scores["all"].unparseable == 0.0 and result.scores["all"].f1 > 10
    assert any(r.prediction and r.prediction[0][0] == "null" for r in result.examples)  # implicit aspects
    data, tasks = tmp_path / "d", tmp_path / "tasks"
    data.mkdir(), tasks.mkdir()
    (data / "train.txt").write_text("I like it####[['I', 'it', 'positive']]\n", encoding="utf-8")
    (data / "test.txt").write_text("I like it####[['I', 'it', 'positive']]\n", encoding="utf-8")
    other = (QUAD_TASK.replace("name: q", "name: holders").replace("[aspect, category, polarity, opinion]", "[holder, target, polarity]")
             .replace("splits: {test: [test.txt]}", "splits: {train: [train.txt], test: [test.txt]}"))
    (tasks / "holders.yaml").write_text(other.replace("DIR", str(data)), encoding="utf-8")
    res = cli("run", "--model", "baseline:lexicon", "--tasks", "holders", "--tasks-dir", tasks, "--output", tmp_path / "r")
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1
    assert ("baseline:lexicon answers pairs, labels, and tuples of aspect, opinion, polarity (+ category), "
            "not the holder, target, polarity tuples of task holders") in res.stderr


def test_chat_prompts_carry_k_triplet_demonstrations(data_dir):
    from fsabench.prompts import build_requests

    spec = build_registry().spec("aste-14res")
    train = load_split(spec, data_dir, "train").examples
    test = load_split(spec, data_dir, "test").examples[:2]
    requests = build_requests(spec, test, "chat", train, num_shots=3, seed=7)
    prompt = requests[0].prompt
    assert prompt.startswith("Extract every aspect sentiment triplet") and prompt.count("Answer:") == 4
    shots = re.findall(r"Answer: (.+)", prompt)[:3]
    assert all(" | " in s and s.split(" | ")[-1].split(" ;")[0] in {"positive", "negative", "neutral"} for s in shots)
    assert prompt.endswith("Sentence: The bread is top notch as well .\nAnswer:")


def test_an_api_llm_answer_is_parsed_and_its_unparseable_pieces_counted(scripted, tmp_path, cli):
    answers = ["bread | top notch | positive", "delivery times | fastest | positive ; I cannot tell"]
    scripted.control(labels=answers)
    model = f"openai-compat:{scripted.url}#scripted"
    res = cli("run", "--model", model, "--tasks", "aste-14res", "--limit", "6", "--num-shots", "2",
              "--output", tmp_path)
    assert res.returncode == 0, res.stderr
    result = load_result(result_path(tmp_path, model, "aste-14res"))
    assert result.protocol == "few-shot" and len(result.examples) == 6
    for record in result.examples:
        assert record.output in answers and record.prompt[0]["content"].count("Answer:") == 3
        assert record.unparseable == (1 if "cannot" in record.output else 0)
    score = result.scores["all"]
    assert score.n_pred == sum(len(r.prediction) + r.unparseable for r in result.examples)


# --- refusals: malformed lines and gold that would be lost -----------------------------------------
TRIPLET_TASK = """\
name: t
data: {format: tuple_lines, dir: DIR, splits: {test: [test.txt]}, id_field: null, tuple_fields: [aspect, opinion, polarity]}
gold: {builder: tuples, params: {indices: [aspect, opinion], polarity_map: {POS: positive, NEG: negative}}}
output: {parser: tuples, fields: [aspect, opinion, polarity], polarities: [positive, negative], require_in_input: false}
metric: absa_f1
"""
QUAD_TASK = """\
name: q
data: {format: tuple_lines, dir: DIR, splits: {test: [test.txt]}, id_field: null, tuple_fields: [aspect, category, polarity, opinion]}
gold: {builder: tuples}
output: {parser: tuples, fields: [aspect, category, polarity, opinion], polarities: [positive, negative], require_in_input: false}
metric: absa_f1
"""
GOOD = "Good food .####[([1], [0], 'POS')]\n"


@pytest.mark.parametrize(("task", "line", "message"), [
    (TRIPLET_TASK, "Good food .", r"test.txt:2: expected 'sentence####\[...\]'"),
    (TRIPLET_TASK, "Good food .####[([1], [0], 'POS')", r"test.txt:2: the part after '####' is not a literal list"),
    (TRIPLET_TASK, "Good food .####[([1], [0])]", r"test.txt:2: tuple .* does not have 3 elements"),
    (TRIPLET_TASK, "Good food .####[([1], [7], 'POS')]", r"test.txt:2 \(id test:1\): opinion indices \[7\] point past"),
    (TRIPLET_TASK, "Good food .####[([0, 2], [1], 'POS')]", r"test.txt:2 \(id test:1\): aspect indices \[0, 2\] are not contiguous"),
    (TRIPLET_TASK, "Good food .####[([1], [0], 'CONFLICT')]", r"test.txt:2 \(id test:1\): polarity 'CONFLICT' is not in gold.params.polarity_map"),
    (QUAD_TASK, "Good | food####[['food', 'food quality', 'positive', 'Good | food']]",
     r"test.txt:2 \(id test:1\): opinion 'Good \| food' contains the separator '\|'"),
    (QUAD_TASK, "Good food####[['food', 'food quality', 'neutral', 'Good']]",
     r"test.txt:2: example test:1: gold piece 'food \| food quality \| neutral \| Good' would be dropped"),
    (QUAD_TASK, "Good food####[['food', 'food quality', 'positive', '']]", r"test.txt:2 \(id test:1\): opinion '' is missing"),
])
def test_a_bad_line_is_refused_with_file_line_and_id(tmp_path, task, line, message):
    data = tmp_path / "d"
    data.mkdir()
    first = GOOD if task is TRIPLET_TASK else "Good food####[['food', 'food quality', 'positive', 'Good']]\n"
    (data / "test.txt").write_text(first + line + "\n", encoding="utf-8")
    (tmp_path / "t.yaml").write_text(task.replace("DIR", str(data)), encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        load_split(load_spec_file(tmp_path / "t.yaml"), tmp_path, "test")
    assert "fix:" in str(info.value) and "\n" not in str(info.value)


def test_the_literal_parser_never_runs_code(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    marker = tmp_path / "pwned"
    (data / "test.txt").write_text(f"x####[__import__('os').system('touch {marker}')]\n", encoding="utf-8")
    (tmp_path / "t.yaml").write_text(TRIPLET_TASK.replace("DIR", str(data)), encoding="utf-8")
    with pytest.raises(DataError, match="test.txt:1: the part after '####' is not a literal list"):
        load_split(load_spec_file(tmp_path / "t.yaml"), tmp_path, "test")
    assert not marker.exists()


# --- a new triplet dataset with YAML alone: the README's example, run as written ---------------------
def readme_yaml(name: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return next(b for b in blocks if f"name: {name}\n" in b)


def test_readme_triplet_dataset_becomes_a_task_with_yaml_alone(cli, tmp_path):
    data, tasks = tmp_path / "mycafe", tmp_path / "tasks"
    data.mkdir(), tasks.mkdir()
    (data / "train.txt").write_text("Great coffee .####[([1], [0], 'POS')]\n", encoding="utf-8")
    (data / "test.txt").write_text(
        "Great coffee but rude staff .####[([1], [0], 'POS'), ([4], [3], 'NEG')]\n"
        "The cake was dry .####[([1], [3], 'NEG')]\n", encoding="utf-8")
    (tasks / "aste-mycafe.yaml").write_text(readme_yaml("aste-mycafe").replace("/path/to/mycafe", str(data)),
                                            encoding="utf-8")
    res = cli("tasks", "validate", tasks / "aste-mycafe.yaml", "--check-data")
    assert res.returncode == 0 and "test: all 2 (n_gold 3), multi 1 (n_gold 2)" in res.stdout, res.stderr
    res = cli("run", "--model", "baseline:gold", "--tasks", "aste-mycafe", "--tasks-dir", tasks, "--output", tmp_path / "r")
    assert res.returncode == 0, res.stderr
    result = load_result(result_path(tmp_path / "r", "baseline:gold", "aste-mycafe"))
    assert result.examples[0].target == "coffee | Great | positive ; staff | rude | negative"
    assert [s.f1 for s in result.scores.values()] == [100.0, 100.0]


# --- the second board, the report grouping, and the hashes that must not move ------------------------
def test_absa_tuples_board_and_report_grouping(tmp_path, data_dir):
    from fsabench.leaderboard.spec import load_leaderboard
    from fsabench.models import load_model
    from fsabench.report.frames import analyze
    from fsabench.report.tables import tables_for
    from fsabench.runner import RunOptions, run_task

    board = load_leaderboard("absa-tuples", ROOT / "leaderboards")
    assert list(board.tasks) == list(SIZES) and board.spec.metric == "f1"
    registry = build_registry()
    runs = [run_task(registry.spec(t), load_model("baseline:gold"), data_dir, RunOptions(limit=20))
            for t in ("atsa-rest14", "aste-14res", "asqp-rest16")]
    names = [t.name for t in tables_for(analyze(runs, n_boot=20, tests=False))]
    assert names == ["overview", "fsa", "fsa_ci", "overview_triplets", "triplets", "triplets_ci",
                     "overview_quads", "quads", "quads_ci"]


def test_adding_tuple_tasks_left_the_published_definition_hashes_alone():
    registry = build_registry()
    assert registry.spec("atsa-rest14").definition_hash().startswith("3eea69b40af9a379")
    assert registry.spec("sc-sst2").definition_hash().startswith("38dd4c11a7fcacf7")
    shipped = json.loads((ROOT / "leaderboards" / "fsa" / "submissions" / "empty-baseline.json").read_text())
    assert shipped  # the fsa board's bundles pin these hashes (tests/leaderboard/test_verify.py checks them)


@pytest.mark.slow
def test_distill_finetune_accepts_the_aste_group(cli, tiny_t5, tmp_path):
    """The fine-tuning stage takes the triplet tasks as they are: one RunResult per task, scored by absa_f1."""
    model = f"hf:{tiny_t5}"
    res = cli("distill", "finetune", "--model", model, "--tasks", "aste", "--seeds", "42", "--epochs", "1",
              "--train-limit", "16", "--dev-limit", "4", "--limit", "6", "--threads", "1",
              "--output", tmp_path / "results", "--work", tmp_path / "work", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert list(summary["tasks"]) == ["aste-14lap", "aste-14res", "aste-15res", "aste-16res"]
    for task in summary["tasks"]:
        result = load_result(result_path(tmp_path / "results", model, task, 42))
        assert result.protocol == "fine-tuned" and len(result.examples) == 6
        assert result.task.definition["metric"] == "absa_f1" and "pair" in result.scores["all"].per_element
