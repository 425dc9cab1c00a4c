"""Issue 22, class 15 (part): what the board says must not mislead."""

from __future__ import annotations

import fsabench
from fsabench.leaderboard.claims import seeds_claim
from fsabench.leaderboard.ranking import rank


def row(name: str, score: float, partial=None) -> dict:
    return {"name": name, "score": score, "partial": partial or {}, "ranked": True, "audit": None, "require_audit": False}


def test_a_partial_entry_is_shown_apart_and_never_ranked_against_full_ones():
    rows = rank([row("full-a", 50.0), row("partial", 60.0, {"atsa-rest14": [80, 1140]}), row("full-b", 40.0)])
    by_name = {r["name"]: r for r in rows}
    assert by_name["partial"]["rank"] is None and by_name["partial"]["standing"] == "partial"
    assert [r["name"] for r in rows] == ["full-a", "full-b", "partial"]  # ranked first, the partial one after
    assert by_name["full-a"]["rank"] == 1 and by_name["full-b"]["rank"] == 2


def test_the_seeds_claim_says_when_seeds_answer_identically():
    run = fsabench.evaluate("baseline:lexicon", "sc-sst2", limit=5, cache=False)[0]
    other = run.model_copy(update={"seed": 7})
    assert seeds_claim([run, other]) == "2 seed(s); 1 seed pair(s) answer identically on a task (see the flags)"
    changed = other.model_copy(update={"examples": [e.model_copy(update={"output": "x"}) for e in other.examples]})
    assert seeds_claim([run, changed]) == "2 seed(s); no two seeds answer identically"
    assert seeds_claim([run]) == "1 seed"
