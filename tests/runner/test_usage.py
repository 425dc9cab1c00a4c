"""results.Usage is the one usage counter: runs, teacher passes and judge passes count with it."""

from __future__ import annotations

from fsabench.distill.teacher import GenerationStats
from fsabench.human.judge import JudgeStats
from fsabench.leaderboard.submission import SubmittedUsage
from fsabench.models.base import Completion
from fsabench.results import Usage
from fsabench.runner import usage_of

ANSWERS = [Completion("a", prompt_tokens=10, completion_tokens=3, cost_usd=0.1234567),
           Completion("b", prompt_tokens=5, completion_tokens=2, cost_usd=0.5, cached=True),
           Completion(None, error="HTTP 500"), None]


def test_usage_of_answers():
    usage = usage_of(ANSWERS)
    assert usage == Usage(prompt_tokens=15, completion_tokens=5, cost_usd=0.623457, requests=2, cached=1, failed=1)
    assert isinstance(SubmittedUsage(**usage.model_dump()), Usage)


def test_teacher_and_judge_count_with_usage():
    teacher = GenerationStats()
    for answer in ANSWERS[:3]:
        teacher.usage.add(answer)
    assert teacher.as_dict() | {"errors": []} == {
        "sent": 0, "written": 0, "failed": 1, "cached": 1, "prompt_tokens": 15, "completion_tokens": 5,
        "cost_usd": 0.6234567, "stopped_by_max_cost": False, "errors": [], "skipped_reviews": 0, "skipped_where": []}
    judge = JudgeStats("judge:x")
    for answer in ANSWERS[:3]:
        judge.usage.add(answer, charge_cached=False)
    assert judge.cost_usd == 0.1234567 and judge.cached == 1  # an answer from the cache costs the budget nothing
