"""Prompt templates from task files: jinja2 in a sandbox, restricted so rendering is bounded in time and size.

A task file is someone else's input. The sandbox already stops code execution; on top of it a template
may only print values, test them, loop (one level, never nested) over `shots` and apply text filters whose
arguments are constants. No `range`, no calls, no arithmetic, no `join` of a `join`, no loop over the
sentence: the work of rendering is linear in the template and the example. Rendering also has a hard work
budget (every filter's output is charged before it is used, `join` before it is built) and the output is
capped at MAX_OUTPUT_CHARS.
"""

from __future__ import annotations

import contextvars
import functools
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

from fsabench.errors import SpecError

MAX_TEMPLATE_CHARS = 20_000
MAX_OUTPUT_CHARS = 200_000
WORK_BUDGET_CHARS = 2_000_000  # characters all filters of one render may produce (output included: 10x)
LOOP_VARIABLES = ("shots",)
VARIABLES = ("input", "target", "shots")
SAFE_FILTERS = frozenset({"lower", "upper", "trim", "capitalize", "title", "striptags", "length", "count", "first",
                          "last", "default", "d", "join", "string", "e", "escape", "truncate", "wordcount"})
SAFE_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr,
              nodes.Getitem, nodes.Filter, nodes.Test, nodes.If, nodes.CondExpr, nodes.Compare, nodes.Operand,
              nodes.And, nodes.Or, nodes.Not, nodes.Concat, nodes.For, nodes.List, nodes.Tuple, nodes.Keyword)
HINT = ("templates may print {{ input }}, {{ target }} and loop (not nested) over {{ shots }}, with text filters "
        f"({', '.join(sorted(SAFE_FILTERS))}) whose arguments are constants; no calls, ranges or arithmetic")
_spent: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("template_work", default=None)


class WorkBudget(Exception):
    """A render spent more than WORK_BUDGET_CHARS (raised inside jinja2; render() turns it into a SpecError)."""


def _charge(chars: int) -> None:
    spent = _spent.get()
    if spent is not None:
        spent[0] += chars
        if spent[0] > WORK_BUDGET_CHARS:
            raise WorkBudget(f"rendering spent more than {WORK_BUDGET_CHARS:,} characters of work")


def _charged(name: str, fn):
    """A filter that charges the characters it produces; `join` is charged what it would build, before."""
    @functools.wraps(fn)  # keeps jinja2's pass_context / pass_eval_context marker
    def wrapper(*args, **kwargs):
        if name == "join":
            value = args[1] if len(args) > 1 else kwargs.get("value", "")
            sep = args[2] if len(args) > 2 else kwargs.get("d", "")
            if isinstance(value, str) and isinstance(sep, str):
                _charge(len(value) * (1 + len(sep)))
        out = fn(*args, **kwargs)
        _charge(len(out) if isinstance(out, str) else 1)
        return out

    return wrapper


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters = {name: _charged(name, fn) for name, fn in env.filters.items() if name in SAFE_FILTERS}
    return env


def _check_bounded(tree: nodes.Template, where: str) -> None:
    """Constructs allowed node by node can still multiply work: loops inside loops (k^depth), a loop over
    the sentence (per character), filter arguments that are values (`input|join(input)` is quadratic)."""
    for loop in tree.find_all(nodes.For):
        if not (isinstance(loop.iter, nodes.Name) and loop.iter.name in LOOP_VARIABLES):
            raise SpecError(f"{where}: template loops over something other than shots (line {loop.lineno})", hint=HINT)
        if any(True for _ in loop.find_all(nodes.For)):
            raise SpecError(f"{where}: template nests a loop inside a loop (line {loop.lineno})", hint=HINT)
    for node in tree.find_all(nodes.Filter):
        if node.dyn_args is not None or node.dyn_kwargs is not None or \
                not all(isinstance(a, nodes.Const) for a in [*node.args, *(k.value for k in node.kwargs)]):
            raise SpecError(f"{where}: template filter '{node.name}' takes a value that is not a constant "
                            f"(line {node.lineno})", hint=HINT)
        if node.name == "join" and node.node is not None and \
                any(isinstance(f, nodes.Filter) and f.name == "join"
                    for f in [node.node, *node.node.find_all(nodes.Filter)]):
            raise SpecError(f"{where}: template joins the output of a join (line {node.lineno})", hint=HINT)


def check_template(source: str, where: str) -> None:
    """Refuse templates that could run long or grow without bound; name the construct and the file."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise SpecError(f"{where}: template of {len(source)} characters is too long", hint=f"keep it under {MAX_TEMPLATE_CHARS}")
    try:
        tree = environment().parse(source)
    except TemplateError as exc:
        raise SpecError(f"{where}: template does not compile ({exc})", hint=HINT) from None
    _check_bounded(tree, where)
    loop_vars = {t.name for f in tree.find_all(nodes.For)
                 for t in [f.target, *f.target.find_all(nodes.Name)] if isinstance(t, nodes.Name)}
    known = set(VARIABLES) | {"loop"} | loop_vars
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, SAFE_NODES):
            raise SpecError(f"{where}: template uses {type(node).__name__.lower()} (line {node.lineno})", hint=HINT)
        if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
            raise SpecError(f"{where}: template filter '{node.name}' is not allowed (line {node.lineno})", hint=HINT)
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in known:
            raise SpecError(f"{where}: template uses unknown variable '{node.name}' (line {node.lineno})", hint=HINT)


@lru_cache(maxsize=256)
def compiled(source: str):
    """Compile each template once (compiling costs ~0.5 ms, rendering ~20 us)."""
    check_template(source, "prompt template")
    return environment().from_string(source)


def render(source: str, task: str, **values: object) -> str:
    """Render a checked template, streaming, within the work budget; stop once the output passes MAX_OUTPUT_CHARS."""
    token = _spent.set([0])
    try:
        pieces, size = [], 0
        for piece in compiled(source).generate(**values):
            size += len(piece)
            _charge(len(piece))
            if size > MAX_OUTPUT_CHARS:
                raise SpecError(f"task {task}: a prompt template renders more than {MAX_OUTPUT_CHARS} characters",
                                hint="shorten the template or the shots it repeats")
            pieces.append(piece)
        return "".join(pieces)
    except WorkBudget as exc:
        raise SpecError(f"task {task}: a prompt template {exc} (limit {WORK_BUDGET_CHARS:,})",
                        hint="shorten the template or its filters' output") from None
    except TemplateError as exc:
        raise SpecError(f"task {task}: prompt template failed ({exc})", hint=HINT) from None
    finally:
        _spent.reset(token)
