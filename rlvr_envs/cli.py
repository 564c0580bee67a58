"""The ``rlvr-envs`` command line: a thin composition root over the subcommand registry.

Each subcommand lives with the layer that owns it (:mod:`rlvr_envs.commands` explains how to add
one); this module only builds the parser from the registry, after loading the plugins that
register the upper layers' subcommands (``train`` comes from the ``agents`` package).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .commands import Command, key_value, register_command, registered_commands
from .data import DATA_DIR_VARIABLE
from .evaluation.cli import COMPARE, EVAL
from .plugins import load_plugins


def _cmd_list(args: argparse.Namespace) -> int:
    from .registry import list_envs

    infos = list_envs()
    width = max((len(i.id) for i in infos), default=0)
    tasks_width = max((len(i.tasks) for i in infos), default=0)
    for info in infos:
        print(f"{info.id:<{width}}  {info.tasks:>{tasks_width}}  {info.description}")
    return 0


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", action="append", help="environment id (repeatable; default: all)")
    p.add_argument("--limit", type=int, default=None, help="tasks per environment (default: all)")
    p.add_argument("--threshold", type=float, default=0.99, help="minimum reference pass rate")
    p.add_argument("--seed", type=int, default=0)


def _cmd_check(args: argparse.Namespace) -> int:
    from .check import run_check

    return run_check(args.env or None, limit=args.limit, threshold=args.threshold, seed=args.seed)


def _cmd_sandbox(args: argparse.Namespace) -> int:
    try:
        from sandbox.cli import main as sandbox_main
    except ImportError as error:
        print(f"rlvr-envs sandbox: the sandbox package is not available ({error})", file=sys.stderr)
        return 2
    return sandbox_main(args.rest)


def _sandbox_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rest", nargs=argparse.REMAINDER)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server.cli import run

    return run(args)


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    from .server.cli import add_arguments  # argparse only; FastAPI loads when serving

    add_arguments(p, key_value)


for _command in (
    Command("list", "list registered environments", lambda p: None, _cmd_list),
    Command(
        "check",
        "run reference and known-wrong answers through every verifier",
        _check_arguments,
        _cmd_check,
    ),
    EVAL,
    COMPARE,
    Command(
        "serve",
        "serve an environment over OpenEnv's protocol ([serve] extra)",
        _serve_arguments,
        _cmd_serve,
    ),
    Command(
        "sandbox",
        "sandbox tools: doctor, build-image",
        _sandbox_arguments,
        _cmd_sandbox,
        add_help=False,
    ),
):
    register_command(_command)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand (plugins loaded first)."""
    load_plugins()
    parser = argparse.ArgumentParser(
        prog="rlvr-envs",
        description="Gymnasium environments for RL from verifiable rewards.",
    )
    parser.add_argument(
        "--data-dir",
        help=f"directory with local copies of benchmark files (sets ${DATA_DIR_VARIABLE})",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in registered_commands():
        p = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            add_help=command.add_help,
        )
        command.configure(p)
        p.set_defaults(func=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlvr-envs`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.data_dir:
        os.environ[DATA_DIR_VARIABLE] = os.path.abspath(args.data_dir)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
