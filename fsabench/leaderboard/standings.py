"""The ranked order of a leaderboard, kept up to date one entry at a time.

`Standings` holds, per entry, its sort key, standing (ranked | reference | awaiting audit | audit
failed), and for ranked entries its group leader (the "tied with" walk of stats.py). Adding or
removing an entry:

- finds its place by bisection and shifts the order (O(n) list moves, no statistics);
- re-walks the tie groups from that place only, and stops as soon as the walk is back in the state
  it had before the change (same current leader at the same entry): entries above the change keep
  their groups without a test, and below it only the entries whose group leader may differ are
  re-tested. Each test is one paired comparison (`compare(a, b)`, an O(N_BOOT) difference of two
  stored replicate vectors in the service). When the change makes a new group leader (the new entry
  starts a group, or the removed entry led one), the entries after it are re-tested against the new
  leader until one of them is not tied and the walk rejoins its old state; in the worst case (one
  long group) that is every entry below the change, so a change costs at most n tests: linear.
- ranks (1-based, equal scores share one) are positions, recomputed in O(n) integer steps.

`changed` after each call lists the entries whose rank, tie or standing differ, so the caller writes
only those. A from-scratch build (`Standings(compare).rebuild(rows)`) runs the same walk over every
entry; the tests check incremental == from scratch over random sequences of adds and removals.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

ALPHA = 0.05
MISSING = "\0missing"  # no slug is this (slugs are [a-z0-9-])


def standing(row: dict[str, Any], rank_partial: bool = False) -> str:
    """Why a row is or is not ranked: ranked | reference (baselines) | partial | awaiting audit | audit failed.

    A partial entry (80 of 4,238 examples) is never ranked against full ones unless the board opts in
    (`rank_partial`): its score is of another, easier or harder, test set."""
    if row.get("ranked") is False:
        return "reference"
    if row.get("partial") and not rank_partial:
        return "partial"
    audit = (row.get("audit") or {}).get("status")
    if audit == "failed":
        return "audit failed"
    if row.get("require_audit") and audit != "passed":
        return "awaiting audit"
    return "ranked"


def sort_key(row: dict[str, Any], slug: str, rank_partial: bool = False) -> tuple:
    """Ranked rows first, then by score (best first; no score last), then by name and slug."""
    score = row["score"] if row["score"] is not None else -1e9
    return (standing(row, rank_partial) != "ranked", -score, row["name"].lower(), slug)


def rank_partial_in_effect(rows: Iterable[dict[str, Any]], board_opts_in: bool) -> bool:
    """Partial entries are ranked when the board opts in, or when no full entry could be ranked (a board
    of partial runs ranks them among themselves). A change that flips this re-ranks the whole board."""
    return board_opts_in or not any(standing(row) == "ranked" for row in rows)


@dataclass(frozen=True)
class Place:
    """What the table shows of an entry's position: rank (None when unranked), tied_with (the rank
    of its group's best entry, None when it leads its group or shares that rank), its group leader."""

    standing: str
    rank: int | None
    tied_with: int | None
    leader: str | None


