"""Gold -> target string, and model text -> structured prediction, exactly as the paper's code.

The paper (HITSZ-HLT/FSA-Distillation, evaluation/utils/atsa.py and acsa.py) splits the text on
';', strips each piece, and keeps a piece only when it holds exactly one '|' and a polarity from
the closed set; for ATSA the term must also be a substring of the sentence. Gold strings go
through the same parser, so gold and prediction are compared on equal terms.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

Pair = tuple[str, ...]
NEWLINE_TOKEN = "[NL]"  # the distilled student writes newlines as this added token (defined here only)
PAIR_SEP = " | "
ITEM_SEP = " ; "


def join_pairs(pairs: Sequence[tuple[str, str]]) -> str:
    """`term | polarity ; term | polarity`; the empty string for no pairs."""
    return ITEM_SEP.join(f"{a}{PAIR_SEP}{p}" for a, p in pairs)


def join_tuples(tuples: Sequence[Sequence[str]]) -> str:
    """`a | b | c ; d | e | f`: triplets and quads in the generative ABSA target format."""
    return ITEM_SEP.join(PAIR_SEP.join(t) for t in tuples)


@dataclass(frozen=True)
class Parsed:
    """A structured prediction plus its diagnostics."""

    pairs: tuple[Pair, ...]
    pieces: int  # non-empty pieces seen
    unparseable: int  # non-empty pieces dropped
    repairs: tuple[str, ...] = field(default=())  # names of clean-ups that changed the text
    dropped: tuple[str, ...] = field(default=())  # the unparseable pieces themselves (tuples parser)


def parse_pairs(text: str, source: str, polarities: Sequence[str], require_in_input: bool) -> Parsed:
    """Parse `a | p ; b | q` the paper's way. Dropped pieces are not predictions."""
    kept: list[Pair] = []
    pieces = unparseable = 0
    for piece in text.split(";"):
        piece = piece.strip()
        if piece:
            pieces += 1
        if piece.count("|") != 1:
            unparseable += bool(piece)
            continue
        first, polarity = (part.strip() for part in piece.split("|"))
        if (require_in_input and first not in source) or polarity not in polarities:
            unparseable += bool(piece)
            continue
        kept.append((first, polarity))
    return Parsed(tuple(kept), pieces, unparseable)


def normalize_element(text: str, rules: Sequence[str]) -> str:
    """A task's declared normalisation, the only difference an exact match forgives."""
    if "whitespace" in rules:
        text = " ".join(text.split())
    if "lowercase" in rules:
        text = text.lower()
    return text


def parse_tuples(text: str, source: str, fields: Sequence[str], polarities: Sequence[str],
                 normalize: Sequence[str] = (), spans: Sequence[str] = (), implicit: str | None = None,
                 require_in_input: bool = False) -> Parsed:
    """Parse `e1 | e2 | ... ; ...` (ASTE `aspect | opinion | polarity`, ASQP `aspect | category |
    polarity | opinion`). A piece is kept when it has exactly len(fields) non-empty elements and a
    polarity from the closed set (after normalisation); with require_in_input, each span field must
    also occur in the input (the implicit token excepted). Others are counted and returned as dropped."""
    kept: list[Pair] = []
    dropped: list[str] = []
    pieces = 0
    polarity_at = list(fields).index("polarity")
    allowed = {normalize_element(p, normalize) for p in polarities}
    checked = [i for i, name in enumerate(fields) if name in spans] if require_in_input else []
    implicit_norm = normalize_element(implicit, normalize) if implicit is not None else None
    haystack = normalize_element(source, normalize)
    for piece in text.split(";"):
        piece = piece.strip()
        if not piece:
            continue
        pieces += 1
        parts = [normalize_element(part.strip(), normalize) for part in piece.split("|")]
        ok = (len(parts) == len(fields) and all(parts) and parts[polarity_at] in allowed
              and all(parts[i] == implicit_norm or parts[i] in haystack for i in checked))
        if ok:
            kept.append(tuple(parts))
        else:
            dropped.append(piece)
    return Parsed(tuple(kept), pieces, len(dropped), dropped=tuple(dropped))


