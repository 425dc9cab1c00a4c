"""Every claim a bundle makes besides its scores, checked against what can be re-derived.

verify.py re-scores the outputs; this module checks the rest of what a run says about itself:

- the task definition it records hashes to the sha256 it records and equals the leaderboard's task;
- the protocol agrees with the model scheme and with the prompts, which are re-rendered here from
  the task, the run's seed and its number of shots (a `baseline:` run or a run that sent the bare
  sentence is never zero-shot or few-shot);
- the model is the same in every run (name, scheme, identity), and its name agrees with its identity;
- seeds are distinct runs (a multi-seed entry whose seeds answer identically is refused);
- a model entry does not answer the gold on every example.

What cannot be checked (parameters, cost, license, link, date) is labelled "claimed" by `claims_table`.
Each failed check raises one SubmissionError naming the claim, the run and the fix.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from fsabench.examples import Example
from fsabench.leaderboard.spec import Category
from fsabench.leaderboard.submission import SubmissionError, SubmittedRun, prompts_sha256
from fsabench.results import RunResult
from fsabench.tasks.spec import TaskSpec

NEAR_IDENTICAL = 0.95  # seeds agreeing on at least this share of examples are flagged
CHAT_PROTOCOLS = ("zero-shot", "few-shot")


def canonical_definition(definition: dict[str, Any]) -> dict[str, Any]:
    """A definition as TaskSpec.definition_hash() sees it: no description, tags or prompt variants (a run
    records the one it used in `prompt`), and keys added after tasks were published left out while at
    their default (so older runs stay comparable)."""
    from fsabench.tasks.spec import _without_new_defaults

    unscored = ("description", "tags", "prompts")
    payload = json.loads(json.dumps({k: v for k, v in definition.items() if k not in unscored}))
    return _without_new_defaults(payload)


def definition_sha256(definition: dict[str, Any]) -> str:
    """TaskSpec.definition_hash() of a recorded definition."""
    text = json.dumps(canonical_definition(definition), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _first_diff(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_diff(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    return path or "(top level)"


def check_definition(run: SubmittedRun, spec: TaskSpec, label: str) -> None:
    """Claim: 'I ran this task'. The recorded definition must hash to the recorded sha and equal the board's."""
    recorded = run.task.definition
    if not recorded:
        raise SubmissionError(f"{label}: task definition: the run records none",
                              hint="re-run with a current fsabench, which stores the definition it ran")
    if definition_sha256(recorded) != run.task.sha256:
        raise SubmissionError(f"{label}: task definition: the recorded definition does not hash to the recorded "
                              f"sha256 {run.task.sha256[:12]}... (edited after the run)",
                              hint="submit the RunResult exactly as `fsabench run` wrote it")
    board = canonical_definition(spec.model_dump(mode="json"))
    mine = canonical_definition(recorded)
    if mine != board:
        raise SubmissionError(f"{label}: task definition: field '{_first_diff(mine, board)}' differs from the "
                              f"leaderboard's {spec.name}", hint="re-run with the current task definition")


# --- model and protocol ----------------------------------------------------------------------
def _name_matches_identity(run: SubmittedRun) -> str | None:
    """Why the run's model name disagrees with what its identity records, or None."""
    scheme, _, target = run.model.name.partition(":")
    if scheme != run.model.scheme:
        return f"model name {run.model.name!r} has scheme {scheme!r} but the run records scheme {run.model.scheme!r}"
    ident = run.model.identity
    if scheme == "baseline" and ident.get("baseline") not in (None, target):
        return f"model name {run.model.name!r} but its identity records baseline {ident.get('baseline')!r}"
    if scheme == "hf" and ident.get("model") is not None and run.protocol != "fine-tuned":
        # (a fine-tuned run names the student it started from; its identity records the checkpoint)
        recorded = str(Path(ident["model"]) / ident["gguf_file"]) if ident.get("gguf_file") else str(ident["model"])
        if Path(target) not in (Path(recorded), Path(str(ident["model"]))):
            return f"model name {run.model.name!r} but its identity records model {recorded!r}"
    if scheme == "openai-compat" and ident.get("endpoint") is not None:
        endpoint, _, served = target.partition("#")
        if endpoint.rstrip("/") != str(ident["endpoint"]).rstrip("/") or served != ident.get("model", served):
            return f"model name {run.model.name!r} but its identity records {ident['endpoint']}#{ident.get('model')}"
    return None


def _identity_key(run: SubmittedRun) -> str:
    ident = {k: v for k, v in run.model.identity.items() if k != "task"}  # baselines name their task
    return json.dumps([run.model.name, run.model.scheme, ident], sort_keys=True, ensure_ascii=False)


