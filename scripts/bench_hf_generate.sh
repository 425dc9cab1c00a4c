#!/usr/bin/env bash
# In-process `hf:` generation, static sorted batches (FSABENCH_STATIC_GENERATE=1) vs continuous batching,
# same window, one CPU thread; prints examples/s, the load average, and whether every answer is identical.
# usage: scripts/bench_hf_generate.sh hf:PATH [TASK=atsa-rest14] [extra fsabench run args...]
set -euo pipefail
model=$1; task=${2:-atsa-rest14}; shift $(( $# > 1 ? 2 : 1 ))
out=$(mktemp -d)
export OMP_NUM_THREADS=1 FSABENCH_THREADS=1
for path in static stepper; do
  echo "$path: load $(cat /proc/loadavg)"
  FSABENCH_STATIC_GENERATE=$([ $path = static ] && echo 1 || echo 0) \
    fsabench run -m "$model" -t "$task" --no-cache -q -o "$out/$path" --device cpu "$@"
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for a in sorted((out / "static").rglob("*.json")):
    x, y = json.loads(a.read_text()), json.loads((out / "stepper" / a.relative_to(out / "static")).read_text())
    key = lambda e: (e["id"], e["output"], e["prompt_tokens"], e["completion_tokens"])
    same = sum(key(p) == key(q) for p, q in zip(x["examples"], y["examples"]))
    print(f"{a.name}: static {x['timing']['examples_per_second']} ex/s, stepper {y['timing']['examples_per_second']} ex/s; "
          f"{same}/{len(x['examples'])} answers identical; scores equal: {x['scores'] == y['scores']}")
PY
