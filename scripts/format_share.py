#!/usr/bin/env python3
"""The share of the released teacher analyses that the corpus format check accepts, under the analysis
prompt's format before issue 26 and now (`-v`: the most common reasons for a refusal).

    python scripts/format_share.py [TEACHER_FILE] [-v]
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import benchkit  # noqa: F401  (the repository on sys.path, ../shared/data as the default data dir)
from fsabench.distill.corpus import import_rows, released_share
from fsabench.distill.formatcheck import ANALYSIS, BEFORE_26, check_analysis
from fsabench.errors import FsabenchError
from fsabench.settings import data_dir


def main() -> None:
    paths = [a for a in sys.argv[1:] if a != "-v"]
    file = Path(paths[0]) if paths else data_dir(None) / "fsa-distillation" / "teacher" / "mixtral" / "test_500_4m8d.json"
    for fmt in (BEFORE_26, ANALYSIS):
        ok, total = released_share(file, fmt)
        print(f"{fmt.name}: {ok} of {total} released analyses accepted ({100 * ok / total:.1f}%)")
        if "-v" in sys.argv:
            reasons = Counter(re.sub(r"'.*'|\d+", "_", check_analysis(r["mixtral_response"], fmt) or "ok")
                              for r in import_rows(file) if r["prompt_type"] == "analysis")
            print("   ", reasons.most_common(8))


if __name__ == "__main__":
    try:
        main()
    except FsabenchError as exc:
        raise SystemExit(f"error: {exc}") from None