class Standings:
    def __init__(self, compare: Callable[[str, str], float | None], rank_partial: bool = False) -> None:
        self.compare = compare  # paired p of two slugs (None: not comparable)
        self.rank_partial = rank_partial  # partial entries ranked among full ones (rank_partial_in_effect)
        self.keys: list[tuple] = []  # sorted sort keys; the slug is the last item
        self.scores: dict[str, float | None] = {}
        self.standings: dict[str, str] = {}
        self.leader: dict[str, str | None] = {}  # ranked slug -> its group's leader (None: it leads)
        self.places: dict[str, Place] = {}
        self.tests = 0  # paired comparisons made by the last change
        self.changed: set[str] = set()

    # --- reads ------------------------------------------------------------------------------------
    def order(self) -> list[str]:
        return [k[-1] for k in self.keys]

    def ranked(self) -> list[str]:
        """Ranked entries in order (their keys sort first)."""
        return [k[-1] for k in self.keys[:bisect.bisect_left(self.keys, (True,))]]

    # --- changes -----------------------------------------------------------------------------------
    def rebuild(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> "Standings":
        """From scratch: every entry placed, every group walked."""
        self.keys, self.scores, self.standings, self.leader = [], {}, {}, {}
        for slug, row in rows:
            self.keys.append(sort_key(row, slug, self.rank_partial))
            self.scores[slug], self.standings[slug] = row["score"], standing(row, self.rank_partial)
        self.keys.sort()
        self.tests = 0
        self._walk(0, len(self.keys), None)
        self._place()
        self.changed = set(self.places)
        return self

    def restore(self, rows: Iterable[tuple[str, dict[str, Any], str | None]]) -> "Standings":
        """From stored state (slug, row, leader): no test is made."""
        self.keys, self.scores, self.standings, self.leader = [], {}, {}, {}
        for slug, row, leader in rows:
            self.keys.append(sort_key(row, slug, self.rank_partial))
            self.scores[slug], self.standings[slug] = row["score"], standing(row, self.rank_partial)
            if self.standings[slug] == "ranked":
                self.leader[slug] = leader
        self.keys.sort()
        self.tests = 0
        self._place()
        self.changed = set()
        return self

    def add(self, slug: str, row: dict[str, Any]) -> set[str]:
        """Place a new entry (an existing slug is replaced); return the slugs whose Place changed."""
        before = dict(self.places)
        self.tests = 0
        taken = self._take_out(slug)
        key = sort_key(row, slug, self.rank_partial)
        at = bisect.bisect_left(self.keys, key)
        self.keys.insert(at, key)
        self.scores[slug], self.standings[slug] = row["score"], standing(row, self.rank_partial)
        put = at if not key[0] else None  # ranked keys come first: the index is the ranked position
        if taken is not None and put is not None and put < taken:  # moved up: the old walk still passed
            self._walk(put, taken + 1, slug)                       # its old place, at `taken`
        elif taken is not None or put is not None:
            self._walk(min(p for p in (taken, put) if p is not None), put if put is not None else taken, slug)
        return self._settle(before)

    def remove(self, slug: str) -> set[str]:
        before = dict(self.places)
        self.tests = 0
        taken = self._take_out(slug)
        if taken is not None:
            self._walk(taken, taken, slug)
        return self._settle(before)

    # --- internals -----------------------------------------------------------------------------------
    def _take_out(self, slug: str) -> int | None:
        """Remove an entry's key; its ranked position (None if it was not ranked or not there)."""
        if slug not in self.scores:
            return None
        old = next(i for i, k in enumerate(self.keys) if k[-1] == slug)
        was_ranked = not self.keys[old][0]
        del self.keys[old]
        del self.scores[slug], self.standings[slug]
        self.leader.pop(slug, None)
        return old if was_ranked else None

    def _walk(self, start: int, until: int, changed: str | None) -> None:
        """Re-walk the tie groups from ranked position `start`. From position `until` on, the entries
        follow in the same order as before the change, so once an entry gets the leader it had before,
        every later one would too: the walk stops there (unless that leader is the `changed` entry,
        whose content the old walk compared against is gone)."""
        ranked = self.ranked()
        current = None if start == 0 else (self.leader[ranked[start - 1]] or ranked[start - 1])
        for j in range(start, len(ranked)):
            slug = ranked[j]
            if current is None:
                lead = None
            else:
                self.tests += 1
                p = self.compare(current, slug)
                lead = current if p is not None and p >= ALPHA else None
            old = self.leader.get(slug, MISSING)
            self.leader[slug] = lead
            if j >= until and old == lead and (lead is None or lead != changed):
                return
            current = lead or slug

    def _place(self) -> None:
        places: dict[str, Place] = {}
        position = place = 0
        previous: object = object()
        rank_of: dict[str, int] = {}
        for key in self.keys:
            slug = key[-1]
            if key[0]:
                places[slug] = Place(self.standings[slug], None, None, None)
                continue
            position += 1
            if self.scores[slug] != previous:
                place, previous = position, self.scores[slug]
            rank_of[slug] = place
        for slug, rank in rank_of.items():
            leader = self.leader.get(slug)
            tied = rank_of[leader] if leader is not None and rank_of[leader] != rank else None
            places[slug] = Place("ranked", rank, tied, leader)
        self.places = places

    def _settle(self, before: dict[str, Place]) -> set[str]:
        self._place()
        self.changed = {s for s, p in self.places.items() if before.get(s) != p} | (set(before) - set(self.places))
        return self.changed
