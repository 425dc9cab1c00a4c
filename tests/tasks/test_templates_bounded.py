"""Issue 22, class 2: templates are bounded by construction, and rendering has a hard work budget."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsabench.errors import FsabenchError, SpecError
from fsabench.templates import WORK_BUDGET_CHARS, check_template, render

SIX_LOOPS = "".join("{%% for c%d in input %%}" % i for i in range(6)) + "x" + "{% endfor %}" * 6


@pytest.mark.parametrize("template, words", [
    ("{{ input|join(input) }}", "filter 'join' takes a value that is not a constant"),
    ("{{ input|join(input)|join(input)|join(input) }}", "not a constant"),
    ("{{ input|join('xxxxxxxxxx')|join('yyyyyyyyyy') }}", "joins the output of a join"),
    (SIX_LOOPS, "loops over something other than shots"),
    ("{% for s in shots %}{% for t in shots %}{{ t.input }}{% endfor %}{% endfor %}", "nests a loop inside a loop"),
    ("{{ input|default(target) }}", "not a constant"),
    ("{{ input|truncate(*shots) }}", "not a constant"),
])
def test_templates_whose_work_could_multiply_are_refused(template, words):
    with pytest.raises(SpecError, match=words):
        check_template(template, "t.yaml")


def test_allowed_templates_still_check_and_render():
    for ok in ["Sentence: {{ input }}\nAnswer:", "{{ input|lower|trim|truncate(50) }}", "{{ input|join(', ') }}",
               "{% for s in shots %}{{ s.input }} -> {{ s.target }}\n{% endfor %}{{ input }}"]:
        check_template(ok, "t.yaml")
    assert render("{{ input|join('-') }}", "t", input="abc") == "a-b-c"


def test_the_work_budget_stops_a_render_before_it_builds_the_string():
    text = "a" * 50_000
    start = time.perf_counter()
    with pytest.raises(SpecError, match=f"more than {WORK_BUDGET_CHARS:,} characters of work"):
        render("{{ input|join('" + "x" * 100 + "') }}", "t", input=text)  # would be 5 MB
    assert time.perf_counter() - start < 1.0


TEMPLATE_PIECES = st.sampled_from(["{{ input }}", "{{ target }}", "{% for s in shots %}", "{% endfor %}", "{{ s.input }}",
                                   "{{ input|join(input) }}", "{{ input|upper }}", "{% if input %}", "{% endif %}",
                                   "{{ range(10) }}", "{{ input * 3 }}", "{{ input|join('--') }}", "text ", "{{",
                                   "{{ loop.index }}", "{{ input|truncate(5) }}", "{% for c in input %}"])


@settings(max_examples=120, deadline=None)
@given(st.lists(TEMPLATE_PIECES, max_size=8).map("".join), st.text(max_size=200))
def test_any_template_checks_and_renders_or_raises_one_spec_error(template, sentence):
    try:
        check_template(template, "t.yaml")
        out = render(template, "t", input=sentence, target="x")
        assert len(out) <= 200_000
    except FsabenchError as exc:
        assert "\n" not in str(exc)
