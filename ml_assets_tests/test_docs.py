"""The commands the README and docs/ show exist: make targets, `ml-assets` subcommands, `dg`
and `dagster` commands with the options they are shown with; relative links resolve."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from ml_assets import settings
from ml_assets.cli import COMMANDS

ROOT = settings.PROJECT_ROOT
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


CHECKED = ("make", "ml-assets", "dg", "dagster")


def shell_commands(page: Path) -> list[str]:
    """Commands of the project's tools (make, ml-assets, dg, dagster) in the page's ```bash
    blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            words = line.split()
            if words and Path(words[0]).name in CHECKED:
                commands.append(line)
    return commands


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, flags=re.M))


def all_commands() -> list[tuple[str, str]]:
    return [(page.name, c) for page in PAGES for c in shell_commands(page)]


def test_pages_show_commands():
    names = {page for page, _ in all_commands()}
    assert {"README.md", "running.md", "development.md"} <= names


def test_every_make_target_named_in_the_docs_exists():
    targets = make_targets()
    named = set()
    for page in PAGES:
        named |= {(page.name, t) for t in re.findall(r"`make ([a-z][a-z0-9-]*)", page.read_text())}
    for page, command in all_commands():
        words = shlex.split(command)
        if words[0] == "make":
            named |= {(page, w) for w in words[1:] if "=" not in w}
    missing = sorted((page, t) for page, t in named if t not in targets)
    assert missing == [], missing
    assert {"run", "test", "test-fast", "test-soak", "lint", "format", "ui"} <= targets


def test_every_ml_assets_subcommand_in_the_docs_exists():
    shown = [
        (page, shlex.split(c)[1])
        for page, c in all_commands()
        if shlex.split(c)[0].endswith("ml-assets")
    ]
    assert shown, "the docs show no ml-assets command"
    assert [(page, sub) for page, sub in shown if sub not in COMMANDS] == []


def _resolve(group: click.Group, words: list[str]) -> tuple[click.Command, list[str]]:
    """The (sub)command the words name, and the words after it."""
    command, rest = group, list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        ctx = click.Context(command)
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"no command {rest[0]!r} in {command.name}: {words}"
        command, rest = sub, rest[1:]
    return command, rest


def _check_options(command: click.Command, rest: list[str], shown: str) -> None:
    known = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
    used = {w.split("=", 1)[0] for w in rest if w.startswith("-")}
    assert used <= known, f"{shown}: unknown options {sorted(used - known)}"


@pytest.mark.parametrize("tool", ["dg", "dagster"])
def test_dg_and_dagster_commands_in_the_docs_exist_with_their_options(tool):
    if tool == "dg":
        from dagster_dg_cli.cli import cli as group
    else:
        from dagster._cli import cli as group
    shown = [(page, c) for page, c in all_commands() if Path(shlex.split(c)[0]).name == tool]
    assert shown, f"the docs show no {tool} command"
    for _, command in shown:
        command_def, rest = _resolve(group, shlex.split(command)[1:])
        _check_options(command_def, rest, command)


def test_relative_links_resolve():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append((page.name, target))
    assert broken == []
