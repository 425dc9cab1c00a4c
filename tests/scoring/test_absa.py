"""Triplet and quad scoring, rule by rule, against hand-computed P/R/F1.

The rules (fsabench.metrics.absa_f1, ABSA-QUAD's compute_f1_scores): a tuple counts when every
element matches exactly after the task's normalisation; NULL is the implicit aspect; duplicates
count as often as they occur (a repeated prediction is a hit at most as often as gold holds it);
an unparseable piece is a wrong prediction; per-element F1 scores the distinct projections.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fsabench.examples import load_split
from fsabench.metrics import absa_f1
from fsabench.scoring import score_record, score_records
from fsabench.tasks.registry import load_spec_file

ASTE_LINES = """\
The bread is top notch as well .####[([1], [3, 4], 'POS')]
Food is fresh but service slow .####[([0], [2], 'POS'), ([4], [5], 'NEG')]
Great pizza , great pizza .####[([1], [0], 'POS'), ([4], [3], 'POS')]
"""

ASQP_LINES = """\
its alright####[['NULL', 'restaurant general', 'neutral', 'alright']]
Gross food####[['food', 'food quality', 'negative', 'Gross']]
"""

ASTE_TASK = """\
name: mini-aste
data: {format: tuple_lines, dir: DIR, splits: {test: [test.txt]}, id_field: null,
       tuple_fields: [aspect, opinion, polarity]}
gold: {builder: tuples, params: {indices: [aspect, opinion], polarity_map: {POS: positive, NEG: negative, NEU: neutral}}}
output: {parser: tuples, fields: [aspect, opinion, polarity], polarities: [positive, negative, neutral],
         normalize: [whitespace, lowercase], require_in_input: false}
metric: absa_f1
elements: {aspect: [aspect], opinion: [opinion], pair: [aspect, opinion]}
subsets: {all: {}, multi: {min_distinct: {field: polarity, count: 2}}}
"""

ASQP_TASK = """\
name: mini-asqp
data: {format: tuple_lines, dir: DIR, splits: {test: [test.txt]}, id_field: null,
       tuple_fields: [aspect, category, polarity, opinion]}
gold: {builder: tuples}
output: {parser: tuples, fields: [aspect, category, polarity, opinion], polarities: [positive, negative, neutral],
         normalize: [whitespace, lowercase], implicit: "NULL", require_in_input: false}
