"""GRPO steps on one GPU: this project's trainer (agents/grpo/) against TRL's GRPOTrainer.

Both train the same random-weight Qwen2-architecture model built from a config (the shape of
Qwen2.5-0.5B: hidden 896, 24 layers, 14 heads, 2 KV heads, intermediate 4864, tied embeddings;
the tokenizer is trained on the fly and padded with added tokens to the 151,936-token vocabulary)
on the same prompts with the same settings: bf16-mixed (fp32 weights, bf16 autocast) on both
sides, G completions per prompt, fixed prompt and
completion lengths (the EOS logits are masked in both, so every completion has exactly
``--completion-tokens`` tokens), gradient checkpointing, no KL, one update per batch, DAPO token
aggregation, learning rate 1e-6, TRL with ``use_vllm=False``. The reward is the math verifier's
through the same environment in both (TRL through ``rlvr_envs.integrations.trl``), plus a
deterministic hash bonus so that a random model's groups still have different rewards and both
trainers do real updates. Nothing is downloaded.

    python benchmarks/gpu_grpo.py                      # GPU: 8 and 32 prompts x G=8, 7 steps each
    python benchmarks/gpu_grpo.py --tiny --device cpu  # a CPU smoke run of both paths

Reported per trainer, as the median [min-max] over the steps after the first (which warms up
kernels, allocators and CUDA graphs; 6 timed steps by default): seconds per step, generation
tokens/s (completion tokens / generation time), training tokens/s (prompt + completion tokens /
time outside generation and verification), peak GPU memory, the generate / verify / train split,
and for ours the mean |sampler - trainer| log-prob (bf16 rounding); then TRL's time over ours
(> 1: ours faster).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QWEN25_05B = dict(
    hidden_size=896,
    num_layers=24,
    num_heads=14,
    num_kv_heads=2,
    intermediate_size=4864,
    max_position_embeddings=32768,
    rope_theta=1_000_000.0,
    initializer_range=0.02,
)
TINY = dict(
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    num_kv_heads=2,
    intermediate_size=128,
    initializer_range=0.02,
)
ENV_ID = "bench/FixedLengthArithmetic-v0"


def build_model(directory: Path, shape: dict[str, Any], vocab_size: int | None) -> Path:
    """A random-weight Qwen2 model and a tokenizer padded to ``vocab_size`` tokens."""
    from transformers import AutoTokenizer

    from agents.tiny import build_tiny_model

    path = build_tiny_model(directory / "tok", arch="qwen2", **TINY)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if vocab_size and vocab_size > len(tokenizer):
        # Added tokens decode to text, so every sampled id means something to the verifier.
        tokenizer.add_tokens([f"<t{i}>" for i in range(vocab_size - len(tokenizer))])
    corpus_dir = directory / "model"
    tokenizer.save_pretrained(corpus_dir)
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=shape["hidden_size"],
        num_hidden_layers=shape["num_layers"],
        num_attention_heads=shape["num_heads"],
        num_key_value_heads=shape["num_kv_heads"],
        intermediate_size=shape["intermediate_size"],
        max_position_embeddings=shape.get("max_position_embeddings", 2048),
        rope_theta=shape.get("rope_theta", 10000.0),
        initializer_range=shape["initializer_range"],
        tie_word_embeddings=True,
        eos_token_id=eos_ids[0],
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=eos_ids, pad_token_id=tokenizer.pad_token_id, do_sample=True
    )
    model.save_pretrained(corpus_dir)
    return corpus_dir


def fixed_length_rows(tokenizer: Any, count: int, prompt_tokens: int) -> list[dict[str, str]]:
    """Arithmetic questions padded with one-token words to exactly ``prompt_tokens`` tokens."""
    import numpy as np

    from rlvr_envs.envs.math import arithmetic_task

    filler = " the"
    if len(tokenizer(filler, add_special_tokens=False)["input_ids"]) != 1:
        raise RuntimeError("the filler word is not one token")
    rows = []
    rng = np.random.default_rng(0)
    for i in range(count):
        task = arithmetic_task(rng, 2)
        text = task.prompt
        size = len(tokenizer(text)["input_ids"])
        if size > prompt_tokens:
            raise ValueError(f"--prompt-tokens must be >= {size}")
        text += filler * (prompt_tokens - size)
        assert len(tokenizer(text)["input_ids"]) == prompt_tokens
        rows.append({"id": f"q{i}", "prompt": text, "answer": task.answer})
    return rows


def register_env(rows: list[dict[str, str]]) -> None:
    """The benchmark environment: math verifier + a deterministic 0/1 hash bonus."""
    import gymnasium

    from rlvr_envs import DatasetSource, Task, TextEnv, register
    from rlvr_envs.verifiers.math import verify

    tasks = [Task(r["id"], r["prompt"], r["answer"]) for r in rows]

    def reward(completion: str, task: Task) -> float:
        verdict = verify(completion, task.answer)
        return verdict.reward + float(zlib.crc32(completion.encode()) % 2)

    def make(**kwargs: Any) -> TextEnv:
        return TextEnv(DatasetSource(tasks, name="bench"), reward, template="{prompt}", **kwargs)

    if ENV_ID not in gymnasium.registry:
        register(ENV_ID, make, description="benchmark", tasks=str(len(tasks)))


def mask_eos(model: Any, eos_ids: list[int]) -> Any:
    """Make EOS impossible to sample (fixed completion lengths): a hook on the output layer."""
    import torch

    index = {
        "ids": torch.tensor(sorted(eos_ids), device=model.get_output_embeddings().weight.device)
    }

    def hook(module: Any, inputs: Any, output: Any) -> Any:
        # Keep the index on the logits' device (TRL moves the model after this hook is set); a
        # CUDA graph must never see the host copy, so it is made once, before any capture.
        if index["ids"].device != output.device:
            index["ids"] = index["ids"].to(output.device)
        return output.index_fill(-1, index["ids"], -1e4)

    return model.get_output_embeddings().register_forward_hook(hook)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_gib(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def _reset_memory(device: str) -> None:
    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def run_ours(
    args: argparse.Namespace, path: Path, prompts: int, work: Path, graphs: bool = True
) -> dict[str, Any]:
    """N steps of agents.grpo.train; per-step figures from its metrics.jsonl."""
    import agents.grpo as grpo
    import agents.grpo.policy as grpo_policy

    original = grpo_policy.load_policy
    hooks = []

    def load_policy(config: Any, device: Any, precision: str) -> Any:
        model, tokenizer = original(config, device, precision)
        eos = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
        hooks.append(mask_eos(model, eos))
        return model, tokenizer

    grpo_policy.load_policy = load_policy
    batch = prompts * args.group_size
    config = grpo.GRPOConfig(
        model=str(path),
        env=ENV_ID,
        chat=False,
        output_dir=str(work / f"ours-{prompts}-{graphs}"),
        cuda_graphs=graphs,
        device=args.device,
        precision=args.precision,
        steps=args.steps,
        batch_size=batch,
        group_size=args.group_size,
        max_new_tokens=args.completion_tokens,
        dynamic_sampling=False,
        micro_batch_size=min(batch, args.micro_batch_size),
        gradient_checkpointing=True,
        lr=1e-6,
        beta=0.0,
        loss_aggregation="token",
        eval_tasks=0,
        progress=False,
        plot=False,
        save_model=False,
        no_signal_patience=args.steps + 1,
    )
    _reset_memory(args.device)
    try:
        summary = grpo.train(config, log=lambda message: None)
    finally:
        grpo_policy.load_policy = original
        for hook in hooks:
            hook.remove()
    peak = _peak_gib(args.device)
    records = [
        json.loads(line)
        for line in (Path(config.output_dir) / "metrics.jsonl").read_text().splitlines()
    ]
    steps = [r for r in records if "time_step_s" in r][1:] or records[-1:]
    tokens = batch * (args.prompt_tokens + args.completion_tokens)
    completion = batch * args.completion_tokens
    step_s = [r["time_step_s"] for r in steps]
    gen = [r["time_generate_s"] for r in steps]
    train = [r["time_train_s"] for r in steps]
    return {
        "trainer": "ours" if graphs else "ours-loop",
        "decode": summary["decode"],
        "decode_fallback": summary["decode_fallback"],
        "prompts": prompts,
        "batch": batch,
        "s_per_step": spread(step_s),
        "gen_tok_s": spread([completion / g for g in gen]),
        "train_tok_s": spread([tokens / t for t in train]),
        "generate_s": spread(gen),
        "verify_s": spread([r["time_env_wait_s"] for r in steps]),
        "train_s": spread(train),
        "sampler_logprob_diff": spread([r["sampler_logprob_diff"] for r in steps]),
        "peak_gib": peak,
        "completion_lengths": sorted({r["length_mean"] for r in steps}),
        "steps_measured": len(steps),
    }


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of per-step figures."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run_trl(args: argparse.Namespace, path: Path, prompts: int, work: Path) -> dict[str, Any]:
    """N steps of TRL's GRPOTrainer with the same model, data, reward and settings."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rlvr_envs.integrations.trl import prompt_dataset, reward_function

    batch = prompts * args.group_size
    micro = min(batch, args.micro_batch_size)
    tokenizer = AutoTokenizer.from_pretrained(path)
    # bf16-mixed as ours: fp32 weights, and TRL's bf16=True runs the forwards under bf16 autocast.
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    eos = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    hook = mask_eos(model, eos)

    timings: dict[str, list[float]] = {"generate": [], "verify": [], "step": []}
    generate = model.generate

    def timed_generate(*a: Any, **k: Any) -> Any:
        _sync(args.device)
        start = time.perf_counter()
        out = generate(*a, **k)
        _sync(args.device)
        timings["generate"].append(time.perf_counter() - start)
        return out

    model.generate = timed_generate
    rewards = reward_function(ENV_ID)

    def reward(*a: Any, **k: Any) -> list[float | None]:
        start = time.perf_counter()
        out = rewards(*a, **k)
        timings["verify"].append(time.perf_counter() - start)
        return out

    reward.__name__ = rewards.__name__

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            _sync(args.device)
            self.start = time.perf_counter()
            self.marks = (len(timings["generate"]), len(timings["verify"]))

        def on_step_end(self, *a: Any, **k: Any) -> None:
            _sync(args.device)
            timings["step"].append(time.perf_counter() - self.start)
            g, v = self.marks
            timings.setdefault("step_generate", []).append(sum(timings["generate"][g:]))
            timings.setdefault("step_verify", []).append(sum(timings["verify"][v:]))

    cuda = args.device.startswith("cuda")
    config = GRPOConfig(
        output_dir=str(work / f"trl-{prompts}"),
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=batch // micro,
        num_generations=args.group_size,
        max_completion_length=args.completion_tokens,
        learning_rate=1e-6,
        beta=0.0,
        loss_type="dapo",
        scale_rewards="group",
        temperature=1.0,
        use_vllm=False,
        bf16=args.precision == "bf16-mixed",
        gradient_checkpointing=True,
        max_steps=args.steps,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=0,
        use_cpu=not cuda,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    rows = prompt_dataset(ENV_ID)
    _reset_memory(args.device)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[StepTimer()],
    )
    trainer.remove_callback(PrinterCallback)  # no log dict printed per step
    trainer.train()
    peak = _peak_gib(args.device)
    hook.remove()
    rewards.close()
    del trainer, model
    measured = slice(1, None) if len(timings["step"]) > 1 else slice(None)
    step_s = timings["step"][measured]
    gen = timings["step_generate"][measured]
    verify = timings["step_verify"][measured]
    train = [s - g - v for s, g, v in zip(step_s, gen, verify)]
    tokens = batch * (args.prompt_tokens + args.completion_tokens)
    return {
        "trainer": "TRL",
        "decode": "generate",
        "prompts": prompts,
        "batch": batch,
        "s_per_step": spread(step_s),
        "gen_tok_s": spread([batch * args.completion_tokens / g for g in gen]),
        "train_tok_s": spread([tokens / t for t in train]),
        "generate_s": spread(gen),
        "verify_s": spread(verify),
        "train_s": spread(train),
        "peak_gib": peak,
        "steps_measured": len(step_s),
    }


