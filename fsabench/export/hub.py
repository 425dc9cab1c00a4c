"""A model's results as Hugging Face Hub metadata: the model card's `model-index` (README.md front matter).

One `results` item per (task, subset, metric) of the seed-averaged scores, in the Hub's model-index
shape (task {type, name}, dataset {type, name, split, config}, metrics [{type, value, name, verified}],
source {name}); values are x100 as fsabench reports them. A metric is marked `verified: true` only
when a passing `fsabench leaderboard audit` of the given board covers that model and task and the
outputs it sampled are exactly this result's outputs. (On the Hub, `verified` with a `verifyToken` is
reserved for Hugging Face's own evaluator; here the source names the board audit that backs it.)

With `hub_dataset` (a dataset registered on the Hub as a Benchmark, with its own eval.yaml task ids),
the newer `.eval_results/<task>.yaml` files are written too, in the documented shape
(https://huggingface.co/docs/hub/eval-results): a list of {dataset {id, task_id}, value, date, source, notes}.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsabench.metrics import seed_mean_std
from fsabench.results import RunResult

TASK_TYPES = {"extraction": ("token-classification", "Aspect-based sentiment extraction"),
              "classification": ("text-classification", "Sentiment classification")}


@dataclass
class HubExport:
    model: str
    card: dict[str, Any]  # the README front matter (model-index)
    verified: list[str] = field(default_factory=list)  # tasks backed by a passing audit
    eval_results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # file name -> entries
    files: list[Path] = field(default_factory=list)


def audited_tasks(results: Sequence[RunResult], audits: Sequence[Any]) -> dict[str, str]:
    """task -> the audit that backs it: passed, names the model, and every output it sampled for that task
    (same seed) equals the output in these results."""
    out: dict[str, str] = {}
    by_key = {(r.task.name, r.seed): {e.id: e.output for e in r.examples} for r in results}
    models = {r.model.name for r in results}
    for audit in audits:
        if not audit.passed or not models & set(audit.models):
            continue
        sampled: dict[str, list] = defaultdict(list)
        for example in audit.examples:
            sampled[example.task].append(example)
        for task, examples in sampled.items():
            if all((task, e.seed) in by_key and by_key[(task, e.seed)].get(e.id, object()) == e.submitted
                   for e in examples):
                out[task] = (f"fsabench leaderboard '{audit.leaderboard}', entry '{audit.entry}': audit "
                             f"{audit.date.isoformat()}, {audit.identical}/{audit.n} re-run outputs identical")
    return out


def _metrics(result_runs: Sequence[RunResult], subsets: Sequence[str]) -> list[tuple[str, str, float]]:
    """(subset, metric, seed-mean value) for the headline metrics of every subset that has a value."""
    names = ("f1", "precision", "recall") if result_runs[0].task.type == "extraction" else ("accuracy", "macro_f1")
    out = []
    for subset in subsets:
        for name in names:
            stats = seed_mean_std([r.scores[subset].model_dump().get(name) for r in result_runs if subset in r.scores])
            if stats.mean is not None:
                out.append((subset, name, stats.mean))
    return out


def model_index(results: Sequence[RunResult], name: str, verified: dict[str, str],
                subsets: Sequence[str] | None = None) -> dict[str, Any]:
    """The model card front matter: one model-index entry with a results item per task."""
    by_task: dict[str, list[RunResult]] = defaultdict(list)
    for result in results:
        by_task[result.task.name].append(result)
    items = []
    for task, runs in by_task.items():
        first = runs[0]
        task_type, task_name = TASK_TYPES[first.task.type]
        convention = (first.task.definition or {}).get("convention")
        config = f"v{first.task.version}" + (f", {convention} convention" if convention else "")
        seeds = sorted({r.seed for r in runs})
        metrics = []
        for subset, metric, value in _metrics(runs, subsets or list(first.scores)):
            entry = {"type": metric, "value": value,
                     "name": f"{metric} ({subset}, x100, mean of {len(seeds)} seed{'s' if len(seeds) > 1 else ''})"}
            entry["verified"] = task in verified
            metrics.append(entry)
        source = verified.get(task) or f"fsabench {first.fsabench_version} RunResult (protocol {first.protocol})"
        items.append({"task": {"type": task_type, "name": task_name},
                      "dataset": {"type": f"fsabench/{task}", "name": f"fsabench {task}",
                                  "split": first.task.split, "config": config,
                                  "revision": first.task.sha256[:12]},
                      "metrics": metrics, "source": {"name": source}})
    return {"model-index": [{"name": name, "results": items}]}


def eval_results_files(results: Sequence[RunResult], hub_dataset: str, verified: dict[str, str]) -> dict[str, list]:
    """`.eval_results/<task>.yaml` entries: the all-subset F1 (or accuracy), as a fraction-free x100 value."""
    by_task: dict[str, list[RunResult]] = defaultdict(list)
    for result in results:
        by_task[result.task.name].append(result)
    out = {}
    for task, runs in by_task.items():
        metric = "f1" if runs[0].task.type == "extraction" else "accuracy"
        value = seed_mean_std([r.scores["all"].model_dump().get(metric) for r in runs if "all" in r.scores]).mean
        if value is None:
            continue
        entry = {"dataset": {"id": hub_dataset, "task_id": task}, "value": value,
                 "date": max(r.timing.finished for r in runs)[:10],
                 "source": {"name": verified.get(task) or "fsabench RunResult"},
                 "notes": f"{metric} x100 on all test examples, mean of {len(runs)} run(s), protocol {runs[0].protocol}"}
        out[f"{task}.yaml"] = [entry]
    return out


def write_hub(export: HubExport, out_dir: Path) -> list[Path]:
    """README.md (front matter + a short body) and `.eval_results/*.yaml` into out_dir, atomically."""
    import yaml

    from fsabench.io import write_text_atomic

    out_dir = Path(out_dir)
    front = yaml.safe_dump(export.card, sort_keys=False, allow_unicode=True, width=120)
    body = (f"# {export.model}\n\nEvaluation results from fsabench (values x100). "
            + (f"Backed by a passing leaderboard audit: {', '.join(export.verified)}.\n" if export.verified
               else "No leaderboard audit backs these results.\n"))
    files = [write_text_atomic(out_dir / "README.md", f"---\n{front}---\n\n{body}")]
    for name, entries in export.eval_results.items():
        files.append(write_text_atomic(out_dir / ".eval_results" / name,
                                       yaml.safe_dump(entries, sort_keys=False, allow_unicode=True)))
    return files
