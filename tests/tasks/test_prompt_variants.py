"""Named prompt variants in task files: resolved over the default prompt, recorded in the run, and never
changing the published definition hash of the default prompt."""

from __future__ import annotations

import pytest

import fsabench
from fsabench.errors import FsabenchError
from fsabench.tasks.registry import build_registry, load_spec_file

BASE = """name: tiny-variants
data: {dir: fsa-distillation/atsa/rest14, splits: {train: [train.json], test: [test.json]}}
gold: {builder: atsa_terms}
prompt: {instruction: "Long instruction.", template: "Sentence: {{ input }}"}
"""


def test_a_variant_overrides_only_the_keys_it_gives(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(BASE + "prompts:\n  terse: {instruction: Short.}\n")
    spec = load_spec_file(path)
    terse = spec.with_prompt("terse")
    assert terse.prompt.instruction == "Short." and terse.prompt.template == "Sentence: {{ input }}"
    assert spec.prompt_names == ["default", "terse"]
    assert terse.definition_hash() != spec.definition_hash()
    assert spec.with_prompt("default").definition_hash() == spec.definition_hash()


def test_adding_variants_keeps_the_default_hash(tmp_path):
    plain, varied = tmp_path / "a.yaml", tmp_path / "b.yaml"
    plain.write_text(BASE)
    varied.write_text(BASE + "prompts:\n  terse: {instruction: Short.}\n  chatty: {system: Be kind.}\n")
    assert load_spec_file(plain).definition_hash() == load_spec_file(varied).definition_hash()


def test_prompts_default_is_the_prompt_and_not_both(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(BASE.replace('prompt: {', 'prompts:\n  default: {') + "  terse: {instruction: Short.}\n")
    assert load_spec_file(path).prompt.instruction == "Long instruction."
    both = tmp_path / "both.yaml"
    both.write_text(BASE + "prompts:\n  default: {instruction: X}\n")
    with pytest.raises(FsabenchError, match="default prompt once"):
        load_spec_file(both)


def test_an_unsafe_variant_template_is_refused_at_load(tmp_path):
    (tmp_path / "bad.yaml").write_text(BASE.replace("tiny-variants", "bad") + "prompts:\n  x: {template: '{{ range(9) }}'}\n")
    with pytest.raises(FsabenchError, match="prompts.x"):
        build_registry([str(tmp_path)]).spec("bad")


def test_every_builtin_task_has_default_and_terse():
    registry = build_registry()
    for name in registry.tasks:
        assert {"default", "terse"} <= set(registry.spec(name).prompt_names), name


def test_run_records_the_variant_in_key_meta_and_path(tmp_path):
    default, = fsabench.evaluate("baseline:lexicon", "atsa-rest14", limit=5, output_dir=tmp_path)
    terse, = fsabench.evaluate("baseline:lexicon", "atsa-rest14", limit=5, output_dir=tmp_path, prompt="terse")
    assert "prompt" not in default.meta["run_key"] and default.meta["prompt"] == "default"
    assert terse.meta["run_key"]["prompt"] == "terse" and terse.meta["prompt"] == "terse"
    assert terse.task.sha256 != default.task.sha256 and "prompts" not in terse.task.definition
    assert sorted(p.name for p in (tmp_path / "baseline_lexicon").iterdir()) == [
        "atsa-rest14.json", "atsa-rest14__prompt-terse.json"]
    with pytest.raises(FsabenchError, match="no prompt variant 'tersee'.*did you mean 'terse'"):
        fsabench.evaluate("baseline:lexicon", "atsa-rest14", limit=5, prompt="tersee")
