"""Does a teacher analysis follow the format the analysis prompt asks for?

The check the corpus report applies to every analysis (`report.json: format`): a count, not a
filter (the paper trains on raw teacher text). It also measures a prompt against the corpus the
paper trained on: the share of the 500 released Mixtral answers' analyses it accepts
(`python -m fsabench.distill.formatcheck`).

An analysis is accepted when it opens with `Opinion Target 1:` and each target block reads
    Opinion Target N: "target"        (quoted, as 806 of 891 released targets are)
    Aspect: aspect                    (one or more Aspect / Sentiment / Reasoning triples)
    Sentiment: <a step of the scale>
    Reasoning: text
with nothing but blank lines before the first target; `trailing` says whether text may follow the
last block (the released answers sometimes end with a summary paragraph).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LABEL = re.compile(r"^\s*(Opinion Target|Aspect|Sentiment|Reasoning)(\s*\d+)?\s*:\s*(.*)$")


@dataclass(frozen=True)
class AnalysisFormat:
    name: str
    quote_target: bool
    quote_aspect: bool
    scale: tuple[str, ...]
    trailing: bool  # text after the last target allowed


# what prompts/analysis.j2 asks for: the released answers' own format
ANALYSIS = AnalysisFormat("analysis.j2", quote_target=True, quote_aspect=False,
                          scale=("Very Negative", "Negative", "Mild Sentiment", "Positive", "Very Positive"),
                          trailing=True)
# what the prompt asked for before issue 26 (quoted aspects, "Mild", nothing after the last target)
BEFORE_26 = AnalysisFormat("analysis.j2 before issue 26", quote_target=True, quote_aspect=True,
                           scale=("Very Negative", "Negative", "Mild", "Mild Negative", "Mild Positive", "Positive",
                                  "Very Positive"), trailing=False)


def _quoted(value: str) -> bool:
    return len(value) >= 2 and value[0] in "\"“" and value[-1] in "\"”"


def check_analysis(text: str, fmt: AnalysisFormat = ANALYSIS) -> str | None:
    """None when `text` follows `fmt`, else the first reason it does not."""
    lines = text.strip().splitlines()
    if not lines or not (match := LABEL.match(lines[0])) or match.group(1) != "Opinion Target":
        return "does not open with 'Opinion Target 1:'"
    expected, number, ended = ["Opinion Target"], 0, False
    for line in lines:
        match = LABEL.match(line)
        if match is None:
            if ended and line.strip() and not fmt.trailing:
                return "text after the last target"
            if not line.strip() and expected == ["Aspect", "Opinion Target"]:
                ended = True  # a blank line after a Reasoning paragraph closes the block
            continue
        label, index, value = match.group(1), match.group(2), match.group(3).strip()
        if ended and label != "Opinion Target" and not fmt.trailing:
            return "text after the last target"
        if label not in expected:
            return f"{label} where {' or '.join(expected)} was expected"
        ended = False
        if label == "Opinion Target":
            number += 1
            if index is None or int(index) != number:
                return f"target {number} is not numbered 'Opinion Target {number}:'"
            if fmt.quote_target != _quoted(value):
                return f"target {number} is {'not ' if fmt.quote_target else ''}quoted"
            expected = ["Aspect"]
        elif label == "Aspect":
            if index is not None:
                return "numbered 'Aspect N:'"
            if not value or fmt.quote_aspect != _quoted(value):
                return f"aspect {value!r} is {'not ' if fmt.quote_aspect else ''}quoted" if value else "empty aspect"
            expected = ["Sentiment"]
        elif label == "Sentiment":
            if index is not None or value not in fmt.scale:
                return f"sentiment {value!r} is not one of {', '.join(fmt.scale)}"
            expected = ["Reasoning"]
        else:
            if not value:
                return "empty reasoning"
            expected = ["Aspect", "Opinion Target"]
    if expected != ["Aspect", "Opinion Target"]:
        return f"ends before a {expected[0]} line"
    return None


def accepted_share(rows, fmt: AnalysisFormat = ANALYSIS) -> tuple[int, int]:
    """(accepted, analyses) among seed-format teacher rows (dicts with prompt_type and a response field);
    `fsabench.distill.corpus.released_share` reads them from a file."""
    from fsabench.distill.data import response_key

    accepted = total = 0
    for row in rows:
        if row.get("prompt_type") != "analysis":
            continue
        total += 1
        accepted += check_analysis(str(row.get(response_key(row)) or ""), fmt) is None
    return accepted, total