def parse_tuples_authors(text: str, fields: Sequence[str]) -> Parsed:
    """Our target format read as ABSA-QUAD's `extract_spans_para` reads its own (IsakZhang/ABSA-QUAD,
    eval_utils.py): every piece of `text.split(';')` is one predicted tuple, so an empty output, an empty
    piece (`a ; ; b`, a trailing ';') or a malformed one is a prediction that matches nothing. No case or
    whitespace normalisation beyond stripping each piece and element: matching is exact, case-sensitive.
    Malformed and empty pieces are returned as `dropped` and counted as `unparseable` (each is one wrong
    prediction to `metrics.absa_f1`); a well-formed tuple with an unknown polarity is kept (it matches
    nothing, as in the authors' code)."""
    kept: list[Pair] = []
    dropped: list[str] = []
    pieces = text.split(";")
    for piece in pieces:
        parts = [part.strip() for part in piece.strip().split("|")]
        if len(parts) == len(fields) and all(parts):
            kept.append(tuple(parts))
        else:
            dropped.append(piece.strip())
    return Parsed(tuple(kept), len(pieces), len(dropped), dropped=tuple(dropped))


_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```", re.S)  # the rule; read by _fenced, never run
_TAG = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _fenced(text: str) -> str | None:
    """What `_FENCE.search(text).group(1)` gives, in linear time, or None when it does not match.

    The regex backtracks cubically on untrusted text: '```' and 5,000 spaces took 76 s (a model's or a
    predictions file's output, a leaderboard bundle's 20,000-character output: hours). Same result:
    leading whitespace, '```', the longest language tag, then the text up to the first '```' after it,
    stripped of surrounding whitespace (re's \\s and str.strip agree on what is whitespace)."""
    rest = text.lstrip()
    if not rest.startswith("```"):
        return None
    rest = rest[3:]
    tag = 0
    while tag < len(rest) and rest[tag] in _TAG:
        tag += 1
    rest = rest[tag:]
    end = rest.find("```")
    return None if end < 0 else rest[:end].strip()
# A trailing explanation: cut at the first sentence end, dash, bracket or "because" after the answer.
_EXPLANATION = re.compile(r"(?:[.!?;:,](?:\s|$)|\s[-\u2013\u2014]\s|\s\(|\s(?:because|since|as)\s|\n)", re.I)
_ANSWER = re.compile(r"^\s*(?:final\s+)?(?:answer|output|sentiment|label|prediction)\s*[:：]\s*", re.I)


def apply_repairs(text: str, repairs: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """Apply the task's named clean-ups in order; return the text and which ones changed it."""
    applied = []
    for name in repairs:
        before = text
        if name == "strip_code_fences":
            fenced = _fenced(text)
            text = fenced if fenced is not None else text
        elif name == "strip_answer_prefix":
            text = _ANSWER.sub("", text, count=1)
        elif name == "first_line":
            stripped = text.strip()
            text = stripped.splitlines()[0] if stripped else stripped
        elif name == "lowercase":
            text = text.lower()
        elif name == "strip_explanation":
            text = _EXPLANATION.split(text.strip(), maxsplit=1)[0]
        if text != before:
            applied.append(name)
    return text, tuple(applied)


def parse_label(text: str, labels: Sequence[str], verbalizer: dict[str, list[str]]) -> Parsed:
    """Map free text to one label: an exact label or verbalizer word first, else the only one mentioned."""
    cleaned = text.strip().strip(".!\"'`* ").lower()
    words = {label.lower(): label for label in labels}
    for label, verbal in verbalizer.items():
        for word in verbal:
            words.setdefault(word.lower(), label)
    if cleaned in words:
        return Parsed(((words[cleaned],),), 1, 0)
    found = {label for word, label in words.items() if re.search(rf"\b{re.escape(word)}\b", cleaned)}
    if len(found) == 1:
        return Parsed(((found.pop(),),), 1, 0)
    return Parsed((), 1 if cleaned else 0, 1 if cleaned else 0)
