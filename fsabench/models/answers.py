"""The boundary where a model's answers enter a run: whatever an adapter or endpoint returns is checked
here, and anything unusable becomes a failed Completion that names its cause.

An answer is data from outside: a server cut at `max_tokens` in the middle of an emoji sends a lone
surrogate (`"\\ud800"`, which no UTF-8 file or SQLite row can hold), usage may be NaN, negative, a string or
10^30, an adapter may return too few or too many completions, or raise. None of that may stop the run,
reach the cache, or be summed into the result's usage: each such request is recorded as failed (so a
re-run asks again) and the run completes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from fsabench.errors import FsabenchError
from fsabench.models.base import Completion, Request

log = logging.getLogger("fsabench")

MAX_ANSWER_CHARS = 1_000_000  # a model answer is a few hundred characters; 1M is not an answer
MAX_TOKENS = 10**12  # per request: more than any context window that exists
MAX_COST_USD = 1e6  # per request


def failed(cause: str) -> Completion:
    """A failed request; the cause is made storable text (an exception may quote the bad answer)."""
    return Completion(text=None, error=cause.encode("utf-8", "replace").decode("utf-8")[:500])


def _usage_problem(completion: Completion) -> str | None:
    for name in ("prompt_tokens", "completion_tokens"):
        value = getattr(completion, name)
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_TOKENS):
            return f"the answer reports {name}={value!r:.40} (not a count from 0 to {MAX_TOKENS:.0e})"
    cost = completion.cost_usd
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost)
                             or not 0 <= cost <= MAX_COST_USD):
        return f"the answer reports cost_usd={cost!r:.40} (not a finite cost from 0 to {MAX_COST_USD:g})"
    return None


def _text_problem(text: Any, field: str) -> str | None:
    if not isinstance(text, str):
        return f"the answer's {field} is {type(text).__name__}, not text"
    if len(text) > MAX_ANSWER_CHARS:
        return f"the answer's {field} is {len(text):,} characters, over {MAX_ANSWER_CHARS:,}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"the answer's {field} holds a lone surrogate U+{ord(text[exc.start]):04X} at character {exc.start} "
                "(cut in the middle of a character?)")
    return None


def check_completion(value: Any) -> Completion:
    """The completion itself when every field is usable; otherwise a failed Completion naming the problem."""
    if not isinstance(value, Completion):
        return failed(f"the adapter returned {type(value).__name__!s:.40}, not a Completion")
    if value.error is not None:  # a failure stays a failure; its cause is kept as storable text
        cause = value.error if isinstance(value.error, str) else f"error of type {type(value.error).__name__}"
        return failed(cause)
    if value.text is None and value.logprobs is None:
        return failed("the answer has no text (text=None and no error)")
    problem = (_text_problem(value.text, "text") if value.text is not None else None) or _usage_problem(value)
    if problem is None and value.logprobs is not None:
        if not isinstance(value.logprobs, (tuple, list)) or not all(
                isinstance(p, (int, float)) and not isinstance(p, bool) and not math.isnan(p) for p in value.logprobs):
            problem = "the answer's logprobs are not a list of numbers"
    if problem is None and not isinstance(value.cached, bool):
        problem = "the answer's cached flag is not true/false"
    return failed(problem) if problem else value


def check_answers(requests: Sequence[Request], answers: Any, unsent_ok: bool = False) -> list[Completion | None]:
    """One checked Completion per request; a wrong number of answers fails the whole batch (which answer
    belongs to which request is then unknown). `unsent_ok`: None stays None, "not sent" (a batch adapter
    stopping at --max-cost); otherwise None is a failed answer, so no stop is blamed on a budget not given."""
    if not isinstance(answers, (list, tuple)) and hasattr(answers, "__iter__") and not isinstance(answers, (str, bytes, dict)):
        answers = list(answers)  # a generator of completions is still one per request
    if not isinstance(answers, (list, tuple)):
        return [failed(f"the adapter returned {type(answers).__name__!s:.40}, not a list of completions")] * len(requests)
    if len(answers) != len(requests):
        cause = f"the adapter returned {len(answers)} answers for {len(requests)} requests"
        return [failed(cause)] * len(requests)
    return [None if a is None and unsent_ok else check_completion(a) for a in answers]


def answers_of(adapter: Any, requests: Sequence[Request],
               on_completion: Callable[[int, Completion], None] | None = None,
               unsent_ok: bool = False) -> list[Completion | None]:
    """`adapter.generate(requests)`, checked; an adapter that raises (anything but an FsabenchError, which
    is a deliberate one-line stop) fails the batch with the exception as its cause."""
    try:
        if on_completion is not None:
            answers = adapter.generate(requests, on_completion=on_completion)
        else:
            answers = adapter.generate(requests)
    except FsabenchError:
        raise
    except ImportError as exc:  # a missing extra is the user's setup, not a bad answer: stop, naming it
        from fsabench.extras import missing_extra

        error = missing_extra(exc, f"model {getattr(adapter, 'name', '')}".strip())
        if error is None:
            raise
        raise error from None
    except Exception as exc:  # noqa: BLE001 - the boundary: any adapter failure is recorded, never fatal
        log.warning(f"{getattr(adapter, 'name', 'the model')} raised {type(exc).__name__} on {len(requests)} "
                    f"requests; they are recorded as failed")
        return [failed(f"the adapter raised {type(exc).__name__}: {str(exc)[:300]}")] * len(requests)
    return check_answers(requests, answers, unsent_ok)
