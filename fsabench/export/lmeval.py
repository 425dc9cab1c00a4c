"""`fsabench export lm-eval OUT_DIR`: lm-eval task YAMLs + a helper module for the same benchmark.

    fsabench export lm-eval ./lmeval_tasks --tasks fsa
    lm_eval --model hf --model_args pretrained=./student,backend=seq2seq \
            --include_path ./lmeval_tasks --tasks fsabench_fsa

Written: one `fsabench_<task>.yaml` per task and one per group, `fsabench_lmeval.py` (the helper),
`docs/<task>.jsonl` (every test example with its rendered prompt, gold and subsets) and
`specs/<task>.json` (the task definition). Prompts are rendered here, with the same style, shots and
seed as `fsabench run`, so lm-eval sends the same text; scoring goes through fsabench's own code.
One lm-eval metric per (metric, subset): `f1`, `f1_implicit`, ... or `accuracy`, `macro_f1_hard`, ...
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from fsabench.examples import Example, load_split
from fsabench.io import write_text_atomic
from fsabench.prompts import build_requests, label_choices
from fsabench.tasks.spec import TaskSpec

HELPER = "fsabench_lmeval"


def lmeval_name(name: str) -> str:
    """fsabench task or group name -> the exported lm-eval name (prefixed, '-' -> '_')."""
    return "fsabench_" + name.replace("-", "_").replace(".", "_")


def metric_pairs(spec: TaskSpec) -> list[tuple[str, str]]:
    """(metric, subset) in the helper's order; the lm-eval metric name is metric or metric_subset."""
    metrics = ("accuracy", "macro_f1") if spec.metric == "accuracy" else ("precision", "recall", "f1")
    return [(m, subset) for subset in spec.subsets for m in metrics]


def doc_rows(spec: TaskSpec, examples: Sequence[Example], train: Sequence[Example], style: str, num_shots: int,
             seed: int, scoring: str) -> list[dict]:
    requests = build_requests(spec, examples, style, train, num_shots, seed)
    choices = label_choices(spec) if scoring == "likelihood" else None
    rows = []
    for example, request in zip(examples, requests):
        row = {"task": spec.name, "id": example.id, "prompt": request.prompt, "target": example.target,
               "input": example.input, "gold": [list(g) for g in example.gold], "subsets": list(example.subsets),
               "source": example.source}
        if choices is not None:
            gold_label = example.gold[0][0]
            row["choices"] = list(choices)
            row["gold_index"] = spec.output.labels.index(gold_label)
        rows.append(row)
    return rows


def task_yaml(spec: TaskSpec, scoring: str, style: str, num_shots: int, seed: int, seq2seq: bool = False) -> str:
    """The YAML text (written by hand: lm-eval's `!function` tag is not plain YAML)."""
    q = json.dumps
    lines = [f"# Exported by fsabench from task {spec.name} v{spec.version} (sha256 {spec.definition_hash()[:12]}).",
             f"task: {lmeval_name(spec.name)}", "tag: [fsabench]",
             f"custom_dataset: !function {HELPER}.load_docs", f"dataset_kwargs: {{task: {q(spec.name)}}}",
             "test_split: test", "doc_to_text: prompt"]
    if scoring == "likelihood":
        # seq2seq students score the bare label; causal LLMs get lm-eval's usual " " before it
        delimiter = "" if style == "raw" else " "
        lines += ["output_type: multiple_choice", "doc_to_choice: choices", "doc_to_target: gold_index",
                  f"target_delimiter: {q(delimiter)}"]
    else:
        # lm-eval's hf backend lets a seq2seq decoder run to context + max_gen_toks tokens; for seq2seq
        # models max_length (decoder start + budget) caps it at the task's budget, as fsabench does
        cap = f", max_length: {spec.max_new_tokens + 1}" if seq2seq else ""
        lines += ["output_type: generate_until", "doc_to_target: target",
                  f"generation_kwargs: {{until: [], max_gen_toks: {spec.max_new_tokens}, do_sample: false{cap}}}"]
    lines += [f"process_results: !function {HELPER}.process_results", "metric_list:"]
    for metric, subset in metric_pairs(spec):
        name = metric if subset == "all" else f"{metric}_{subset}"
        lines.append(f"  - {{metric: {name}, aggregation: !function {HELPER}.agg__{metric}__{subset}, "
                     "higher_is_better: true}")
    lines.append(f"metadata: {{version: {float(spec.version)}, fsabench_task_sha256: {q(spec.definition_hash())}, "
                 f"prompt_style: {style}, num_shots: {num_shots}, seed: {seed}, scoring: {scoring}}}")
    return "\n".join(lines) + "\n"


def helper_source(specs: Sequence[TaskSpec]) -> str:
    source = (Path(__file__).parent / "lmeval_helper.py").read_text(encoding="utf-8")
    pairs = sorted({pair for spec in specs for pair in metric_pairs(spec)})
    return source + "".join(f"agg__{m}__{s} = _aggregator({m!r}, {s!r})\n" for m, s in pairs)


def export_lmeval(out_dir: Path, specs: Sequence[TaskSpec], groups: dict[str, list[str]], data_root: Path,
                  style: str = "raw", num_shots: int = 0, seed: int = 0, scoring: str = "generate",
                  seq2seq: bool = False) -> list[str]:
    """Write everything lm-eval needs into out_dir; return the exported task and group names."""
    out_dir = Path(out_dir)
    for sub in ("docs", "specs"):
        shutil.rmtree(out_dir / sub, ignore_errors=True)
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    names = []
    for spec in specs:
        examples = load_split(spec, data_root, "test").examples
        train = load_split(spec, data_root, "train").examples if num_shots and "train" in spec.data.splits else []
        rows = doc_rows(spec, examples, train, style, num_shots, seed, scoring)
        write_text_atomic(out_dir / "docs" / f"{spec.name}.jsonl",
                          "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        write_text_atomic(out_dir / "specs" / f"{spec.name}.json",
                          json.dumps(spec.model_dump(mode="json"), ensure_ascii=False, indent=1) + "\n")
        write_text_atomic(out_dir / f"{lmeval_name(spec.name)}.yaml", task_yaml(spec, scoring, style, num_shots, seed, seq2seq))
        names.append(lmeval_name(spec.name))
    for group, members in groups.items():
        tasks = ", ".join(lmeval_name(m) for m in members)
        write_text_atomic(out_dir / f"{lmeval_name(group)}.yaml",
                          f"# Exported by fsabench from group {group}.\ngroup: {lmeval_name(group)}\ntask: [{tasks}]\n")
        names.append(lmeval_name(group))
    write_text_atomic(out_dir / f"{HELPER}.py", helper_source(specs))
    return names
