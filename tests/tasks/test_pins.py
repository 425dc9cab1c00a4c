"""Built-in task definitions are pinned: moving shared keys into `_*.yaml` bases changes nothing scored.

A result file records its task's `definition_sha256`; the leaderboard and resume refuse a result whose
hash differs. These hashes were recorded before the task files were split into bases and short
variants (issue 11), so the refactor provably left every definition as it was. A deliberate change to
a task bumps its `version` and updates the pin here in the same commit.
"""

import hashlib
import json

import pytest

from fsabench.tasks.registry import build_registry, load_spec_file

DEFINITION_SHA256 = {
    "acsa-laptop16": "d664844ea9d115074ba82dc473cd1c44e27a6db0a184725836d6d48a3040ccf1",
    "acsa-rest16": "373cb5fc5b09d973dff5b4ddf40c681546409b807e9527dd8de4f80d9cae6024",
    "atsa-laptop14": "0198a2230d7071c69e41024e095228946f28b9cb2c8013c4c27ce6edf94d0825",
    "atsa-rest14": "3eea69b40af9a3795867f3aa04c920bd301e90f3e74c7686ab9813dad8ad4347",
    "review-stars": "f488741b515dc68254764a08fc211bdf4112e600cc637124c78d343f801f1bd7",
    "sc-imdb": "9970c8ed094ccdef6913c105e73c401b6393f306c1ca59270e0516b4cd8e7878",
    "sc-sst2": "38dd4c11a7fcacf7d082aa1dd5db8d4686110fdbd0a49baa54ca25fa49cb14e8",
    "sc-twitter": "f9dd7dc9cf8cc1ee060e8d6fe0f0d7feaea16ede3919ed938468a42a0a3d7d44",
    "sc-yelp2": "33e358ea75a6c964c9047ac4e9acc9b32f95f0ea3114fd632bb45198de0b4377",
}
# description and tags: outside the definition hash (they show in listings and reports, not in scores)
LABELS_SHA256_PREFIX = {
    "acsa-laptop16": "875e5666c6af91e5",
    "acsa-rest16": "1e111a3f962ee98c",
    "atsa-laptop14": "9a9969bc133cd691",
    "atsa-rest14": "c966a1cbe823b294",
    "review-stars": "3e4012ab953f1a00",  # issue 14: the description now says what the task is built from
    "sc-imdb": "e25445ae454eddc3",
    "sc-sst2": "3094f6246043c7b3",
    "sc-twitter": "d604d8d598b7494c",
    "sc-yelp2": "60719c6b63eb68cc",
}
GROUPS = {
    "fsa": ["atsa-rest14", "atsa-laptop14", "acsa-rest16", "acsa-laptop16"],
    "sentibench": ["sc-sst2", "sc-imdb", "sc-yelp2", "sc-twitter", "review-stars"],
}


@pytest.mark.parametrize("name", sorted(DEFINITION_SHA256))
def test_builtin_task_definition_is_unchanged(name):
    spec = build_registry().spec(name)
    assert spec.definition_hash() == DEFINITION_SHA256[name]
    labels = json.dumps([spec.description, spec.tags]).encode()
    assert hashlib.sha256(labels).hexdigest()[:16] == LABELS_SHA256_PREFIX[name]


def test_builtin_groups_are_unchanged(cli):
    registry = build_registry()
    for group, members in GROUPS.items():
        assert load_spec_file(registry.groups[group]).tasks == members
    shown = json.loads(cli("tasks", "show", "atsa-rest14", "--json").stdout)
    assert shown["definition_sha256"] == DEFINITION_SHA256["atsa-rest14"]


def test_bases_are_not_tasks():
    """`_atsa.yaml` and friends hold shared keys; they never show up as tasks of their own."""
    registry = build_registry()
    assert not any(name.startswith("_") or path.name.startswith("_")
                   for name, path in {**registry.tasks, **registry.groups}.items())