metric: absa_f1
elements: {aspect: [aspect], opinion: [opinion], pair: [aspect, opinion]}
subsets: {all: {}, implicit: {any_aspect_is: {aspect: "NULL", opinion: "NULL"}}}
"""


def make_task(tmp_path: Path, task: str, lines: str):
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.txt").write_text(lines, encoding="utf-8")
    path = tmp_path / "task.yaml"
    path.write_text(task.replace("DIR", str(data)), encoding="utf-8")
    spec = load_spec_file(path)
    return spec, load_split(spec, tmp_path, "test").examples


def scores_for(spec, examples, outputs):
    records = [score_record(spec, e, o) for e, o in zip(examples, outputs)]
    return records, score_records(spec, records)


def test_gold_targets_are_the_token_spans(tmp_path):
    _, examples = make_task(tmp_path, ASTE_TASK, ASTE_LINES)
    assert [e.target for e in examples] == [
        "bread | top notch | positive",
        "Food | fresh | positive ; service | slow | negative",
        "pizza | Great | positive ; pizza | great | positive",  # the same triplet twice once normalised
    ]
    assert examples[2].gold == (("pizza", "great", "positive"), ("pizza", "great", "positive"))
    assert [e.subsets for e in examples] == [("all",), ("all", "multi"), ("all",)]


def test_exact_match_duplicates_unparseable_and_per_element_by_hand(tmp_path):
    spec, examples = make_task(tmp_path, ASTE_TASK, ASTE_LINES)
    outputs = [
        "Bread |  top   notch | Positive",  # exact after lower-casing and whitespace: hit
        "food | fresh | positive ; service | slowly | negative ; no pipes here",  # 1 hit, 1 miss, 1 unparseable
        "pizza | great | positive ; pizza | great | positive ; pizza | great | positive",  # gold holds it twice
    ]
    records, scores = scores_for(spec, examples, outputs)
    assert [r.unparseable for r in records] == [0, 1, 0]
    s = scores["all"]
    # n_gold = 1 + 2 + 2 = 5; n_pred = 1 + (2 + 1 unparseable) + 3 = 7; hits = 1 + 1 + min(3, 2) = 4
    assert (s.n_gold, s.n_pred) == (5, 7)
    assert (s.precision, s.recall, s.f1) == (57.14, 80.0, 66.67)  # 4/7, 4/5, 2PR/(P+R) = 8/12
    # per element, distinct projections per sentence, unparseable pieces not projected:
    # aspect: gold {bread} {food, service} {pizza}, predicted the same: 4/4
    # opinion: gold {top notch} {fresh, slow} {great}; predicted slowly for slow: 3 of 4 both ways
    # pair: (service, slowly) is wrong: 3 of 4 both ways
    assert s.per_element == {"aspect": 100.0, "opinion": 75.0, "pair": 75.0}
    # positive: gold 4 (bread, food, pizza x2), predicted 5 (bread, food, pizza x3), hits 4 -> 2*.8*1/(1.8)
    assert s.per_polarity == {"positive": 88.89, "negative": 0.0}
    assert scores["multi"].n == 1 and scores["multi"].f1 == 40.0  # P 1/3 (with the unparseable piece), R 1/2


def test_null_aspect_is_the_implicit_token(tmp_path):
    spec, examples = make_task(tmp_path, ASQP_TASK, ASQP_LINES)
    assert examples[0].target == "NULL | restaurant general | neutral | alright"
    assert [e.subsets for e in examples] == [("all", "implicit"), ("all",)]
    _, scores = scores_for(spec, examples, ["null | restaurant general | neutral | alright",
                                            "food | food quality | negative | gross"])
    assert scores["all"].f1 == 100.0 and scores["implicit"].f1 == 100.0
    # "it" (the paraphrase papers' word for an implicit aspect) is not NULL; a 3-element piece is unparseable
    records, scores = scores_for(spec, examples, ["it | restaurant general | neutral | alright",
                                                  "food | negative | gross"])
    assert records[1].unparseable == 1 and records[1].prediction == []
    s = scores["all"]
    assert (s.n_gold, s.n_pred, s.precision, s.recall, s.f1) == (2, 2, 0.0, 0.0, 0.0)
    assert s.per_element["opinion"] == 66.67 and s.per_element["aspect"] == 0.0  # alright: P 1/1, R 1/2; it != null
    assert scores["implicit"].per_element == {"aspect": 0.0, "opinion": 100.0, "pair": 0.0}


def test_absa_f1_rules_on_plain_tuples():
    a, b = ("food", "fresh", "positive"), ("service", "slow", "negative")
    # exact match only: one element off is a miss
    assert absa_f1([[a]], [[("food", "fresh", "negative")]]).f1 == 0.0
    # a repeated prediction is a hit at most as often as gold holds it (the authors' loop would give recall 2.0)
    dup = absa_f1([[a]], [[a, a]])
    assert (dup.precision, dup.recall, round(dup.f1, 4)) == (0.5, 1.0, 0.6667)
    # gold duplicates count twice
    assert (absa_f1([[a, a]], [[a]]).precision, absa_f1([[a, a]], [[a]]).recall) == (1.0, 0.5)
    # unparseable pieces are wrong predictions: 1 hit of 1 + 2 predictions
    assert absa_f1([[a, b]], [[a]], unparseable=[2]).precision == pytest.approx(1 / 3)
    # pooled over sentences (micro), per-sentence matching
    pooled = absa_f1([[a], [b]], [[b], [b]])
    assert (pooled.n_hit, pooled.precision, pooled.recall) == (1, 0.5, 0.5)
    # nothing predicted: P and R are 0 as in compute_f1_scores; nothing at all: undefined, never 0 or 100
    assert absa_f1([[a]], [[]]).f1 == 0.0 and absa_f1([[a]], [[]]).precision == 0.0
    assert absa_f1([[]], [[]]).f1 is None


def test_an_empty_subset_is_undefined(tmp_path):
    spec, examples = make_task(tmp_path, ASQP_TASK, ASQP_LINES)
    _, scores = scores_for(spec, examples[1:], ["food | food quality | negative | gross"])
    assert scores["implicit"].n == 0 and scores["implicit"].f1 is None and scores["implicit"].precision is None
