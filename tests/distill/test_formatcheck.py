"""The analysis prompt asks for the format of the released teacher answers: measured on them."""

from __future__ import annotations

from fsabench.distill.corpus import released_share
from fsabench.distill.formatcheck import ANALYSIS, BEFORE_26, check_analysis
from fsabench.distill.teacher import load_prompts, render
from tests.conftest import DATA_DIR

TEACHER_FILE = DATA_DIR / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"

GOOD = ('Opinion Target 1: "pasta"\nAspect: Taste\nSentiment: Very Positive\nReasoning: "best pasta", said outright.'
        '\n\nOpinion Target 2: "waiter"\nAspect: Service\nSentiment: Mild Sentiment\nReasoning: implied by "ok".'
        '\nAspect: Speed\nSentiment: Negative\nReasoning: "slow".')


def test_the_check_reads_the_prompted_format():
    assert check_analysis(GOOD) is None
    assert check_analysis(GOOD + "\n\nOverall the review is positive.") is None  # a closing summary is allowed
    before = GOOD.replace("Aspect: Taste", 'Aspect: "Taste"').replace("Aspect: Service", 'Aspect: "Service"').replace(
        "Aspect: Speed", 'Aspect: "Speed"').replace("Mild Sentiment", "Mild")
    assert check_analysis(before, BEFORE_26) is None
    assert check_analysis(before + "\n\nOverall positive.", BEFORE_26) == "text after the last target"
    assert "quoted" in check_analysis(GOOD.replace("Aspect: Taste", 'Aspect: "Taste"'))
    assert "not one of" in check_analysis(GOOD.replace("Very Positive", "Neutral"))
    assert "ends before" in check_analysis('Opinion Target 1: "pasta"\nAspect: Taste')
    assert "open" in check_analysis("The review says the pasta was good.")


def test_the_prompt_format_accepts_far_more_of_the_released_analyses_than_before():
    prompt = render(load_prompts(["analysis"])[0], {"Text": "Great pasta.", "Overall": 5})
    assert "Mild Sentiment" in prompt and "nothing after" not in prompt.lower()
    assert 'Aspect: the aspect' in prompt and 'Opinion Target N: "' in prompt  # quoted target, plain aspect
    assert released_share(TEACHER_FILE, BEFORE_26) == (1, 234)
    assert released_share(TEACHER_FILE, ANALYSIS) == (93, 234)
