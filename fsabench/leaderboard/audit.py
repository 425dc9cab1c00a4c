"""Audit by reproduction: re-run sampled examples through the claimed model and compare.

`fsabench leaderboard audit SUBMISSION --sample N --seed S` draws N (run, example) pairs with a
seeded RNG, rebuilds each request exactly as `fsabench run` did (the task's prompts, the run's shots
drawn with its seed, its prompt style and recorded settings), sends them to the model the run names
(`hf:` path or hub id, `openai-compat:` endpoint, `litellm:` with the auditor's own key), with no
response cache, and compares the new outputs with the submitted ones:

- identical-output rate (exact string equality);
- F1 of the sample both ways: submitted vs gold and reproduced vs gold, and the agreement F1 of the
  reproduced predictions against the submitted ones.

It passes when both agreement figures reach the leaderboard's `audit` thresholds. The result is
written to `<leaderboard>/audits/<slug>.json`, bound to the bundle by its sha256; `verify` checks the
audit against the bundle (submitted outputs and counts re-derived), and the site shows it as a badge.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fsabench.models.answers import answers_of
from fsabench import __version__
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.submission import SubmissionError
from fsabench.metrics import tuple_f1
from fsabench.results import RunResult

AUDIT_KIND = "fsabench-leaderboard-audit"
MAX_AUDIT_BYTES = 20_000_000
# Recorded settings that are the adapter's options (others, like "decoding", describe but do not configure).
OPTION_KEYS = ("batch_size", "device", "dtype", "max_new_tokens", "prompt_style", "concurrency", "timeout",
               "max_retries", "api_base")


class AuditExample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    seed: int
    id: str
    submitted: str | None
    reproduced: str | None
    error: str | None = None


class Audit(BaseModel):
    """One audit of one bundle; stored as audits/<slug>.json next to submissions/."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fsabench-leaderboard-audit"] = AUDIT_KIND
    audit_version: int = 1
    leaderboard: str
    slug: str
    entry: str
    bundle_sha256: str = Field(description="sha256 of the bundle file the audit re-ran")
    date: dt.date
    fsabench_version: str = __version__
    sample: int = Field(description="examples requested (--sample)")
    seed: int
    models: list[str]
    identity_mismatch: list[str] = Field(default_factory=list, description="models whose identity now differs")
    n: int
    identical: int
    f1_submitted: float | None = Field(description="sample F1 x100 of the submitted outputs against the gold")
    f1_reproduced: float | None = Field(description="sample F1 x100 of the re-run outputs against the gold")
    agreement_f1: float | None = Field(description="F1 x100 of re-run predictions against submitted predictions "
                                                   "(null when the submitted side predicted nothing)")
    min_identical: float
    min_agreement_f1: float
    passed: bool
    examples: list[AuditExample]

    def badge(self) -> str:
        word = "audited" if self.passed else "audit FAILED"
        return f"{word}: {self.identical}/{self.n} identical, {self.date.isoformat()}"


