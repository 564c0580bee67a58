"""The GRPO trainer's figures quoted in docs/training.md, each rerunnable on CPU:

python benchmarks/grpo_checks.py granite                 # sampler_logprob_diff, old head vs model forward
python benchmarks/grpo_checks.py overlap                 # verification hidden behind generation
python benchmarks/grpo_checks.py curriculum [--steps 50] # mean difficulty per step on Curriculum-v0
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.grpo

from agents.grpo import default_run_config, train  # noqa: E402


def granite() -> None:
    """Step-1 sampler/trainer log-prob gap on a tiny Granite with logits_scaling=8."""
    import agents.grpo.logprobs as logprobs
    from agents.tiny import build_tiny_model
    from tests.grpo.conftest import TINY, quick_config
    from tests.grpo.envs import register_test_envs

    register_test_envs()
    root = Path(tempfile.mkdtemp())
    shape = {**TINY, "initializer_range": 0.5}  # large weights make a missed scale plain
    path = build_tiny_model(root / "granite", arch="granite", logits_scaling=8.0, **shape)

    def run(name: str) -> tuple[float, bool]:
        config = quick_config(
            root / name, path, env="grpotest/Digits-v0", env_kwargs={}, eval_tasks=0, steps=1
        )
        config.max_new_tokens, config.no_signal_patience = 5, 5
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(config, log=lambda message: None)
        first = json.loads((root / name / "metrics.jsonl").read_text().splitlines()[0])
        warned = any("sampler_logprob_diff" in str(w.message) for w in caught)
        return first["sampler_logprob_diff"], warned

    after = run("now")
    real = logprobs.logit_head
    logprobs.logit_head = lambda model: logprobs.LogitHead("head")  # the old trainer: head alone
    try:
        before = run("before")
    finally:
        logprobs.logit_head = real
    print(
        f"granite (logits_scaling=8): sampler_logprob_diff before fix {before[0]:.3g} nats/token "
        f"(warned: {before[1]}), after fix {after[0]:.3g} (warned: {after[1]})"
    )


def overlap() -> None:
    """32 completions at 20 ms each to generate and to verify: one call vs sub-batches of 8."""
    from tests.grpo.envs import register_test_envs
    from tests.grpo.test_overlap import _collect

    register_test_envs()
    for sub in (None, 8):
        collected, _, _ = _collect(sub)
        t = collected.timings()
        print(
            f"generation_batch_size={sub}: calls {collected.generation_calls}, generate "
            f"{t['time_generate_s']:.3f} s, verify busy {t['time_verify_busy_s']:.3f} s, wall "
            f"(collect) {t['time_collect_s']:.3f} s, generate+verify "
            f"{t['time_generate_s'] + t['time_verify_busy_s']:.3f} s, overlap "
            f"{t['time_overlap_s']:.3f} s"
        )


def curriculum(steps: int, warmup_steps: int) -> None:
    """A short tiny-policy GRPO run on rlvr/Curriculum-v0 (levels 1-2): difficulty per step."""
    out = Path(tempfile.mkdtemp())
    config = default_run_config(
        env="rlvr/Curriculum-v0",
        env_kwargs={"template": "{prompt}", "values": [1, 2], "target": (0.1, 0.6)},
        steps=steps,
        warmup_steps=warmup_steps,
        eval_tasks=0,
        max_new_tokens=5,
        output_dir=str(out),
        progress=False,
        plot=False,
        save_model=False,
    )
    started = time.perf_counter()
    train(config)
    print("step difficulty_mean difficulty_counts difficulty_reward")
    for line in (out / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "difficulty_mean" in record:
            rewards = {k: round(v, 3) for k, v in record["difficulty_reward"].items()}
            print(
                record["step"],
                round(record["difficulty_mean"], 3),
                record["difficulty_counts"],
                rewards,
            )
    print(f"wall {time.perf_counter() - started:.0f} s")


def main() -> None:
    """Run the check named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=["granite", "overlap", "curriculum"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup-steps", type=int, default=1200)
    args = parser.parse_args()
    if args.check == "granite":
        granite()
    elif args.check == "overlap":
        overlap()
    else:
        curriculum(args.steps, args.warmup_steps)


if __name__ == "__main__":
    main()
