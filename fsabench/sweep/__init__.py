"""Sweeps: models x tasks x shots x seeds x prompt variants, each cell one ordinary run, here or on Ray.

    spec.py      SWEEP.yaml -> SweepSpec (validated, one-line errors naming file and field)
    cells.py     SweepSpec -> cells (exclude applied), their result paths and units of work per model
    worker.py    one unit: load the model once, run its cells, write each RunResult as it finishes
    local.py     units in worker processes on this machine (--max-parallel)
    ray.py       units as Ray tasks with each model's declared resources (local head or --ray-address)
    plan.py      dry run (cells, done, estimated API cost) and the sweep itself: dispatch, summary, log
"""
