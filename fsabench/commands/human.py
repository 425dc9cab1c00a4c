"""`fsabench human ...`: create a study, serve the annotation page, export/import, judge, stats."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from fsabench.console import err, out
from fsabench.errors import FsabenchError


def _json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


def create_command(study: Path, items: list[Path], rubric: str, sample: int | None, per_item: int, annotators: str,
                   seed: int, json_out: bool) -> None:
    from fsabench.human.study import create_study, parse_annotators

    made = create_study(study, items, rubric, sample, per_item, parse_annotators(annotators), seed)
    loads = {a: len(v) for a, v in made.assignment.items()}
    models = sorted({made.model_of(i) for i in made.items})
    if json_out:
        _json({"study": str(study), "items": len(made.items), "models": len(models), "assignment": loads,
               "tokens_file": str(study / "tokens.json")})
        return
    out.print(f"study {escape(str(study))}: {len(made.items)} items from {len(models)} model(s), "
              f"{made.per_item} annotators per item, rubric {made.rubric.name}", highlight=False)
    for name, n in loads.items():
        out.print(f"  {escape(name)}: {n} items", highlight=False)
    out.print(f"private links: `fsabench human serve {escape(str(study))}` prints them "
              f"(tokens in {escape(str(study / 'tokens.json'))})", highlight=False)


def rubric_command(name: str, json_out: bool) -> None:
    from fsabench.human.rubric import load_rubric

    rubric = load_rubric(name)
    if json_out:
        _json(rubric.model_dump(mode="json"))
        return
    out.print(f"rubric {rubric.name} v{rubric.version}: {escape(rubric.title)} (valid)", highlight=False)
    for dim in rubric.dimensions:
        scale = ", ".join(f"{c.value} [{c.key}]" for c in dim.scale)
        out.print(f"  {dim.name} ({dim.level}, per {dim.per}): {escape(scale)}", highlight=False)


def serve_command(study: Path, host: str, port: int, quiet: bool) -> None:
    from fsabench.human.server import build_app
    from fsabench.human.study import open_study
    from fsabench.human.web import Limits, run_app

    opened = open_study(study)
    app = build_app(opened, Limits())

    def ready(url: str) -> None:
        err.print(f"serving study {escape(opened.folder.name)} on {url} (Ctrl-C to stop); private links:", highlight=False)
        for name, token in opened.tokens().items():
            err.print(f"  {escape(name)}: {url}/a/{token}", highlight=False, soft_wrap=True)
        print(f"READY {url}", flush=True)

    try:
        run_app(app, host, port, Limits(), quiet=quiet, on_ready=ready)
    except OSError as exc:
        raise FsabenchError(f"cannot listen on {host}:{port} ({exc.strerror})",
                            hint="pick another --port, or stop what uses it") from None


def export_command(study: Path, fmt: str, output: Path | None, unblind: bool) -> None:
    from fsabench.human.interchange import export_csv, export_label_studio
    from fsabench.human.study import open_study
    from fsabench.io import write_text_atomic

    opened = open_study(study)
    if fmt == "label-studio":
        files = export_label_studio(opened, output or study / "label-studio")
        for path in files:
            out.print(str(path), highlight=False)
    elif fmt == "csv":
        text = export_csv(opened, unblind)
        if output is None:
            sys.stdout.write(text)
        else:
            out.print(str(write_text_atomic(output, text)), highlight=False)
    else:
        raise FsabenchError(f"--format {fmt!r} is not known", hint="use --format label-studio or --format csv")


def import_command(study: Path, file: Path, json_out: bool) -> None:
    from fsabench.human.interchange import import_label_studio
    from fsabench.human.study import open_study

    counts = import_label_studio(open_study(study), file)
    if json_out:
        _json(counts)
    else:
        out.print(f"imported {counts['answers']} answers on {counts['tasks']} tasks from {escape(str(file))}",
                  highlight=False)


def judge_command(study: Path, model: str, model_options: dict[str, Any], max_cost: float | None, cache: bool,
                  cache_dir: Path | None, overwrite: bool, json_out: bool) -> int:
    from fsabench.human.judge import judge_study
    from fsabench.human.study import open_study
    from fsabench.models import load_model
    from fsabench.models.cache import maybe_cached

    opened = open_study(study)
    adapter = load_model(model, **{k: v for k, v in model_options.items() if v is not None})
    adapter = maybe_cached(adapter, cache_dir, cache)
    stats = judge_study(opened, adapter, max_cost=max_cost, overwrite=overwrite)
    payload = {"judge": stats.judge, "asked": stats.asked, "stored": stats.stored, "already_done": stats.skipped_done,
               "failed": stats.failed, "cached": stats.cached, "cost_usd": round(stats.cost_usd, 6),
               "stopped_by_max_cost": stats.stopped_by_max_cost, "errors": stats.errors}
    if json_out:
        _json(payload)
    else:
        out.print(f"{escape(stats.judge)}: {stats.stored} answers stored, {stats.failed} failed, "
                  f"{stats.skipped_done} already done, {stats.cached} from cache, ${stats.cost_usd:.4f}", highlight=False)
        for error in stats.errors:
            err.print(f"[yellow]failed:[/yellow] {escape(error)}", highlight=False, soft_wrap=True)
        if stats.stopped_by_max_cost:
            err.print("[yellow]stopped at --max-cost; re-run to continue (answers so far are kept)[/yellow]")
    return 1 if stats.failed else 0


def stats_command(study: Path, output: Path | None, bootstrap: int, json_out: bool) -> None:
    from fsabench.human.stats import study_stats
    from fsabench.human.store import read_rows
    from fsabench.human.study import open_study
    from fsabench.io import write_json_atomic

    opened = open_study(study)
    stats = study_stats(opened, read_rows(opened), n_boot=bootstrap)
    path = write_json_atomic(output or study / "stats.json", stats)
    if json_out:
        _json(stats)
        return
    print_stats(stats)
    out.print(f"written: {escape(str(path))}", highlight=False)


def _f(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def print_stats(stats: dict) -> None:
    out.print(f"study {escape(stats['study'])}: {stats['items']} items, humans {', '.join(stats['humans']) or '(none)'}"
              f"; judges {', '.join(stats['judges']) or '(none)'}; answers {stats['answers']}", highlight=False)
    table = Table(title="per model and dimension (95% bootstrap interval over items)")
    for col in ("model", "dimension", "statistic", "items", "value", "95% CI"):
        table.add_column(col)
    for r in stats["models"]:
        ci = "–" if r["ci_low"] is None else f"[{_f(r['ci_low'])}, {_f(r['ci_high'])}]"
        table.add_row(escape(r["model"]), r["dimension"], r["statistic"], str(r["n_items"]), _f(r["value"]), ci)
    out.print(table)
    agree = Table(title="agreement among humans")
    for col in ("dimension", "level", "alpha", "units", "mean kappa", "kappa weights"):
        agree.add_column(col)
    for a in stats["agreement"]:
        agree.add_row(a["dimension"], a["level"], _f(a["alpha"], 3), str(a["units"]), _f(a["kappa_mean"], 3),
                      a["kappa_weights"])
    out.print(agree)
    if stats["judges_vs_humans"]:
        judges = Table(title="judges vs humans")
        for col in ("judge", "dimension", "mean kappa", "humans' kappa", "gives consensus"):
            judges.add_column(col)
        for j in stats["judges_vs_humans"]:
            share = None if j["consensus_agreement"] is None else 100 * j["consensus_agreement"]
            judges.add_row(escape(j["judge"]), j["dimension"], _f(j["kappa_mean"], 3), _f(j["human_kappa_mean"], 3),
                           f"{_f(share, 1)}%")
        out.print(judges)
    for d in stats["disagreements"][:5]:
        out.print(f"most disagreed: {d['item']} ({escape(d['model'])}) disagreement {d['disagreement']:.2f}",
                  highlight=False)
