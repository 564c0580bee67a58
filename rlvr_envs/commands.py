"""The command line's subcommand registry: each layer registers the subcommands it owns.

``rlvr_envs`` registers ``list``, ``check``, ``eval``, ``compare`` and ``sandbox``; the ``agents``
package plugs ``train`` in through its plugin (:mod:`rlvr_envs.plugins`). A new subcommand is one
:class:`Command` passed to :func:`register_command`: its name, help, a function adding its
arguments to an ``argparse`` parser, and a function running it that returns an exit code.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One ``rlvr-envs`` subcommand."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None
    add_help: bool = True


_COMMANDS: dict[str, Command] = {}


def register_command(command: Command) -> Command:
    """Add (or replace) a subcommand; returns it."""
    _COMMANDS[command.name] = command
    return command


def registered_commands() -> list[Command]:
    """Every registered subcommand, in registration order."""
    return list(_COMMANDS.values())


def add_key_value_option(
    parser: argparse.ArgumentParser, flag: str, metavar: str, help: str
) -> None:
    """A repeatable ``FLAG KEY=VALUE`` option, collected as a list of (key, value) pairs."""
    parser.add_argument(flag, action="append", type=key_value, metavar=metavar, help=help)


def key_value(text: str) -> tuple[str, object]:
    """``key=value`` with the value read as JSON when it parses (numbers, booleans, lists)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value
