"""The docs keep the CLI honest: every command has help text and is mentioned in README or docs/."""

from pathlib import Path

import typer.main

from fsabench.cli import app

ROOT = Path(__file__).resolve().parents[2]


def commands(group, prefix=()):
    for name, command in getattr(group, "commands", {}).items():
        path = (*prefix, name)
        yield path, command
        yield from commands(command, path)


def test_every_command_has_help_and_a_docs_mention():
    docs = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    root = typer.main.get_command(app)
    found = list(commands(root))
    assert len(found) >= 10
    for path, command in found:
        assert (command.help or "").strip(), f"`fsabench {' '.join(path)}` has no help text"
        assert f"fsabench {' '.join(path)}" in docs, f"`fsabench {' '.join(path)}` is not mentioned in README or docs/"


def test_human_commands_are_registered_and_documented():
    root = typer.main.get_command(app)
    human = {name for name in root.commands["human"].commands}
    assert human == {"create", "rubric", "serve", "export", "import", "judge", "stats"}
    docs = (ROOT / "docs" / "human.md").read_text()
    for name in human:
        assert f"fsabench human {name}" in docs
