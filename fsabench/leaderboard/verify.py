"""Verify a submission: hashes, coverage, protocol rules, and every score re-computed from outputs.

Re-scoring runs the same code as `fsabench run`: each submitted raw output is parsed with
`scoring.score_record` against the gold this leaderboard loads from its own copy of the task data,
then `scoring.score_records` scores every subset. A claimed score that differs in any field from
the re-computed one rejects the submission.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from fsabench.examples import Example, SplitData, load_split
from fsabench.leaderboard import claims
from fsabench.leaderboard.ranking import summarize
from fsabench.leaderboard.stats import example_counts
from fsabench.leaderboard.spec import Leaderboard
from fsabench.leaderboard.submission import (Submission, SubmissionError, SubmittedRun, check_entry,
                                             entry_slug, parse_bundle, read_bundle_bytes, bundle_slug)
from fsabench.results import Record, RunResult
from fsabench.scoring import first_score_difference, score_record, score_records


@dataclass(frozen=True)
class Verified:
    """A submission that passed every check, with its runs re-scored from the leaderboard's gold."""

    bundle: Submission
    slug: str
    results: list[RunResult]  # full records: gold, parsed prediction and subsets rebuilt here
    row: dict  # the ranked-table summary (ranking.summarize), with flags, claims and the outputs' fingerprint


def run_label(run: SubmittedRun, index: int) -> str:
    return f"run {index} ({run.task.name}, seed {run.seed})"


