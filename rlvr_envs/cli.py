"""The ``rlvr-envs`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .data import DATA_DIR_VARIABLE


def _cmd_list(args: argparse.Namespace) -> int:
    from .registry import list_envs

    infos = list_envs()
    width = max((len(i.id) for i in infos), default=0)
    tasks_width = max((len(i.tasks) for i in infos), default=0)
    for info in infos:
        print(f"{info.id:<{width}}  {info.tasks:>{tasks_width}}  {info.description}")
    return 0


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


def _key_value(text: str) -> tuple[str, object]:
    """``key=value`` with the value read as JSON when it parses (numbers, booleans, lists)."""
    import json

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from .evaluation import (
        AgentSpecError,
        RunLockedError,
        RunMismatchError,
        SuiteError,
        evaluate,
        list_suites,
        make_executor,
    )
    from .evaluation.report import headline_rows, table

    if args.list_suites:
        for suite in list_suites():
            envs = ", ".join(e.label for e in suite.entries)
            print(f"{suite.name:<14} {suite.description}\n{'':<14} [{envs}]")
        return 0
    missing = [
        flag for flag, value in (("--suite", args.suite), ("--agent", args.agent)) if not value
    ]
    if missing or not args.output_dir:
        missing += [] if args.output_dir else ["--output-dir"]
        print(f"rlvr-envs eval: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    sampling = {
        name: value
        for name, value in (
            ("temperature", args.temperature),
            ("top_p", args.top_p),
            ("max_new_tokens", args.max_new_tokens),
        )
        if value is not None
    }
    runtime_env = json.loads(args.ray_runtime_env) if args.ray_runtime_env else None
    try:
        executor = make_executor(
            args.executor,
            batch_size=args.batch_size,
            verify_workers=args.verify_workers,
            ray_address=args.ray_address,
            ray_workers=args.ray_workers,
            ray_num_cpus=args.ray_num_cpus,
            ray_num_gpus=args.ray_num_gpus,
            ray_runtime_env=runtime_env,
        )
        summary = evaluate(
            args.suite,
            args.agent,
            args.output_dir,
            agent_kwargs=dict(args.agent_arg or []),
            executor=executor,
            seed=args.seed,
            tasks=args.tasks,
            samples=args.samples,
            sampling=sampling,
            only=args.env,
            ci=args.ci,
            plots=not args.no_plots,
            progress=not args.no_progress,
            overwrite=args.overwrite,
        )
    except (SuiteError, AgentSpecError, RunMismatchError, RunLockedError) as error:
        print(f"rlvr-envs eval: {error}", file=sys.stderr)
        return 2
    header = ["environment", "tasks", "k", "mean reward", "pass@1", "pass@k", "maj@k", "tokens"]
    print(table(header, headline_rows(summary)))
    for label, why in summary["skipped"].items():
        print(f"skipped {label}: {why}")
    print(f"\nreport: {os.path.join(args.output_dir, 'report.md')}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .evaluation import compare_runs, comparison_table

    try:
        rows = compare_runs(args.run_a, args.run_b, ci=args.ci)
    except FileNotFoundError as error:
        print(f"rlvr-envs compare: {error}", file=sys.stderr)
        return 2
    if args.json:
        import json

        print(json.dumps(rows, indent=2))
    else:
        name_a = os.path.basename(os.path.normpath(args.run_a))
        name_b = os.path.basename(os.path.normpath(args.run_b))
        print(comparison_table(rows, f"A: {name_a}", f"B: {name_b}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
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

    p = sub.add_parser("list", help="list registered environments")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("check", help="run reference and known-wrong answers through every verifier")
    p.add_argument("--env", action="append", help="environment id (repeatable; default: all)")
    p.add_argument("--limit", type=int, default=None, help="tasks per environment (default: all)")
    p.add_argument("--threshold", type=float, default=0.99, help="minimum reference pass rate")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("eval", help="run an evaluation suite with an agent")
    p.add_argument("--suite", help="built-in suite name (see --list-suites) or a YAML/JSON file")
    p.add_argument("--agent", help="hf:PATH_OR_ID, openai:MODEL@BASE_URL or python:module:function")
    p.add_argument(
        "--agent-arg",
        action="append",
        type=_key_value,
        metavar="KEY=VALUE",
        help="keyword argument for the agent (repeatable; JSON values)",
    )
    p.add_argument("--output-dir", "-o", help="run directory (an existing one is resumed)")
    p.add_argument("--env", action="append", help="only this entry or environment (repeatable)")
    p.add_argument("--tasks", type=int, help="at most this many tasks per environment")
    p.add_argument("--samples", "-k", type=int, help="samples per task (replaces the suite's)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--seed", type=int, default=0, help="base seed of every sample (default 0)")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument("--batch-size", type=int, default=16, help="observations per agent call")
    p.add_argument("--verify-workers", type=int, help="verification threads per worker")
    p.add_argument("--ray-address", help="ray.init(address=...) (default: start a local Ray)")
    p.add_argument("--ray-workers", type=int, help="Ray actors (default: one per CPU)")
    p.add_argument("--ray-num-cpus", type=float, default=1, help="CPUs per Ray actor")
    p.add_argument("--ray-num-gpus", type=float, default=0, help="GPUs per Ray actor")
    p.add_argument("--ray-runtime-env", help="runtime_env for the actors, as JSON")
    p.add_argument("--ci", choices=("bootstrap", "normal"), default="bootstrap")
    p.add_argument("--overwrite", action="store_true", help="discard samples already in the dir")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--list-suites", action="store_true", help="list the built-in suites")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("compare", help="per-environment differences between two eval runs")
    p.add_argument("run_a", help="run directory A (the baseline)")
    p.add_argument("run_b", help="run directory B")
    p.add_argument("--ci", choices=("bootstrap", "normal"), default="bootstrap")
    p.add_argument("--json", action="store_true", help="print rows as JSON")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("sandbox", help="sandbox tools: doctor, build-image", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_sandbox)
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