def check_model(runs: Sequence[SubmittedRun], category_key: str, category: Category, where: str) -> None:
    """Claim: 'one model made every run'. Name agrees with identity; same model throughout when required."""
    for index, run in enumerate(runs):
        problem = _name_matches_identity(run)
        if problem:
            raise SubmissionError(f"{where}: run {index} ({run.task.name}, seed {run.seed}): model identity: {problem}",
                                  hint="submit the runs exactly as `fsabench run` wrote them")
    schemes = sorted({r.model.scheme for r in runs})
    if len(schemes) > 1:
        raise SubmissionError(f"{where}: model identity: the runs use {len(schemes)} schemes ({', '.join(schemes)})",
                              hint="one entry is one model")
    if category.same_model:
        keys = {_identity_key(r) for r in runs}
        if len(keys) > 1:
            names = sorted({r.model.name for r in runs})
            what = f"names {', '.join(names[:3])}" if len(names) > 1 else f"{len(keys)} different identities of {names[0]}"
            raise SubmissionError(f"{where}: model identity: category {category_key!r} needs one model in every run; "
                                  f"the runs record {what}", hint="submit one model's runs")


def check_protocol(run: SubmittedRun, label: str) -> None:
    """Claim: 'this is how the model was prompted'. Protocol agrees with the scheme, the prompt style
    and the number of shots; a raw-input or baseline run is never zero- or few-shot."""
    shots = run.meta.get("num_shots") or 0
    style = run.prompts.style if run.prompts else None
    if run.prompts is None:
        raise SubmissionError(f"{label}: protocol: the run records no prompts digest",
                              hint="rebuild the bundle with `fsabench leaderboard submit`")
    if (run.model.scheme == "baseline") != (run.protocol == "baseline"):
        raise SubmissionError(f"{label}: protocol: {run.protocol!r} with a {run.model.scheme}: model "
                              "(protocol 'baseline' is for baseline: models only)",
                              hint="submit the run with the protocol `fsabench run` recorded")
    if run.protocol in CHAT_PROTOCOLS and style != "chat":
        raise SubmissionError(f"{label}: protocol: {run.protocol!r} but the model was sent the bare sentence "
                              "(raw input is fine-tuned or baseline, never zero- or few-shot)",
                              hint="submit it in the category that matches how it was run")
    if run.protocol == "zero-shot" and shots:
        raise SubmissionError(f"{label}: protocol: 'zero-shot' but the run used {shots} shots",
                              hint="submit it as few-shot")
    if run.protocol == "few-shot" and not shots:
        raise SubmissionError(f"{label}: protocol: 'few-shot' but the run used no shots", hint="submit it as zero-shot")


def check_prompts(run: SubmittedRun, spec: TaskSpec, examples: Sequence[Example], train: Sequence[Example],
                  label: str) -> None:
    """Re-render every chat prompt from the task, seed and shots; the recorded digest must match."""
    if run.prompts is None or run.prompts.style != "chat":
        return
    from fsabench.prompts import build_requests

    requests = build_requests(spec, examples, "chat", train, run.meta.get("num_shots") or 0, run.seed)
    fresh = [list(r.messages) if r.messages else r.prompt for r in requests]
    if prompts_sha256(fresh) != run.prompts.sha256:
        raise SubmissionError(f"{label}: protocol: the recorded prompts are not the task's prompts with "
                              f"{run.meta.get('num_shots') or 0} shots drawn with seed {run.seed}",
                              hint="submit the RunResult as `fsabench run` wrote it")


# --- seeds, gold copies, duplicates ------------------------------------------------------------
def _outputs(result: RunResult) -> dict[str, str | None]:
    return {r.id: r.output for r in result.examples}