class Verifier:
    """Checks bundles against one leaderboard; loads each task's test split once and keeps it."""

    def __init__(self, board: Leaderboard, data_root: Path) -> None:
        self.board = board
        self.data_root = data_root
        self._splits: dict[str, SplitData] = {}
        self._train: dict[str, list[Example]] = {}
        self._loading = threading.Lock()  # a service warms the splits in the background while requests arrive

    def split(self, task: str) -> SplitData:
        if task not in self._splits:
            with self._loading:
                if task not in self._splits:
                    self._splits[task] = load_split(self.board.tasks[task], self.data_root, self.board.spec.split)
        return self._splits[task]

    def train(self, task: str) -> list[Example]:
        """The train split (few-shot demonstrations are drawn from it when prompts are re-rendered)."""
        if task not in self._train:
            with self._loading:
                spec = self.board.tasks[task]
                self._train[task] = load_split(spec, self.data_root, "train").examples if "train" in spec.data.splits else []
        return self._train[task]

    def verify_file(self, path: Path) -> Verified:
        """A bundle file; inside a leaderboard's submissions/ folder its name must be its slug."""
        raw = read_bundle_bytes(path, self.board.spec.limits)
        bundle = parse_bundle(raw, str(path), self.board.spec.limits)
        verified = self.verify_bundle(bundle, str(path))
        if path.parent.name == "submissions":
            self.attach_audit(verified, raw, str(path))
        suffix = ".json.gz" if path.name.endswith(".json.gz") else ".json"
        if path.parent.name == "submissions" and bundle_slug(path) != verified.slug:
            raise SubmissionError(f"{path}: file name should be {verified.slug}{suffix} for entry "
                                  f"{bundle.entry.name!r}", hint=f"rename it to {verified.slug}{suffix}")
        twin = path.parent / (verified.slug + (".json" if suffix == ".json.gz" else ".json.gz"))
        if path.parent.name == "submissions" and twin.exists():
            raise SubmissionError(f"{path}: {twin.name} is a second bundle for the same entry {verified.slug!r}",
                                  hint="keep one of the two files")
        if path.parent.name == "submissions" and path.parent.parent.name != bundle.leaderboard:
            raise SubmissionError(f"{path}: bundle is for leaderboard {bundle.leaderboard!r} but sits in "
                                  f"{path.parent.parent.name!r}", hint="move it to the right leaderboard folder")
        return verified

    def attach_audit(self, verified: Verified, raw: bytes, where: str) -> None:
        """Put the entry's stored audit (audits/<slug>.json) on its row, checked against the bundle."""
        from fsabench.leaderboard.audit import audit_path, check_audit, read_audit

        path = audit_path(self.board, verified.slug)
        if not path.is_file():
            verified.row["audit"] = None
            return
        audit = read_audit(path)
        status = check_audit(audit, verified, raw, where)
        verified.row["audit"] = {"status": status, "badge": audit.badge() if status != "stale" else
                                 f"audit stale (bundle changed since {audit.date.isoformat()})",
                                 "date": audit.date.isoformat(), "n": audit.n, "identical": audit.identical,
                                 "f1_submitted": audit.f1_submitted, "f1_reproduced": audit.f1_reproduced,
                                 "agreement_f1": audit.agreement_f1, "sample": audit.sample, "seed": audit.seed,
                                 "identity_mismatch": audit.identity_mismatch}

    def verify_bytes(self, raw: bytes, where: str) -> Verified:
        return self.verify_bundle(parse_bundle(raw, where, self.board.spec.limits), where)

    def verify_bundle(self, bundle: Submission, where: str) -> Verified:
        spec = self.board.spec
        if bundle.leaderboard != spec.name:
            raise SubmissionError(f"{where}: bundle is for leaderboard {bundle.leaderboard!r}, not {spec.name!r}",
                                  hint=f"submit it with --leaderboard {bundle.leaderboard}")
        check_entry(bundle.entry, where, spec.limits, list(spec.categories))
        if not bundle.runs:
            raise SubmissionError(f"{where}: the bundle has no runs", hint="pass RunResult files for every task")
        if len(bundle.runs) > spec.limits.max_runs:
            raise SubmissionError(f"{where}: {len(bundle.runs)} runs, over the limit of {spec.limits.max_runs}",
                                  hint="submit only the runs the protocol asks for")
        self.check_protocol(bundle, where)
        category = spec.categories[bundle.entry.category]
        claims.check_model(bundle.runs, bundle.entry.category, category, where)
        results = [self.rescore(run, index, where) for index, run in enumerate(bundle.runs)]
        self.check_seeds(bundle, where)
        flags = claims.check_seeds_distinct(results, category, where)
        claims.check_not_gold(results, bundle.entry.category, category, where)
        return self.accepted(bundle, results, flags)

    def accepted(self, bundle: Submission, results: list[RunResult], flags: list[str]) -> Verified:
        """The accepted entry and its table row, from runs that passed every check and were re-scored."""
        spec = self.board.spec
        category = spec.categories[bundle.entry.category]
        order = {task: i for i, task in enumerate(spec.tasks)}
        results.sort(key=lambda r: (order[r.task.name], r.seed))
        row = summarize(self.board, bundle.entry, results)
        partial = {r.task.name: [len(r.examples), len(self.split(r.task.name).examples)]
                   for r in results if len(r.examples) < len(self.split(r.task.name).examples)}
        row.update(flags=flags, partial=partial, fingerprint=claims.outputs_fingerprint(results), audit=None,
                   counts=example_counts(results),
                   claims=claims.claims_table(results, bundle.entry), ranked=category.ranked,
                   require_audit=category.require_audit)
        return Verified(bundle, entry_slug(bundle.entry.name), results, row)

    def check_protocol(self, bundle: Submission, where: str) -> None:
        category = self.board.spec.categories[bundle.entry.category]
        for index, run in enumerate(bundle.runs):
            if run.protocol not in category.protocols:
                raise SubmissionError(f"{where}: {run_label(run, index)} has protocol {run.protocol!r}; category "
                                      f"{bundle.entry.category!r} accepts {', '.join(category.protocols)}",
                                      hint="pick the category that matches how the runs were made")
            if "<" in run.model.name or ">" in run.model.name:
                raise SubmissionError(f"{where}: {run_label(run, index)} model name {run.model.name!r} holds "
                                      "HTML markup ('<' or '>')", hint="use plain text in model names")

    def check_seeds(self, bundle: Submission, where: str) -> None:
        """Every task present, each (task, seed) once, the same seeds on every task, enough of them."""
        seeds: dict[str, list[int]] = defaultdict(list)
        for run in bundle.runs:
            seeds[run.task.name].append(run.seed)
        for task in self.board.spec.tasks:
            if task not in seeds:
                raise SubmissionError(f"{where}: no run for task {task}",
                                      hint=f"the leaderboard needs every task: {', '.join(self.board.spec.tasks)}")
            repeated = [s for s, n in Counter(seeds[task]).items() if n > 1]
            if repeated:
                raise SubmissionError(f"{where}: task {task} has two runs with seed {repeated[0]}",
                                      hint="keep one run per (task, seed)")
        first = self.board.spec.tasks[0]
        for task in self.board.spec.tasks[1:]:
            if set(seeds[task]) != set(seeds[first]):
                raise SubmissionError(f"{where}: task {task} has seeds {sorted(seeds[task])} but {first} has "
                                      f"{sorted(seeds[first])}", hint="run every task with the same seeds")
        need = self.board.spec.categories[bundle.entry.category].min_seeds
        if len(seeds[first]) < need:
            raise SubmissionError(f"{where}: category {bundle.entry.category!r} needs {need} seeds per task, "
                                  f"the runs have {len(seeds[first])} ({sorted(seeds[first])})",
                                  hint=f"run each task with {need} different --seed values")

    def check_run(self, run: SubmittedRun, label: str) -> SplitData:
        """The run answers the leaderboard's exact task definition on its exact data files."""
        task = run.task.name
        if task not in self.board.tasks:
            raise SubmissionError(f"{label}: task {task!r} is not on leaderboard {self.board.name}",
                                  hint=f"its tasks are {', '.join(self.board.spec.tasks)}")
        spec = self.board.tasks[task]
        claims.check_definition(run, spec, label)
        claims.check_protocol(run, label)
        if run.task.sha256 != spec.definition_hash():
            raise SubmissionError(f"{label}: task definition hash {run.task.sha256[:12]}... differs from the "
                                  f"leaderboard's {spec.definition_hash()[:12]}... for {task}",
                                  hint="re-run with the current task definition (`fsabench tasks show`)")
        if run.task.version != spec.version or run.task.split != self.board.spec.split:
            raise SubmissionError(f"{label}: run is {task} v{run.task.version} split {run.task.split!r}; the "
                                  f"leaderboard needs v{spec.version} split {self.board.spec.split!r}",
                                  hint="re-run on the current task's test split")
        split = self.split(task)
        for path, digest in split.files.items():
            if run.task.data.get(path) != digest:
                raise SubmissionError(f"{label}: data file {path} sha256 {str(run.task.data.get(path))[:12]}... "
                                      f"differs from the leaderboard's {digest[:12]}...",
                                      hint="re-run on the pinned data (`fsabench data verify`)")
        if set(run.task.data) != set(split.files):
            raise SubmissionError(f"{label}: data files {sorted(run.task.data)} are not the task's "
                                  f"{sorted(split.files)}", hint="re-run on the task's full test split")
        if not run.complete:
            raise SubmissionError(f"{label}: the run is marked incomplete (stopped early)",
                                  hint="finish the run (no --max-cost stop)")
        if len(run.examples) > self.board.spec.limits.max_examples_per_run:
            raise SubmissionError(f"{label}: {len(run.examples):,} examples, over the limit of "
                                  f"{self.board.spec.limits.max_examples_per_run:,}", hint="submit the test split only")
        return split

    def expected_examples(self, run: SubmittedRun, split: SplitData, label: str) -> list[Example]:
        """The whole test split, or its first N examples for a run made with --limit N on a board that
        allows partial runs (the entry is then labelled partial)."""
        limit = run.meta.get("limit")
        if not limit or limit >= len(split.examples):
            return split.examples
        if not self.board.spec.allow_partial:
            raise SubmissionError(f"{label}: the run scored only the first {limit} test examples (--limit)",
                                  hint="this leaderboard needs full test sets: re-run without --limit")
        return split.examples[:limit]

    def rescore(self, run: SubmittedRun, index: int, where: str) -> RunResult:
        label = f"{where}: {run_label(run, index)}"
        split = self.check_run(run, label)
        counts = Counter(e.id for e in run.examples)
        known = {e.id for e in split.examples}
        twice = [i for i, n in counts.items() if n > 1]
        if twice:
            raise SubmissionError(f"{label}: example {twice[0]!r} appears {counts[twice[0]]} times",
                                  hint="submit every test example exactly once")
        unknown = [i for i in counts if i not in known]
        if unknown:
            raise SubmissionError(f"{label}: example {unknown[0]!r} is not in the {run.task.name} test set "
                                  f"({len(unknown)} unknown ids)", hint="submit the task's test examples only")
        expected = self.expected_examples(run, split, label)
        missing = [e.id for e in expected if e.id not in counts]
        if missing or len(counts) != len(expected):
            raise SubmissionError(f"{label}: {len(missing) or len(counts) - len(expected)} of {len(expected)} test "
                                  f"examples are missing or extra (first missing: {missing[0] if missing else None!r})",
                                  hint="submit a full run (or, where the board allows partial runs, exactly "
                                       "the first --limit N)")
        spec = self.board.tasks[run.task.name]
        claims.check_prompts(run, spec, expected, self.train(run.task.name), label)
        by_id = {e.id: e for e in run.examples}
        records: list[Record] = []
        for example in expected:
            sent = by_id[example.id]
            record = score_record(spec, example, sent.output, sent.error)
            record.prompt_tokens, record.completion_tokens = sent.prompt_tokens, sent.completion_tokens
            record.cost_usd = sent.cost_usd
            records.append(record)
        scores = score_records(spec, records)
        problem = first_score_difference(run.scores, scores, "claimed", "re-computed from the outputs")
        if problem:
            raise SubmissionError(f"{label}: {problem}",
                                  hint="scores must be exactly what the submitted outputs earn; re-run `fsabench run`")
        return RunResult(**run.model_dump(exclude={"examples", "scores", "prompts"}), scores=scores, examples=records)
