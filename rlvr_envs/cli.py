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


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server.cli import run

    return run(args)


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


def _cmd_train(args: argparse.Namespace) -> int:
    import json

    try:
        from agents.grpo import (
            ConfigError,
            GRPOConfig,
            TrainingError,
            config_from_dict,
            default_run_config,
            train,
        )
    except ImportError as error:
        print(
            f"rlvr-envs train needs the training extras (pip install 'rlvr-envs[agents]'): {error}",
            file=sys.stderr,
        )
        return 2
    values: dict[str, object] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as handle:
            values.update(json.load(handle))
    flags = {
        "model": args.model,
        "env": args.env,
        "output_dir": args.output_dir,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "group_size": args.group_size,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "lr": args.lr,
        "device": args.device,
        "precision": args.precision,
        "seed": args.seed,
        "loss_aggregation": args.loss,
        "baseline": args.baseline,
        "scale_rewards": args.scale_rewards,
        "beta": args.beta,
        "num_updates": args.num_updates,
        "micro_batch_size": args.micro_batch_size,
        "lora_r": args.lora_r,
        "warmup_steps": args.warmup_steps,
        "eval_tasks": args.eval_tasks,
        "eval_every": args.eval_every,
        "save_every": args.save_every,
        "num_threads": args.threads,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    if args.env_arg:
        values["env_kwargs"] = {**dict(values.get("env_kwargs") or {}), **dict(args.env_arg)}
    for name, on in (
        ("resume", args.resume),
        ("mask_truncated", args.mask_truncated),
    ):
        if on:
            values[name] = True
    for name, off in (
        ("dynamic_sampling", args.no_dynamic_sampling),
        ("progress", args.no_progress),
        ("plot", args.no_plot),
    ):
        if off:
            values[name] = False
    values.update(dict(args.set or []))
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bars around the run's own
    try:
        if values.get("model") is None:
            # The offline default: a tiny policy built here. Its environment settings only fit
            # its own environment.
            base = default_run_config()
            if values.get("env", base.env) != base.env:
                base.env_kwargs = {}
        else:
            base = GRPOConfig()
        config = config_from_dict(values, base)
        train(config)
    except (ConfigError, TrainingError) as error:
        print(f"rlvr-envs train: {error}", file=sys.stderr)
        return 2
    # train() has printed the held-out accuracy before and after RL.
    print(f"summary: {os.path.join(config.output_dir, 'summary.json')}")
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

    p = sub.add_parser(
        "train",
        help="GRPO training (offline default: a tiny policy learns arithmetic on CPU)",
        description="GRPO-family RL on an environment's verifier. With no --model, a tiny "
        "policy is built offline and trained on one-digit sums on CPU in a few minutes; with "
        "--model (any Hugging Face causal LM) and --env, a real model trains, bf16 on a GPU.",
    )
    p.add_argument("--model", help="hub id or local path of a causal LM (default: tiny, offline)")
    p.add_argument("--env", help="environment id (default: rlvr/Arithmetic-v0, level 1)")
    p.add_argument(
        "--env-arg",
        action="append",
        type=_key_value,
        metavar="KEY=VALUE",
        help="environment keyword argument (repeatable; JSON values)",
    )
    p.add_argument("--output-dir", "-o", help="where metrics.jsonl, summary.json, model/ go")
    p.add_argument("--steps", type=int, help="RL steps")
    p.add_argument("--batch-size", type=int, help="completions per step (a multiple of G)")
    p.add_argument("--group-size", "-G", type=int, help="completions per task (G >= 2)")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--temperature", type=float)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--precision", choices=("auto", "bf16-mixed", "bf16", "fp32"))
    p.add_argument("--seed", type=int)
    p.add_argument(
        "--loss",
        choices=("token", "sequence", "constant"),
        help="aggregation: token (DAPO), sequence (GRPO), constant (Dr. GRPO)",
    )
    p.add_argument("--baseline", choices=("mean", "rloo", "none"))
    p.add_argument("--scale-rewards", choices=("group", "batch", "none"))
    p.add_argument("--beta", type=float, help="KL (k3) penalty weight (0: no reference)")
    p.add_argument("--num-updates", type=int, help="passes over each batch (PPO epochs)")
    p.add_argument("--micro-batch-size", type=int, help="sequences per forward/backward")
    p.add_argument("--lora-r", type=int, help="LoRA rank (0: full fine-tuning)")
    p.add_argument("--warmup-steps", type=int, help="supervised warm-up steps before RL")
    p.add_argument("--eval-tasks", type=int, help="held-out evaluation tasks (0: none)")
    p.add_argument("--eval-every", type=int, help="evaluate every N steps too")
    p.add_argument("--save-every", type=int, help="checkpoint every N steps")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/checkpoint")
    p.add_argument("--mask-truncated", action="store_true", help="no loss on cut completions")
    p.add_argument("--no-dynamic-sampling", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--config", help="a JSON file of GRPOConfig fields (flags override it)")
    p.add_argument(
        "--set",
        action="append",
        type=_key_value,
        metavar="FIELD=VALUE",
        help="any GRPOConfig field (repeatable; JSON values), e.g. --set clip_high=0.28",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("serve", help="serve an environment over OpenEnv's protocol ([serve] extra)")
    from .server.cli import add_arguments  # argparse only; FastAPI loads when serving

    add_arguments(p, _key_value)
    p.set_defaults(func=_cmd_serve)

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
