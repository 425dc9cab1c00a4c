"""A recipe under `accelerate launch` / `torchrun`: which process runs which stage, and the waits between.

Every process runs the recipe file. Asking the teacher, building a tiny student and fine-tuning are
single-process work (fine-tuning spreads over GPUs through its executor, not through these
processes), so only rank 0 does them; pretraining runs on every rank (accelerate's data parallel).
Between stages the ranks meet: rank 0 sends the stage's result (or its error) to the others, so a
failure on rank 0 stops every rank with the same message instead of leaving them waiting.

The waits use their own gloo group with a long timeout: building the paper's 2M-response corpus takes
days, far beyond the default 30-minute collective timeout, and gloo works beside NCCL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from fsabench.errors import FsabenchError

T = TypeVar("T")
STAGE_TIMEOUT = timedelta(days=30)


@dataclass
class Ranks:
    """This process's place in a multi-process launch (world 1: a plain run, nothing to coordinate)."""

    rank: int = 0
    world: int = 1
    group: Any = None  # the gloo group the stage results travel on

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "Ranks":
        """WORLD_SIZE/RANK as set by accelerate launch or torchrun; joins the process group early
        (accelerate reuses it) and makes the long-timeout gloo group for the stage waits."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend=backend, timeout=STAGE_TIMEOUT)
        return cls(dist.get_rank(), dist.get_world_size(), dist.new_group(backend="gloo", timeout=STAGE_TIMEOUT))

    def on_main(self, stage: str, work: Callable[[], T]) -> T:
        """Run `work` on rank 0 only; every rank gets its result (or raises its error) afterwards."""
        if self.world <= 1:
            return work()
        import torch.distributed as dist

        message: list[Any] = [None]
        if self.is_main:
            try:
                message = [("ok", work())]
            except Exception as exc:  # any failure must reach the waiting ranks, then propagate here
                message = [("error", str(exc) or type(exc).__name__)]
                dist.broadcast_object_list(message, src=0, group=self.group)
                raise
        dist.broadcast_object_list(message, src=0, group=self.group)
        status, value = message[0]
        if status == "error":
            raise FsabenchError(f"stage {stage} failed on rank 0: {value}", hint="see rank 0's message above")
        return value

    def wait(self) -> None:
        """Every rank reaches this point before any goes on."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier(group=self.group)

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
