"""The ``eval`` and ``compare`` subcommands."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..commands import Command, add_key_value_option


def _eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", help="built-in suite name (see --list-suites) or a YAML/JSON file")
    p.add_argument("--agent", help="hf:PATH_OR_ID, openai:MODEL@BASE_URL or python:module:function")
    add_key_value_option(
        p, "--agent-arg", "KEY=VALUE", "keyword argument for the agent (repeatable; JSON values)"
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


def _cmd_eval(args: argparse.Namespace) -> int:
    from . import (
        AgentSpecError,
        RunLockedError,
        RunMismatchError,
        SuiteError,
        evaluate,
        list_suites,
        make_executor,
    )
    from .report import headline_rows, table

    if args.list_suites:
        for suite in list_suites():
            envs = ", ".join(e.label for e in suite.entries)
            print(f"{suite.name:<14} {suite.description}\n{'':<14} [{envs}]")
        return 0
    required = (("--suite", args.suite), ("--agent", args.agent), ("--output-dir", args.output_dir))
    missing = [flag for flag, value in required if not value]
    if missing:
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


def _compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_a", help="run directory A (the baseline)")
    p.add_argument("run_b", help="run directory B")
    p.add_argument("--ci", choices=("bootstrap", "normal"), default="bootstrap")
    p.add_argument("--json", action="store_true", help="print rows as JSON")


def _cmd_compare(args: argparse.Namespace) -> int:
    from . import compare_runs, comparison_table

    try:
        rows = compare_runs(args.run_a, args.run_b, ci=args.ci)
    except FileNotFoundError as error:
        print(f"rlvr-envs compare: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        name_a = os.path.basename(os.path.normpath(args.run_a))
        name_b = os.path.basename(os.path.normpath(args.run_b))
        print(comparison_table(rows, f"A: {name_a}", f"B: {name_b}"))
    return 0


EVAL = Command("eval", "run an evaluation suite with an agent", _eval_arguments, _cmd_eval)
COMPARE = Command(
    "compare",
    "per-environment differences between two eval runs",
    _compare_arguments,
    _cmd_compare,
)
