"""`fsabench leaderboard audit SUBMISSION`: re-run sampled examples through the claimed model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fsabench.console import out
from fsabench.io import write_text_atomic
from fsabench.leaderboard.audit import audit_json, audit_path, run_audit
from fsabench.leaderboard.spec import load_leaderboard
from fsabench.leaderboard.submission import SubmissionError, read_bundle_bytes
from fsabench.leaderboard.verify import Verifier
from fsabench.settings import data_dir as resolve_data_dir


def audit_command(submission: Path, sample: int, seed: int, leaderboard: str | None, output: Path | None,
                  lb_dir: Path | None, data_dir: Path | None, tasks_dir: list[str] | None, json_out: bool) -> None:
    """Verify the bundle, audit it, store the audit next to the leaderboard's submissions; a failed
    audit is stored too (it marks the entry) and exits 1."""
    from fsabench.commands.leaderboard import _bundle_leaderboard

    if not submission.is_file():
        raise SubmissionError(f"{submission}: no such submission file", hint="pass a submissions/<slug>.json (or .json.gz) bundle")
    name = leaderboard or _bundle_leaderboard(submission)
    folder = submission.parent.parent
    in_board = submission.parent.name == "submissions" and (folder / "leaderboard.yaml").is_file()
    board = load_leaderboard(name, folder.parent if in_board else lb_dir, tasks_dir)
    root = resolve_data_dir(data_dir)
    raw = read_bundle_bytes(submission, board.spec.limits)
    verified = Verifier(board, root).verify_bytes(raw, str(submission))
    audit = run_audit(board, root, verified, raw, sample=sample, seed=seed)
    path = output or audit_path(board, verified.slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, audit_json(audit))
    path.chmod(0o644)
    summary = {"file": str(path), "passed": audit.passed, "badge": audit.badge(), "n": audit.n,
               "identical": audit.identical, "f1_submitted": audit.f1_submitted,
               "f1_reproduced": audit.f1_reproduced, "agreement_f1": audit.agreement_f1,
               "identity_mismatch": audit.identity_mismatch}
    if json_out:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        plain = {"markup": False, "highlight": False, "soft_wrap": True}
        out.print(f"{audit.badge()} ({verified.bundle.entry.name}); sample F1 submitted {audit.f1_submitted}, "
                  f"re-run {audit.f1_reproduced}, agreement F1 {audit.agreement_f1}", **plain)
        out.print(f"wrote {path}", **plain)
    if not audit.passed:
        why = (f"model identity changed for {', '.join(audit.identity_mismatch)}" if audit.identity_mismatch else
               f"{audit.identical}/{audit.n} identical (needs {audit.min_identical:.0%}), agreement F1 "
               f"{audit.agreement_f1} (needs {audit.min_agreement_f1})")
        raise SubmissionError(f"{submission}: audit failed: {why}; the entry is marked as failing its audit",
                              hint="the submitted outputs do not come from the claimed model with the recorded settings")
