#!/usr/bin/env python
"""Build the paper-style tables and figures from a folder of runs: `fsabench report --preset paper`.

    python scripts/paper_figures.py RUNS_DIR [RUNS_DIR ...] [--out paper] [--baseline MODEL]
                                    [--label MODEL=NAME ...] [--labels labels.yaml]

Writes report.md / report.tex / report.html, CSV and JSON data, and figures in PNG, SVG and PDF
into --out. The same runs give byte-identical files.
"""

from __future__ import annotations

import argparse
import sys

from fsabench.errors import FsabenchError
from fsabench.report.build import build_report
from fsabench.report.labels import load_labels, parse_label_options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="RunResult files or folders")
    parser.add_argument("--out", default="paper", help="output folder [paper]")
    parser.add_argument("--baseline", default=None, help="model every row is compared with")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples [1000]")
    parser.add_argument("--label", action="append", default=[], help="MODEL=NAME display name (repeatable)")
    parser.add_argument("--labels", default=None, help="labels.yaml: model string -> display name (and colour)")
    args = parser.parse_args(argv)
    try:
        labels = load_labels(args.labels).merged(parse_label_options(args.label))
        built = build_report(args.runs, args.out, baseline=args.baseline, preset="paper", n_boot=args.bootstrap,
                             labels=labels)
    except FsabenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for flag in built.flags:
        print(f"flag: {flag}", file=sys.stderr)
    for note in built.notes:
        print(f"note: {note}", file=sys.stderr)
    for path in built.files:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