def sha256_bytes(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def audit_path(board: Leaderboard, slug: str) -> Path:
    return board.root / "audits" / f"{slug}.json"


def sample_pairs(results: Sequence[RunResult], sample: int, seed: int) -> list[tuple[int, int]]:
    """N (run index, example index) pairs drawn with random.Random(seed), in run/example order."""
    pool = [(i, j) for i, r in enumerate(results) for j in range(len(r.examples))]
    return sorted(random.Random(seed).sample(pool, min(sample, len(pool))))


def model_options(result: RunResult) -> dict[str, Any]:
    """The adapter options a run recorded (batch size, dtype, prompt style, token budget, ...)."""
    return {k: v for k, v in result.model.settings.items() if k in OPTION_KEYS and v is not None}


def audited_model(result: RunResult) -> str:
    """The model string to load: the run's name, except a fine-tuned hf: run, which names the student it
    started from and records its checkpoint in its identity (that checkpoint is what answered)."""
    ident = result.model.identity
    if result.model.scheme == "hf" and result.protocol == "fine-tuned" and ident.get("model"):
        path = str(Path(ident["model"]) / ident["gguf_file"]) if ident.get("gguf_file") else str(ident["model"])
        return f"hf:{path}"
    return result.model.name


def _pooled_f1(gold: list[list[tuple]], pred: list[list[tuple]]) -> float | None:
    """Micro F1 x100 over the sample; undefined (None) when the reference side has no tuple at all
    (a score of nothing is never 100)."""
    if not any(gold):
        return None
    return round(100 * tuple_f1(gold, pred).f1, 2)


def _strip_task(identity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in identity.items() if k != "task"}


def reproduce(board: Leaderboard, data_root: Path, results: Sequence[RunResult],
              picks: Sequence[tuple[int, int]], load=None) -> tuple[dict[tuple[int, int], Any], list[str]]:
    """Re-run the picked examples, one adapter per model name; returns completions and identity mismatches."""
    from fsabench.examples import load_split
    from fsabench.models import load_model
    from fsabench.models.base import maybe_prepare
    from fsabench.prompts import build_requests
    from fsabench.runner import task_context

    load = load or load_model
    by_run: dict[int, list[int]] = defaultdict(list)
    for i, j in picks:
        by_run[i].append(j)
    adapters: dict[str, Any] = {}
    mismatched: list[str] = []
    done: dict[tuple[int, int], Any] = {}
    try:
        for i, indexes in sorted(by_run.items()):
            result = results[i]
            spec = board.tasks[result.task.name]
            name = audited_model(result)
            if name not in adapters:
                adapters[name] = load(name, **model_options(result))
            adapter = adapters[name]
            test = {e.id: e for e in load_split(spec, data_root, board.spec.split).examples}
            examples = [test[result.examples[j].id] for j in indexes]
            context = task_context(spec, data_root, examples)
            maybe_prepare(adapter, context)
            identity = _strip_task(adapter.identity())
            if identity != _strip_task(result.model.identity) and name not in mismatched:
                mismatched.append(name)
            requests = build_requests(spec, examples, adapter.prompt_style, context.train,
                                      result.meta.get("num_shots") or 0, result.seed)
            for j, completion in zip(indexes, answers_of(adapter, requests)):
                done[(i, j)] = completion
    finally:
        for adapter in adapters.values():
            close = getattr(adapter, "close", None)
            if callable(close):
                close()
    return done, mismatched


def run_audit(board: Leaderboard, data_root: Path, verified, bundle_raw: bytes, sample: int = 50, seed: int = 0,
              load=None, today: dt.date | None = None) -> Audit:
    """Audit a verified submission (verify.Verified) and return the result (not yet written)."""
    from fsabench.examples import load_split
    from fsabench.scoring import score_record

    tests: dict[str, dict] = {}
    if sample < 1:
        raise SubmissionError(f"--sample {sample}: audit at least one example", hint="e.g. --sample 50")
    results = verified.results
    picks = sample_pairs(results, sample, seed)
    done, mismatched = reproduce(board, data_root, results, picks, load)
    rows, gold, sub_pred, new_pred = [], [], [], []
    for i, j in picks:
        result, record = results[i], results[i].examples[j]
        completion = done[(i, j)]
        text = None if completion.error else completion.text
        spec = board.tasks[result.task.name]
        if result.task.name not in tests:
            tests[result.task.name] = {e.id: e for e in load_split(spec, data_root, board.spec.split).examples}
        fresh = score_record(spec, tests[result.task.name][record.id], text, completion.error)
        rows.append(AuditExample(task=result.task.name, seed=result.seed, id=record.id, submitted=record.output,
                                 reproduced=text, error=completion.error))
        gold.append([tuple(t) for t in record.gold])
        sub_pred.append([tuple(t) for t in record.prediction])
        new_pred.append([tuple(t) for t in fresh.prediction])
    return summarize_audit(board, verified, bundle_raw, rows, gold, sub_pred, new_pred, sample, seed,
                           sorted({audited_model(results[i]) for i, _ in picks}), mismatched, today)


def summarize_audit(board: Leaderboard, verified, bundle_raw: bytes, rows: list[AuditExample], gold, sub_pred,
                    new_pred, sample: int, seed: int, models: list[str], mismatched: list[str],
                    today: dt.date | None) -> Audit:
    identical = sum(r.submitted == r.reproduced and r.error is None for r in rows)
    agreement = _pooled_f1(sub_pred, new_pred)
    rule = board.spec.audit
    passed = (not mismatched and bool(rows) and identical / len(rows) >= rule.min_identical
              and (agreement is None or agreement >= rule.min_agreement_f1))
    return Audit(leaderboard=board.name, slug=verified.slug, entry=verified.bundle.entry.name,
                 bundle_sha256=sha256_bytes(bundle_raw), date=today or dt.date.today(), sample=sample, seed=seed,
                 models=models, identity_mismatch=mismatched, n=len(rows), identical=identical,
                 f1_submitted=_pooled_f1(gold, sub_pred), f1_reproduced=_pooled_f1(gold, new_pred),
                 agreement_f1=agreement, min_identical=rule.min_identical, min_agreement_f1=rule.min_agreement_f1,
                 passed=passed, examples=rows)


def audit_json(audit: Audit) -> str:
    payload = audit.model_dump(mode="json")
    rows = payload.pop("examples")
    text = json.dumps(payload, ensure_ascii=False, indent=1)[:-2]
    lines = ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in rows)
    return text + ',\n "examples": [\n' + lines + "\n ]\n}\n"


