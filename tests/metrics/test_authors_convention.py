"""`convention="authors"`: identical to ABSA-QUAD's compute_f1_scores on any prediction set.

The reference below is a copy of the authors' logic (IsakZhang/ABSA-QUAD, eval_utils.py, commit ce4d4a5:
`extract_spans_para` splits a sequence on its separator, strips each piece, and turns a piece it cannot
decode into an all-empty tuple; `compute_f1_scores` counts every predicted tuple found in its sentence's
gold as a hit). Only the decoding of one piece differs, because our target format is `a | b | c` where
theirs is a paraphrase sentence; the tuple comparison and the counting are theirs, unchanged.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fsabench
from fsabench.metrics import absa_f1, pct
from fsabench.scoring import score_subset


def reference_extract(seq: str, n: int) -> list[tuple[str, ...]]:
    """extract_spans_para, with our piece format: split on the separator, strip, decode or ('',) * n."""
    quads = []
    for s in [s.strip() for s in seq.split(";")]:
        try:
            parts = [p.strip() for p in s.split("|")]
            if len(parts) != n or not all(parts):
                raise ValueError
            quad = tuple(parts)
        except ValueError:
            quad = ("",) * n
        quads.append(quad)
    return quads


def reference_compute_f1_scores(pred_pt, gold_pt):
    """ABSA-QUAD eval_utils.compute_f1_scores, verbatim but for the print."""
    n_tp, n_gold, n_pred = 0, 0, 0
    for i in range(len(pred_pt)):
        n_gold += len(gold_pt[i])
        n_pred += len(pred_pt[i])
        for t in pred_pt[i]:
            if t in gold_pt[i]:
                n_tp += 1
    precision = float(n_tp) / float(n_pred) if n_pred != 0 else 0
    recall = float(n_tp) / float(n_gold) if n_gold != 0 else 0
    f1 = 2 * precision * recall / (precision + recall) if precision != 0 or recall != 0 else 0
    return {"precision": precision, "recall": recall, "f1": f1}


def perturb(target: str, rng: random.Random) -> str:
    """A model-like answer built from the gold: repeats, case changes, empty and broken pieces, drops."""
    pieces = [p.strip() for p in target.split(";")]
    out = []
    for piece in pieces:
        roll = rng.random()
        if roll < 0.15:
            continue  # missed
        if roll < 0.30:
            out += [piece, piece]  # repeated (the authors count both as hits)
        elif roll < 0.40:
            out.append(piece.upper() if rng.random() < 0.5 else piece.title())  # case changed
        elif roll < 0.47:
            out.append(piece.replace(" | ", " || ", 1))  # broken piece
        else:
            out.append(piece)
        if rng.random() < 0.08:
            out.append("")  # an empty piece: `a ; ; b`
    if rng.random() < 0.05:
        return ""
    return " ; ".join(out)


@pytest.fixture(scope="module")
def asqp_perturbed(data_dir):
    spec = fsabench.task("asqp-rest15")
    from fsabench.examples import load_split

    examples = load_split(spec, data_dir, "test").examples
    rng = random.Random(25)
    return spec, examples, {e.id: perturb(e.target, rng) for e in examples}


def test_authors_equals_reference_on_perturbed_asqp(asqp_perturbed):
    spec, examples, outputs = asqp_perturbed
    result = fsabench.score("asqp-rest15", outputs, convention="authors")
    ref = reference_compute_f1_scores([reference_extract(outputs[e.id], 4) for e in examples],
                                      [reference_extract(e.target, 4) for e in examples])
    score = result.scores["all"]
    assert score.f1 == pct(ref["f1"]) and score.precision == pct(ref["precision"]) and score.recall == pct(ref["recall"])
    assert result.task.definition["convention"] == "authors" and result.meta["convention"] == "authors"
    capped = fsabench.score("asqp-rest15", outputs)
    assert capped.scores["all"].recall < score.recall  # repeats inflate the authors' recall
    assert capped.scores["all"].f1 != score.f1
    assert capped.task.sha256 != result.task.sha256 and capped.meta["convention"] == "capped"


TUPLE = st.tuples(st.sampled_from(["pizza", "Pizza", "staff", "NULL"]), st.sampled_from(["great", "bad", "Bad"]),
                  st.sampled_from(["positive", "negative", "Positive"]))


def _render(tuples, empties: int) -> str:
    return " ; ".join([" | ".join(t) for t in tuples] + [""] * empties)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(TUPLE, min_size=1, max_size=3), st.lists(TUPLE, max_size=5),
                          st.integers(0, 2)), min_size=1, max_size=6))
def test_authors_metric_equals_reference_property(sentences):
    """Any gold and any prediction (repeats, case variants, empty pieces): absa_f1(authors) == theirs."""
    from fsabench.formats import parse_tuples_authors

    golds = [_render(g, 0) for g, _, _ in sentences]
    preds = [_render(p, e) for _, p, e in sentences]
    parsed_pred = [parse_tuples_authors(p, ["a", "o", "polarity"]) for p in preds]
    gold = [list(parse_tuples_authors(g, ["a", "o", "polarity"]).pairs) for g in golds]
    ours = absa_f1(gold, [list(p.pairs) for p in parsed_pred], [p.unparseable for p in parsed_pred], "authors")
    ref = reference_compute_f1_scores([reference_extract(p, 3) for p in preds], [reference_extract(g, 3) for g in golds])
    assert ours.f1 == pytest.approx(ref["f1"]) and ours.precision == pytest.approx(ref["precision"])
    assert ours.recall == pytest.approx(ref["recall"])


def test_capped_caps_repeats_and_authors_does_not():
    gold, pred = [[("pizza", "great", "positive")]], [[("pizza", "great", "positive")] * 2]
    assert absa_f1(gold, pred).recall == 1.0 and absa_f1(gold, pred).precision == 0.5
    assert absa_f1(gold, pred, convention="authors").recall == 2.0  # the authors' loop: recall past 100%


def test_authors_empty_output_is_one_wrong_prediction(asqp_perturbed):
    spec, examples, _ = asqp_perturbed
    result = fsabench.score("asqp-rest15", {e.id: "" for e in examples}, convention="authors")
    assert result.scores["all"].n_pred == len(examples) and result.scores["all"].f1 == 0.0
    assert score_subset(result_spec(result), result.examples).n_pred == len(examples)


def result_spec(result):
    from fsabench.tasks.spec import TaskSpec

    return TaskSpec.model_validate(result.task.definition)


def test_authors_refused_for_pair_tasks():
    with pytest.raises(fsabench.FsabenchError, match="atsa-rest14 is scored with tuple_f1"):
        fsabench.evaluate("baseline:empty", "atsa-rest14", convention="authors", limit=2)
