"""`fsabench report`: result folders -> tables, figures and an HTML page in one output folder."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from fsabench.console import emit_json, err, out


def report_command(runs: list[Path], out_dir: Path, formats: str, baseline: str | None, preset: str | None,
                   figures: str, bootstrap: int, json_out: bool, human: list[Path] | None = None,
                   label: list[str] | None = None, labels_file: Path | None = None) -> None:
    from fsabench.report.build import build_report
    from fsabench.report.labels import load_labels, parse_label_options

    labels = load_labels(labels_file).merged(parse_label_options(label or []))
    built = build_report(runs, out_dir, formats=formats, baseline=baseline, preset=preset,
                         figure_formats=figures, n_boot=bootstrap, human=human or (), labels=labels)
    files = [p.as_posix() for p in built.files]
    if json_out:
        emit_json({"out": str(out_dir), "files": files, "flags": built.flags, "notes": built.notes,
                   "warnings": built.warnings})
        return
    for flag in built.flags:
        err.print(f"[yellow]flag:[/yellow] {escape(flag)}", highlight=False, soft_wrap=True)
    for note in built.notes:
        kind = "[yellow]warning:[/yellow]" if note in built.warnings else "[cyan]note:[/cyan]"
        err.print(f"{kind} {escape(note)}", highlight=False, soft_wrap=True)
    summary = built.analysis.summary
    out.print(f"report: {summary['model'].nunique()} models x {summary['task'].nunique()} tasks, "
              f"{len(files)} files in {out_dir}/", highlight=False)
    for name in ("report.md", "report.html", "report.tex"):
        if (out_dir / name).exists() and any(f.endswith(name) for f in files):
            out.print(f"  {out_dir / name}", highlight=False)