def check_seeds_distinct(results: Sequence[RunResult], category: Category, where: str) -> list[str]:
    """Claim: 'these are N runs'. Identical outputs on every example across two seeds are one run
    copied (refused when the entry counts seeds as runs: fine-tuned or min_seeds > 1), with one
    exception: two distinct checkpoints (different recorded identities) that both answer one constant
    string to everything are a collapsed model, not a copy, and are flagged. Near-identical pairs are
    flagged. (The audit re-loads each checkpoint and checks its fingerprint.)"""
    flags = []
    by_task: dict[str, list[RunResult]] = defaultdict(list)
    for r in results:
        by_task[r.task.name].append(r)
    counted = category.min_seeds > 1 or any(r.protocol == "fine-tuned" for r in results)
    for task, runs in by_task.items():
        close, constant_pairs = [], 0
        for a, b in combinations(runs, 2):
            oa, ob = _outputs(a), _outputs(b)
            shared = [i for i in oa if i in ob]
            if not shared:
                continue
            same = sum(oa[i] == ob[i] for i in shared) / len(shared)
            constant = len(set(oa.values()) | set(ob.values())) == 1
            if same == 1.0 and counted and constant and _identity_key(a) != _identity_key(b):
                constant_pairs += 1
                continue
            if same == 1.0 and counted:
                raise SubmissionError(f"{where}: seeds: {task} seeds {a.seed} and {b.seed} give identical outputs on "
                                      f"all {len(shared)} examples (one run copied under two seeds)",
                                      hint="submit one real run per seed")
            if same >= NEAR_IDENTICAL and counted:
                close.append(same)
        pairs = len(runs) * (len(runs) - 1) // 2
        if constant_pairs:
            flags.append(f"{task}: {constant_pairs} of {pairs} seed pairs answer one and the same constant string "
                         f"to all {len(runs[0].examples)} examples (a collapsed model; distinct checkpoints)")
        if close:
            flags.append(f"{task}: {len(close)} of {pairs} seed pairs agree on at least {NEAR_IDENTICAL:.0%} of "
                         f"examples (up to {max(close):.1%})")
    return flags


def check_not_gold(results: Sequence[RunResult], category_key: str, category: Category, where: str) -> None:
    """A model entry whose every prediction equals the gold is the scorer's sanity check, not a model."""
    if not category.ranked:
        return
    records = [r for result in results for r in result.examples]
    if records and all(sorted(map(tuple, r.prediction)) == sorted(map(tuple, r.gold)) for r in records):
        raise SubmissionError(f"{where}: outputs: every prediction equals the gold on all {len(records)} examples "
                              f"(baseline:gold), not a {category_key!r} model", hint="submit real model outputs")


def outputs_fingerprint(results: Sequence[RunResult]) -> str:
    """One hash of every (task, id, output) of an entry's first seed per task (seeds may differ)."""
    digest = hashlib.sha256()
    firsts: dict[str, RunResult] = {}
    for r in sorted(results, key=lambda r: (r.task.name, r.seed)):
        firsts.setdefault(r.task.name, r)
    for task, r in sorted(firsts.items()):
        for ex in r.examples:
            digest.update(json.dumps([task, ex.id, ex.output], ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def flag_duplicates(rows: Sequence[dict[str, Any]]) -> None:
    """Two entries with identical outputs under different names: flag both (rows carry `fingerprint`)."""
    by_print: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("fingerprint"):
            by_print[row["fingerprint"]].append(row)
    for group in by_print.values():
        for row in group if len(group) > 1 else ():
            others = ", ".join(o["name"] for o in group if o is not row)
            row.setdefault("flags", [])
            note = f"identical outputs to {others}"
            if note not in row["flags"]:
                row["flags"].append(note)


def seeds_claim(results: Sequence[RunResult]) -> str:
    """What the seeds verifiably are: 'no two answer identically' only when that holds on every task
    (two collapsed checkpoints that answer one constant string are allowed through, and flagged)."""
    by_task: dict[str, list[RunResult]] = defaultdict(list)
    for r in results:
        by_task[r.task.name].append(r)
    identical = sum(_outputs(a) == _outputs(b) for runs in by_task.values() for a, b in combinations(runs, 2))
    seeds = len({r.seed for r in results})
    if identical:
        return f"{seeds} seed(s); {identical} seed pair(s) answer identically on a task (see the flags)"
    return f"{seeds} seed(s); no two seeds answer identically" if seeds > 1 else "1 seed"


def claims_table(results: Sequence[RunResult], entry) -> list[dict[str, str]]:
    """What the site shows as 'verified' (re-derived here) and as 'claimed' (the submitter's word)."""
    cost = sum(r.usage.cost_usd for r in results)
    verified = [
        ("scores", "re-computed from the raw outputs against the leaderboard's gold"),
        ("task definition", "hashes to its sha256 and equals the leaderboard's task; data files' sha256 match"),
        ("protocol", "agrees with the model scheme; prompts re-rendered from task, seed and shots match"),
        ("model", "the same name and identity in every run" if len({r.model.name for r in results}) == 1
         else "one scheme; each run's name agrees with its identity"),
        ("seeds", seeds_claim(results)),
    ]
    claimed = [
        ("parameters", "–" if entry.parameters is None else f"{entry.parameters:,}"),
        ("cost", f"${cost:.4f} (usage recorded by the runs)"),
        ("license", entry.license or "–"), ("base model", entry.base_model or "–"),
        ("link", entry.link or "–"), ("date", entry.date.isoformat()),
    ]
    return ([{"claim": c, "status": "verified", "detail": d} for c, d in verified]
            + [{"claim": c, "status": "claimed", "detail": d} for c, d in claimed])
