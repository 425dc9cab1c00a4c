"""The scorer, rule by rule, on hand-computed cases (DESIGN section 3, the paper's F1Measure)."""

from fsabench.formats import apply_repairs, join_pairs, parse_label, parse_pairs
from fsabench.metrics import pct, per_label_f1, tuple_f1
from fsabench.tasks.gold import acsa_categories, atsa_terms

POL = ["positive", "neutral", "negative", "conflict"]


def pairs(text, sentence="The food was great but the service was slow", require=True):
    return parse_pairs(text, sentence, POL, require)


def test_parse_keeps_well_formed_pieces_and_strips_whitespace():
    parsed = pairs("  food |positive ;service|  negative  ")
    assert parsed.pairs == (("food", "positive"), ("service", "negative"))
    assert (parsed.pieces, parsed.unparseable) == (2, 0)


def test_parse_substring_rule_applies_to_atsa_only():
    assert pairs("pizza | positive").pairs == ()
    assert pairs("pizza | positive").unparseable == 1
    assert pairs("pizza | positive", require=False).pairs == (("pizza", "positive"),)
    assert pairs("Food | positive").pairs == ()  # case-sensitive, as `in` is


def test_parse_drops_malformed_pieces_without_counting_them_as_predictions():
    parsed = pairs("food | positive | extra ; service ; food - negative ; food | great ; food | Positive ; service | negative")
    assert parsed.pairs == (("service", "negative"),)
    assert parsed.unparseable == 5 and parsed.pieces == 6


def test_parse_empty_output_and_trailing_separator():
    assert pairs("").pairs == () and pairs("").unparseable == 0
    assert pairs("food | positive ;").pairs == (("food", "positive"),)
    assert pairs("food | positive ;").unparseable == 0


def test_conflict_is_a_valid_polarity():
    assert pairs("food | conflict").pairs == (("food", "conflict"),)


def test_f1_counts_membership_so_duplicates_are_not_merged():
    gold = [[("food", "positive")]]
    pred = [[("food", "positive"), ("food", "positive")]]
    prf = tuple_f1(gold, pred)
    assert (prf.precision, prf.recall, prf.n_pred) == (1.0, 1.0, 2)
    prf = tuple_f1([[("food", "positive"), ("food", "positive")]], [[("food", "positive")]])
    assert (prf.precision, prf.recall) == (1.0, 1.0)


def test_f1_pools_pairs_per_example_id():
    gold = [[("food", "positive")], [("service", "negative")]]
    pred = [[("service", "negative")], [("service", "negative")]]  # right pair, wrong sentence for #0
    prf = tuple_f1(gold, pred)
    assert prf.precision == 0.5 and prf.recall == 0.5 and prf.f1 == 0.5


def test_f1_hand_computed_micro_average():
    gold = [[("a", "positive"), ("b", "negative")], [("c", "neutral")], []]
    pred = [[("a", "positive"), ("b", "positive")], [("c", "neutral")], [("d", "negative")]]
    prf = tuple_f1(gold, pred)
    assert prf.precision == 2 / 4 and prf.recall == 2 / 3
    assert pct(prf.f1) == round(100 * 2 * (0.5 * 2 / 3) / (0.5 + 2 / 3), 2) == 57.14


def test_an_empty_side_keeps_the_papers_f1_but_its_precision_or_recall_is_undefined():
    """The paper's F1Measure scores an empty side 1: its F1 is kept (0 when one side is empty), but a
    precision of no predictions or a recall of no gold is a score of nothing: undefined, never 100."""
    both = tuple_f1([[]], [[]])
    assert (both.precision, both.recall, both.f1) == (None, None, None)  # the paper's code says 1.0
    empty_pred = tuple_f1([[("a", "positive")]], [[]])
    assert (empty_pred.precision, empty_pred.recall, empty_pred.f1) == (None, 0.0, 0.0)
    empty_gold = tuple_f1([[]], [[("a", "positive")]])
    assert (empty_gold.precision, empty_gold.recall, empty_gold.f1) == (0.0, None, 0.0)
    assert tuple_f1([[("a", "positive")]], [[("b", "positive")]]).f1 == 0.0


def test_per_polarity_f1():
    gold = [[("a", "positive"), ("b", "negative")]]
    pred = [[("a", "positive"), ("b", "positive")]]
    assert per_label_f1(gold, pred, POL) == {"positive": 66.67, "negative": 0.0}


def test_atsa_gold_skips_null_dedupes_and_orders_by_offsets():
    record = {"sentence": "x", "aspects": [
        {"target": "staff", "polarity": "negative", "from": "20", "to": "25"},
        {"target": "NULL", "polarity": "positive", "from": "0", "to": "0"},
        {"target": None, "polarity": "positive", "from": None, "to": None},
        {"target": "food", "polarity": "positive", "from": "4", "to": "8"},
        {"target": "food", "polarity": "positive", "from": "4", "to": "8"},
        {"target": "food", "polarity": "positive", "from": "30", "to": "34"},
    ]}
    # string offsets sort as strings, exactly like the paper's sorted() over ('20','25') < ('30','34') < ('4','8')
    assert atsa_terms(record, {}, "t") == "staff | negative ; food | positive ; food | positive"
    record_int = {"sentence": "x", "aspects": [
        {"target": "staff", "polarity": "negative", "from": 20, "to": 25},
        {"target": "food", "polarity": "positive", "from": 4, "to": 8}]}
    assert atsa_terms(record_int, {}, "t") == "food | positive ; staff | negative"
    assert atsa_terms({"aspects": []}, {}, "t") == ""


def test_acsa_gold_lowercases_replaces_hash_keeps_order_and_dedupes():
    record = {"aspects": [
        {"category": "SERVICE#GENERAL", "polarity": "negative"},
        {"category": "FOOD#QUALITY", "polarity": "positive"},
        {"category": "SERVICE#GENERAL", "polarity": "negative"},
        {"category": "DRINKS#QUALITY", "polarity": "positive"}]}
    assert acsa_categories(record, {}, "t") == \
        "service general | negative ; food quality | positive ; drinks quality | positive"


def test_join_pairs_uses_the_papers_separators():
    assert join_pairs([("a", "positive"), ("b", "negative")]) == "a | positive ; b | negative"


def test_repairs_are_named_and_reported():
    text, applied = apply_repairs("```\nAnswer: food | positive\n```\nBecause...", ["strip_code_fences", "strip_answer_prefix", "first_line"])
    assert text == "food | positive" and applied == ("strip_code_fences", "strip_answer_prefix")


def test_label_parser_uses_verbalizer_and_refuses_ambiguity():
    labels, verbal = ["negative", "positive"], {"positive": ["great"], "negative": ["terrible"]}
    assert parse_label("Positive.", labels, verbal).pairs == (("positive",),)
    assert parse_label("great", labels, verbal).pairs == (("positive",),)
    assert parse_label("It is positive, not negative", labels, verbal).pairs == ()
