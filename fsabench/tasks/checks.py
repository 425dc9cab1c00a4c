"""Checks every command runs on a task before using it: gold builder params and prompt templates.

`fsabench run`, `score`, `tasks validate` and the Python API all reach a task through the registry, which
calls `check_task`, so a misspelt builder parameter or an unbounded template is refused the same way
everywhere (not only by `tasks validate`).
"""

from __future__ import annotations

from collections.abc import Sequence

from fsabench.tasks import gold
from fsabench.tasks.spec import TaskSpec

SAMPLE_INPUT = "The food was great but the service was slow."


def check_task(spec: TaskSpec, where: str) -> None:
    """Strict gold params, then compile and render every template on a stand-in example."""
    gold.check_params(spec.gold.builder, spec.gold.params, where)
    for name in spec.prompt_names:  # every variant, so a bad one fails at load, not mid-sweep
        check_prompts(spec.with_prompt(name), where if name == "default" else f"{where}: prompts.{name}",
                      SAMPLE_INPUT, SAMPLE_INPUT, "")


def check_prompts(spec: TaskSpec, where: str, query_input: str, shot_input: str, shot_target: str,
                  shots: Sequence[object] = ()) -> None:
    """Render the query and shot templates once (on a real example when `tasks validate --check-data`)."""
    from fsabench.templates import check_template, render

    for field in ("template", "shot_template"):
        check_template(getattr(spec.prompt, field), f"{where}: prompt.{field}")
    render(spec.prompt.template, spec.name, input=query_input, shots=list(shots))
    render(spec.prompt.shot_template, spec.name, input=shot_input, target=shot_target, shots=list(shots))
