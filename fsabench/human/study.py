"""A study folder: the sampled items (blinded), who rates what in which order, and the answers.

    STUDY/study.json     rubric, blinded items, assignment and per-annotator order, seed, hashes
    STUDY/key.json       the blinding key: item id -> model and source, and the source files with
                         their sha256 (what stats unblind with; paths can name models, so not in study.json)
    STUDY/tokens.json    annotator -> private link token (mode 0600; never printed in --json)
    STUDY/answers.sqlite every answer as it was saved (fsabench.human.store)

study.json records the sha256 of the assignment and of key.json, so a key swapped or an
assignment edited after the fact is caught when the study is opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsabench import __version__
from fsabench.errors import FsabenchError, SpecError
from fsabench.human.items import Item, load_items
from fsabench.human.rubric import Rubric, load_rubric, parse_rubric
from fsabench.io import read_json, read_json_object, write_json_atomic, write_text_atomic

STUDY_FILE, KEY_FILE, TOKENS_FILE, ANSWERS_FILE = "study.json", "key.json", "tokens.json", "answers.sqlite"
SCHEMA_VERSION = 1
MAX_STUDY_BYTES = 100_000_000


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Study:
    folder: Path
    rubric: Rubric
    items: dict[str, dict]  # id -> public item (review, analysis, targets)
    assignment: dict[str, list[str]]  # human annotator -> item ids in the order they see them
    key: dict[str, dict]  # id -> {"model", "source"}
    seed: int
    per_item: int

    @property
    def annotators(self) -> list[str]:
        return list(self.assignment)

    def model_of(self, item: str) -> str:
        return self.key[item]["model"]

    def tokens(self) -> dict[str, str]:
        """annotator -> private link token; every annotator of the assignment must have one."""
        path = self.folder / TOKENS_FILE
        restore = "restore tokens.json from the study folder (it is written by `fsabench human create`)"
        tokens = read_json(path, "link tokens file", max_bytes=MAX_STUDY_BYTES, missing=restore, hint=restore)
        missing = [a for a in self.assignment if not isinstance(tokens, dict) or not isinstance(tokens.get(a), str)
                   or len(tokens[a]) < 16]
        if missing:
            raise FsabenchError(f"{path}: no valid token for annotator {missing[0]!r}",
                                hint="restore tokens.json; each annotator needs a token of 16+ characters")
        return {a: tokens[a] for a in self.assignment}


def parse_annotators(text: str | list[str]) -> list[str]:
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    for name in names:
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(name) > 40:
            raise FsabenchError(f"annotator name {name!r} is not a short word",
                                hint="use letters, digits, '-', '_' or '.', e.g. --annotators ana,ben,cy")
    if len(set(names)) != len(names) or not names:
        raise FsabenchError("--annotators must list distinct names", hint="e.g. --annotators ana,ben,cy")
    return names


def sample_items(items: list[Item], n: int | None, seed: int) -> list[Item]:
    """Sample N reviews (seeded) and keep every model's analysis of each, so models are compared
    on the same reviews."""
    by_review: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_review[hashlib.sha256(item.review.encode("utf-8")).hexdigest()].append(item)
    reviews = sorted(by_review)
    if n is not None:
        if n < 1 or n > len(reviews):
            raise FsabenchError(f"--sample {n}: the items hold {len(reviews)} distinct reviews",
                                hint=f"pick --sample between 1 and {len(reviews)}")
        reviews = sorted(random.Random(seed).sample(reviews, n))
    return [item for r in reviews for item in sorted(by_review[r], key=lambda i: i.id)]


def assign(item_ids: list[str], annotators: list[str], per_item: int, seed: int) -> dict[str, list[str]]:
    """Each item to `per_item` distinct annotators, loads within one of each other; each annotator's
    items in their own seeded random order (so position effects average out)."""
    if not 1 <= per_item <= len(annotators):
        raise FsabenchError(f"--per-item {per_item} with {len(annotators)} annotators",
                            hint=f"pick --per-item between 1 and {len(annotators)}")
    rng = random.Random(seed)
    order = list(item_ids)
    rng.shuffle(order)
    ring = list(annotators)
    rng.shuffle(ring)
    plan: dict[str, list[str]] = {a: [] for a in annotators}
    for i, item in enumerate(order):
        for j in range(per_item):
            plan[ring[(i * per_item + j) % len(ring)]].append(item)
    for name in annotators:
        random.Random(f"{seed}:{name}").shuffle(plan[name])
    return plan


def create_study(folder: Path, item_files: list[Path], rubric: str | Path, sample: int | None, per_item: int,
                 annotators: list[str], seed: int) -> Study:
    """Sample, blind and assign; write the study folder. Refuses to overwrite an existing study."""
    folder = Path(folder)
    if (folder / STUDY_FILE).exists():
        raise FsabenchError(f"{folder / STUDY_FILE}: a study already exists here",
                            hint="pick a new STUDY folder; a study's items and assignment never change once created")
    spec = load_rubric(rubric)
    chosen = sample_items(load_items(item_files), sample, seed)
    plan = assign([i.id for i in chosen], annotators, per_item, seed)
    key = {"items": {i.id: {"model": i.model, "source": i.source} for i in chosen},
           "sources": [{"path": str(p), "sha256": file_sha256(Path(p))} for p in item_files]}
    write_json_atomic(folder / KEY_FILE, key)
    tokens = {name: secrets.token_urlsafe(18) for name in annotators}
    write_text_atomic(folder / TOKENS_FILE, json.dumps(tokens, indent=1) + "\n")
    os.chmod(folder / TOKENS_FILE, 0o600)
    payload = {
        "schema_version": SCHEMA_VERSION, "fsabench_version": __version__, "name": folder.name,
        "rubric": spec.model_dump(mode="json"), "rubric_sha256": spec.digest(), "seed": seed,
        "sample": sample, "per_item": per_item,
        "items": [i.public() for i in chosen], "assignment": plan,
        "assignment_sha256": digest(plan), "key_sha256": file_sha256(folder / KEY_FILE),
        "items_sha256": digest([i.public() for i in chosen]),
    }
    write_json_atomic(folder / STUDY_FILE, payload)
    return open_study(folder)


def file_sha256(path: Path) -> str:
    if path.is_dir():
        return digest(sorted((str(p.relative_to(path)), file_sha256(p)) for p in path.rglob("*") if p.is_file()))
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_study(folder: Path) -> Study:
    """Read a study folder and check its hashes (a changed key or assignment is refused)."""
    folder = Path(folder)
    path = folder / STUDY_FILE
    if not path.is_file():
        raise FsabenchError(f"{path}: no study here", hint="create one with `fsabench human create STUDY --items ...`")
    data = read_json(path, "study file", error=SpecError, max_bytes=MAX_STUDY_BYTES,
                     hint="the file is damaged or hand-edited; create the study again", max_values=20_000_000,
                     max_depth=32)
    try:
        rubric = parse_rubric(data["rubric"], f"{path} (rubric)")
        items = {i["id"]: i for i in data["items"]}
        plan = {str(k): [str(x) for x in v] for k, v in data["assignment"].items()}
        seed, per_item = data["seed"], data["per_item"]
        if type(seed) is not int or type(per_item) is not int or not all(
                isinstance(i, dict) and isinstance(i.get("targets"), list) and isinstance(i.get("analysis"), str)
                for i in data["items"]):
            raise TypeError("seed, per_item or an item has the wrong type")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise SpecError(f"{path}: not a study file ({type(exc).__name__}: {str(exc)[:160]})",
                        hint="the file is damaged or hand-edited; create the study again") from None
    for field, value in (("rubric", data["rubric"]), ("items", data["items"])):  # older studies lack items_sha256
        stored = data.get(f"{field}_sha256")
        if (stored is not None or field == "rubric") and (rubric.digest() if field == "rubric" else digest(value)) != stored:
            raise SpecError(f"{path}: field '{field}' does not match '{field}_sha256' (edited after the study was "
                            "created: a score, an anchor or an item's text)", hint="restore the study's own study.json")
    if digest(plan) != data.get("assignment_sha256"):
        raise SpecError(f"{path}: field 'assignment' does not match 'assignment_sha256'",
                        hint="the assignment was edited after the study was created; restore it")
    key_path = folder / KEY_FILE
    if not key_path.is_file() or file_sha256(key_path) != data.get("key_sha256"):
        raise SpecError(f"{key_path}: missing or does not match 'key_sha256' in {path}",
                        hint="restore the study's own key.json (the blinding key is part of the study)")
    key = read_json_object(key_path, "blinding key", error=SpecError, max_bytes=MAX_STUDY_BYTES).get("items")
    if not isinstance(key, dict):
        raise SpecError(f"{key_path}: field 'items' is missing or not an object", hint="restore the study's own key.json")
    return Study(folder, rubric, items, plan, key, seed, per_item)
