"""Quality filters for teacher responses, declared in the recipe; every drop is counted by filter.

The paper trains on raw teacher text: its recipe turns them off (`enabled: false`). The defaults
(on) come from what the real Mixtral outputs (teacher/mixtral/test_500_4m8d.json) show:
about one response in 25 runs on into another made-up task ("Consider the following reviews:",
"Review: ...", "Example 2:"), which is cut off (or dropped, if you prefer); a few stop mid-word at
the token limit.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RUNAWAY = (
    r"Consider the following reviews?",
    r"\n\s*Review\s*\d*\s*:",
    r"\n\s*Example\s*\d+\s*:",
    r"\n\s*(?:Your task|Solution|Task \w+)\s*:",
    r"Let's analy[sz]e another review",
    r"-{3,}\s*Second Review\s*-{3,}",
)
SENTENCE_END = tuple('.!?"\')]%*:')


class FilterSpec(BaseModel):
    """Which teacher responses to keep. All word counts are whitespace-separated words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="false: keep every response as the teacher wrote it (the paper "
                                            "trains on raw teacher text); the other keys are then ignored")
    empty: bool = Field(True, description="drop empty or whitespace-only responses")
    truncated: bool = Field(True, description="drop responses the teacher stopped at its token limit "
                                              "(finish_reason 'length', recorded at generation)")
    truncated_heuristic: bool = Field(False, description="also drop responses that end mid-sentence "
                                                          "(for imported rows, which carry no finish_reason)")
    runaway: list[str] = Field(default_factory=lambda: list(RUNAWAY),
                               description="regexes marking a runaway continuation (a new made-up task)")
    runaway_action: Literal["cut", "drop"] = Field("cut", description="cut the response at the marker, or drop it")
    min_words: int = Field(5, ge=0, description="drop responses shorter than this (after any cut)")
    max_words: int | None = Field(1000, description="drop responses longer than this")
    max_review_words: int | None = Field(None, description="drop rows whose review is longer than this")

    @cached_property
    def _patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.runaway]

    def runaway_at(self, text: str) -> int | None:
        starts = [m.start() for p in self._patterns if (m := p.search(text))]
        return min(starts) if starts else None


def check(spec: FilterSpec, row: dict[str, Any], key: str) -> tuple[dict[str, Any] | None, str | None, bool]:
    """(row to keep or None, name of the filter that dropped it, whether it was cut)."""
    if not spec.enabled:
        return row, None, False
    response = row.get(key)
    if not isinstance(response, str) or (spec.empty and not response.strip()):
        return None, "empty", False
    if spec.truncated and row.get("finish_reason") == "length":
        return None, "truncated", False
    cut = False
    at = spec.runaway_at(response)
    if at is not None:
        if spec.runaway_action == "drop":
            return None, "runaway", False
        response, cut = response[:at].rstrip(" \n-*#=_"), True
    stripped = response.rstrip()
    if spec.truncated_heuristic and stripped and not stripped.endswith(SENTENCE_END):
        return None, "truncated", cut
    words = len(response.split())
    if words < spec.min_words:
        return None, "too_short", cut
    if spec.max_words is not None and words > spec.max_words:
        return None, "too_long", cut
    if spec.max_review_words is not None and len(str(row.get("Text", "")).split()) > spec.max_review_words:
        return None, "review_too_long", cut
    return ({**row, key: response} if cut else row), None, cut


class FilterTally:
    """Counts what each filter dropped or cut, for the corpus report."""

    def __init__(self) -> None:
        self.dropped: Counter[str] = Counter()
        self.cut: Counter[str] = Counter()

    def add(self, reason: str | None, cut: bool) -> None:
        if reason:
            self.dropped[reason] += 1
        if cut:
            self.cut["runaway"] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"dropped": dict(sorted(self.dropped.items())), "cut": dict(self.cut)}