def read_audit(path: Path) -> Audit:
    """Parse an audit file (bounded size, strict schema); errors name the file and field."""
    if path.stat().st_size > MAX_AUDIT_BYTES:
        raise SubmissionError(f"{path}: audit file over {MAX_AUDIT_BYTES:,} bytes", hint="re-run the audit")
    try:
        return Audit.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SubmissionError(f"{path}: audit field '{'.'.join(map(str, err['loc']))}': {err['msg']}",
                              hint="re-run `fsabench leaderboard audit`") from None


def check_audit(audit: Audit, verified, bundle_raw: bytes, where: str) -> str:
    """Re-derive what an audit file says from the bundle; returns 'passed', 'failed' or 'stale'.

    The re-run outputs are the auditor's record; everything else (the submitted outputs it compared,
    the counts, the F1s, the verdict) must follow from the bundle and those outputs."""
    if audit.bundle_sha256 != sha256_bytes(bundle_raw):
        return "stale"
    by_key = {(r.task.name, r.seed): {e.id: e for e in r.examples} for r in verified.results}
    gold, sub_pred = [], []
    for row in audit.examples:
        record = by_key.get((row.task, row.seed), {}).get(row.id)
        if record is None or record.output != row.submitted:
            raise SubmissionError(f"{where}: audit: example {row.task}/{row.id} (seed {row.seed}) does not match "
                                  "the bundle's submitted output", hint="re-run `fsabench leaderboard audit`")
        gold.append([tuple(t) for t in record.gold])
        sub_pred.append([tuple(t) for t in record.prediction])
    identical = sum(r.submitted == r.reproduced and r.error is None for r in audit.examples)
    if identical != audit.identical or len(audit.examples) != audit.n or _pooled_f1(gold, sub_pred) != audit.f1_submitted:
        raise SubmissionError(f"{where}: audit: its counts do not follow from its examples",
                              hint="re-run `fsabench leaderboard audit`")
    rate_ok = audit.n > 0 and identical / audit.n >= audit.min_identical
    agreement_ok = audit.agreement_f1 is None or audit.agreement_f1 >= audit.min_agreement_f1
    if audit.passed and not (rate_ok and not audit.identity_mismatch and agreement_ok):
        raise SubmissionError(f"{where}: audit: marked passed but its figures are under its thresholds",
                              hint="re-run `fsabench leaderboard audit`")
    return "passed" if audit.passed else "failed"