def _cell(figure: dict[str, float], fmt: str) -> str:
    """``median [min-max]``."""
    return f"{figure['median']:{fmt}} [{figure['min']:{fmt}}-{figure['max']:{fmt}}]"


def table(results: list[dict[str, Any]], group_size: int) -> str:
    """Rows per trainer and batch (median [min-max] over the timed steps), then TRL / ours."""
    columns = ("batch", "trainer", "decode", "s/step", "gen tok/s", "train tok/s")
    columns += ("generate s", "verify s", "train s", "peak GiB", "steps", "|dlogp|")
    widths = (9, 9, 11, 17, 19, 19, 17, 8, 17, 8, 5, 8)
    formats = (".2f", ",.0f", ",.0f", ".2f", ".3f", ".2f")
    header = "  ".join(
        f"{c:>{w}}" if i > 2 else f"{c:<{w}}" for i, (c, w) in enumerate(zip(columns, widths))
    )
    lines = [header, "-" * len(header)]
    by_batch: dict[int, dict[str, dict[str, Any]]] = {}
    keys = ("s_per_step", "gen_tok_s", "train_tok_s", "generate_s", "verify_s", "train_s")
    for r in results:
        by_batch.setdefault(r["prompts"], {})[r["trainer"]] = r
        batch = f"{r['prompts']}x{group_size}"
        if "error" in r:
            lines.append(f"{batch:<9}  {r['trainer']:<9}  failed: {r['error'][:300]}")
            continue
        cells = [_cell(r[key], fmt) for key, fmt in zip(keys, formats)]
        cells[4] = f"{r['verify_s']['median']:.3f}"  # tiny next to the rest: the median says it
        cells.append(f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "-")
        cells.append(str(r["steps_measured"]))
        diff = r.get("sampler_logprob_diff")
        cells.append(f"{diff['median']:.1e}" if diff else "-")
        right = "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths[3:]))
        lines.append(f"{batch:<9}  {r['trainer']:<9}  {r['decode']:<11}  {right}")
        if r.get("decode_fallback"):
            lines.append(f"{'':<9}  (decoding fell back: {r['decode_fallback'][:200]})")
    for prompts, runs in by_batch.items():
        trl = runs.get("TRL")
        for name in ("ours", "ours-loop"):
            ours = runs.get(name)
            if ours and trl and "error" not in ours and "error" not in trl:
                lines.append(
                    f"{prompts}x{group_size}: ratio {name} (medians): TRL/ours s/step "
                    f"{trl['s_per_step']['median'] / ours['s_per_step']['median']:.2f}x, "
                    f"gen tok/s ours/TRL "
                    f"{ours['gen_tok_s']['median'] / trl['gen_tok_s']['median']:.2f}x, "
                    f"train tok/s ours/TRL "
                    f"{ours['train_tok_s']['median'] / trl['train_tok_s']['median']:.2f}x"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cuda or cpu")
    parser.add_argument("--tiny", action="store_true", help="a tiny model and sizes (CPU smoke)")
    parser.add_argument("--prompts", type=int, nargs="+", help="prompts per step (default 8 32)")
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=None)
    parser.add_argument("--completion-tokens", type=int, default=None)
    parser.add_argument(
        "--steps", type=int, default=None, help="steps per run, the first not timed (default 7)"
    )
    parser.add_argument("--micro-batch-size", type=int, default=64)
    parser.add_argument("--vocab-size", type=int, default=None, help="pad the tokenizer to this")
    parser.add_argument(
        "--precision",
        choices=("bf16-mixed", "fp32"),
        default=None,
        help="both trainers (default: bf16-mixed on CUDA, fp32 on CPU)",
    )
    parser.add_argument("--skip-trl", action="store_true")
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument(
        "--with-loop", action="store_true", help="also ours with the dynamic decoding loop"
    )
    parser.add_argument("--budget-s", type=float, default=420, help="skip runs past this time")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA GPU here (use --tiny --device cpu for a smoke run)")
    cuda = args.device.startswith("cuda")
    args.precision = args.precision or ("bf16-mixed" if cuda else "fp32")
    if args.tiny:
        shape = TINY
        args.prompts = args.prompts or [2]
        args.group_size = min(args.group_size, 4)
        args.prompt_tokens = args.prompt_tokens or 12
        args.completion_tokens = args.completion_tokens or 16
        args.steps = args.steps or 3
        args.vocab_size = args.vocab_size or 0
    else:
        shape = QWEN25_05B
        args.prompts = args.prompts or [8, 32]
        args.prompt_tokens = args.prompt_tokens or 32
        args.completion_tokens = args.completion_tokens or 256
        args.steps = args.steps or 7
        args.vocab_size = 151_936 if args.vocab_size is None else args.vocab_size
    if not cuda:
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = build_model(work, shape, args.vocab_size)
        from transformers import AutoConfig, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        config = AutoConfig.from_pretrained(path)
        rows = fixed_length_rows(tokenizer, 256, args.prompt_tokens)
        register_env(rows)
        params = config.vocab_size * config.hidden_size + config.num_hidden_layers * (
            config.hidden_size * config.hidden_size * 2
            + 2
            * config.hidden_size
            * (config.hidden_size // config.num_attention_heads)
            * config.num_key_value_heads
            + 3 * config.hidden_size * config.intermediate_size
        )
        device_name = torch.cuda.get_device_name() if cuda else "CPU"
        print(
            f"model: Qwen2 config, ~{params / 1e6:.1f}M parameters, vocab {config.vocab_size:,}; "
            f"{args.precision} on {device_name}; G={args.group_size}, prompt "
            f"{args.prompt_tokens} + completion {args.completion_tokens} tokens, "
            f"{args.steps} steps per run (first excluded); built in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        # Per batch size TRL, then ours (static cache + CUDA graphs); then, while time remains,
        # ours with HFAgent's dynamic decoding loop for comparison.
        runs = []
        for prompts in args.prompts:
            if not args.skip_trl:
                runs.append(("TRL", prompts))
            if not args.skip_ours:
                runs.append(("ours", prompts))
        if not args.skip_ours and cuda and args.with_loop:
            runs += [("ours-loop", prompts) for prompts in args.prompts]
        for name, prompts in runs:
            elapsed = time.perf_counter() - started
            if elapsed > args.budget_s:
                print(f"skipped {name} at {prompts} prompts: {elapsed:.0f} s > --budget-s")
                continue
            t0 = time.perf_counter()
            try:
                if name == "TRL":
                    result = run_trl(args, path, prompts, work)
                else:
                    result = run_ours(args, path, prompts, work, graphs=name == "ours")
            except Exception as error:  # report and go on: the other runs still mean something
                result = {
                    "trainer": name,
                    "prompts": prompts,
                    "error": f"{type(error).__name__}: {error}",
                }
            result["wall_s"] = time.perf_counter() - t0
            results.append(result)
            print(f"{name} at {prompts} prompts done in {result['wall_s']:.0f} s", flush=True)
            _reset_memory(args.device)
    print()
    print(table(results, args.group_size))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    out = args.json or (
        os.path.join(os.environ["OUT"], "gpu_grpo.json") if os.environ.get("OUT") else None
    )
    if out:
        Path(out).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
