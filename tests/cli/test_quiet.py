"""`--quiet/-q` is one option with one meaning in every command: no progress, tables or summaries;
errors, warnings and `--json` still print."""

from __future__ import annotations

import json

import typer

from fsabench.cli import app
from tests.conftest import ROOT

# commands whose only output IS the answer (a path, a hash, a definition, ids) or a server's log switch
ANSWER_OR_SERVER = {"data path", "data hash", "tasks list", "tasks show", "tasks ids", "serve", "human serve", "leaderboard serve"}


def _commands(command, path=()):
    if hasattr(command, "list_commands"):  # a group (typer bundles its own click)
        ctx = type(command).context_class(command)
        for name in command.list_commands(ctx):
            yield from _commands(command.get_command(ctx, name), (*path, name))
    else:
        yield " ".join(path), command


def test_every_command_that_reports_takes_quiet_with_one_meaning():
    found = dict(_commands(typer.main.get_command(app)))
    assert len(found) > 25
    for name, command in found.items():
        opts = {o: p for p in command.params for o in p.opts}
        if name in ANSWER_OR_SERVER:
            continue
        assert "--quiet" in opts and "-q" in opts, f"`fsabench {name}` has no --quiet/-q"
        assert opts["--quiet"].callback is not None, f"`fsabench {name}`: --quiet does not silence the console"


def test_quiet_prints_nothing_json_still_prints_and_the_next_call_is_not_silenced(cli, tmp_path):
    task = ROOT / "fsabench" / "builtin_tasks" / "atsa-rest14.yaml"
    quiet = cli("tasks", "validate", task, "-q")
    assert quiet.returncode == 0 and quiet.stdout == ""
    as_json = cli("tasks", "validate", task, "-q", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)
    loud = cli("tasks", "validate", task)
    assert loud.returncode == 0 and loud.stdout.strip()  # an earlier in-process -q does not silence this call
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    failed = cli("tasks", "validate", bad, "-q")
    assert failed.returncode == 1 and "bad.yaml" in failed.stderr  # errors still print
