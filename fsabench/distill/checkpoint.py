"""Pretraining checkpoints that resume exactly: weights, optimizer, schedule step, data position, RNG.

A checkpoint is a folder `checkpoints/step-000040/` holding the model (save_pretrained),
`trainer.pt` (optimizer state and every RNG state) and `state.json` (step, data position, loss
history). It is written to a temporary folder and renamed into place, so a kill never leaves a
half-written checkpoint that a resume would trust. The schedule needs only the step: it is a
pure function of it (fsabench.distill.optim).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsabench.distill.data import Position
from fsabench.io import read_json_object

FOLDER = "checkpoints"
DATA_ORDER = 2  # Position = index in the epoch's permutation (1: byte offset in file order)


@dataclass
class TrainState:
    step: int = 0
    position: Position = field(default_factory=Position)
    losses: list[float] = field(default_factory=list)  # train loss of every step
    valid: list[tuple[int, float]] = field(default_factory=list)  # (step, validation loss)
    tokens: int = 0  # real tokens trained on
    seconds: float = 0.0  # time spent in training steps

    def as_dict(self) -> dict[str, Any]:
        return {"data_order": DATA_ORDER, "step": self.step, "position": self.position.as_dict(), "losses": self.losses,
                "valid": [list(v) for v in self.valid], "tokens": self.tokens, "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: Path | None = None) -> "TrainState":
        if data.get("data_order") != DATA_ORDER:
            from fsabench.errors import FsabenchError

            raise FsabenchError(f"{where or 'checkpoint'}: made by an older fsabench whose data order differs "
                                "(file order, not a permutation per epoch); it cannot resume exactly",
                                hint="delete the checkpoints folder to start over, or use another --out")
        return cls(step=data["step"], position=Position(**data["position"]), losses=list(data["losses"]),
                   valid=[(int(s), float(v)) for s, v in data["valid"]], tokens=data["tokens"],
                   seconds=data["seconds"])


def rng_states() -> dict[str, Any]:
    import torch

    states = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict[str, Any]) -> None:
    import torch

    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save(out: Path, model, optimizer, state: TrainState, keep: int) -> Path:
    """Write checkpoint step-N atomically, then delete all but the newest `keep`."""
    import torch

    root = out / FOLDER
    final = root / f"step-{state.step:07d}"
    tmp = root / f".tmp-step-{state.step:07d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    torch.save({"optimizer": optimizer.state_dict(), "rng": rng_states()}, tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps(state.as_dict()), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in checkpoints(out)[:-max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoints(out: Path) -> list[Path]:
    root = out / FOLDER
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.startswith("step-") and (p / "state.json").is_file())


def latest(out: Path) -> Path | None:
    found = checkpoints(out)
    return found[-1] if found else None


def load(path: Path, optimizer) -> TrainState:
    """Load optimizer and RNG states from a checkpoint (the model loads from the same folder with
    from_pretrained, before the optimizer is built); return its TrainState."""
    import torch

    state = TrainState.from_dict(read_json_object(path / "state.json", "checkpoint state",
                                                  hint=f"remove the damaged checkpoint {path}"), path)
    trainer = torch.load(path / "trainer.pt", weights_only=False)
    optimizer.load_state_dict(trainer["optimizer"])
    restore_rng(trainer["rng"])
    return state


def remove_all(out: Path) -> None:
    shutil.rmtree(out / FOLDER, ignore_errors=True)
