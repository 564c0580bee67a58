"""HFAgent's decoding loop against ``model.generate``, side by side on the same model and prompts.

What a user would otherwise write to get token ids *and* sampling log-probs is
``model.generate(..., output_logits=True, return_dict_in_generate=True)`` followed by a
log-softmax over the returned logits; plain ``model.generate`` (no log-probs) is shown too.
Every method samples exactly ``--new-tokens`` tokens per row (the EOS id is set to an id outside
the vocabulary), so tokens/s compare like for like. Ratios > 1 mean HFAgent is faster.

    python benchmarks/agents_generation.py                 # CPU, a small random model
    python benchmarks/agents_generation.py --preset gpu    # 359M-parameter Qwen2 shape, bf16 on CUDA
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PRESETS = {
    "cpu": dict(
        model=dict(
            hidden_size=128, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=384
        ),
        batches=(4, 16),
        new_tokens=32,
    ),
    "gpu": dict(
        model=dict(
            hidden_size=896, num_layers=24, num_heads=14, num_kv_heads=2, intermediate_size=4864
        ),
        batches=(64, 256),
        new_tokens=256,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=None)
    args = parser.parse_args()

    import torch

    from agents.hf import HFAgent
    from agents.tiny import build_tiny_model

    preset = PRESETS[args.preset]
    new_tokens = args.new_tokens or preset["new_tokens"]
    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_model(
            tmp,
            arch="qwen2",
            max_position_embeddings=4096,
            initializer_range=0.02,
            **preset["model"],
        )
        agent = HFAgent(path)
        model, device = agent.model, agent.device
        never = agent.vocab_size  # an EOS id no row can sample: every row runs to new_tokens
        agent.eos_token_ids = frozenset({never})
        params = sum(p.numel() for p in model.parameters())
        print(
            f"device={device} dtype={next(model.parameters()).dtype} params={params / 1e6:.1f}M new_tokens={new_tokens}"
        )
        print(f"torch {torch.__version__}, transformers {__import__('transformers').__version__}")

        rng = random.Random(0)
        words = "the quick brown fox jumps over the lazy dog what is 12 + 35 answer".split()

        def prompts(n: int) -> list[list[int]]:
            return [
                agent.encode(" ".join(rng.choice(words) for _ in range(rng.randint(8, 40))))
                for _ in range(n)
            ]

        def sync() -> None:
            if device.type == "cuda":
                torch.cuda.synchronize()

        def run_agent(batch: list[list[int]]) -> int:
            out = agent.generate_tokens(batch, temperature=1.0, max_new_tokens=new_tokens, seed=0)
            return sum(len(g.token_ids) for g in out)

        def run_generate(batch: list[list[int]], with_logprobs: bool) -> int:
            width = max(len(p) for p in batch)
            ids = torch.full((len(batch), width), agent.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, p in enumerate(batch):
                ids[i, width - len(p) :] = torch.tensor(p)
                mask[i, width - len(p) :] = 1
            with torch.no_grad():
                out = model.generate(
                    ids.to(device),
                    attention_mask=mask.to(device),
                    do_sample=True,
                    temperature=1.0,
                    top_p=1.0,
                    top_k=0,
                    max_new_tokens=new_tokens,
                    min_new_tokens=new_tokens,
                    eos_token_id=[never],
                    pad_token_id=agent.pad_token_id,
                    output_logits=with_logprobs,
                    return_dict_in_generate=True,
                )
                generated = out.sequences[:, width:]
                if with_logprobs:
                    logits = torch.stack(out.logits, dim=1).float()
                    logp = (
                        torch.log_softmax(logits, dim=-1)
                        .gather(-1, generated[..., None])
                        .squeeze(-1)
                    )
                    logp.tolist()
            return generated.numel()

        methods = {
            "HFAgent.generate_tokens (ids + log-probs)": run_agent,
            "model.generate + output_logits (ids + log-probs)": lambda b: run_generate(b, True),
            "model.generate (ids only)": lambda b: run_generate(b, False),
        }
        for batch_size in preset["batches"]:
            agent.batch_size = batch_size
            batch = prompts(batch_size)
            for fn in methods.values():  # warm-up
                fn(batch[: min(4, batch_size)])
            rates: dict[str, float] = {}
            for name, fn in methods.items():
                samples = []
                for _ in range(args.repeats):
                    sync()
                    start = time.perf_counter()
                    tokens = fn(batch)
                    sync()
                    samples.append(tokens / (time.perf_counter() - start))
                rates[name] = statistics.median(samples)
            base = rates["HFAgent.generate_tokens (ids + log-probs)"]
            print(f"\nbatch {batch_size}: median tokens/s over {args.repeats} runs")
            for name, rate in rates.items():
                print(f"  {name:<50} {rate:>10.0f} tok/s   HFAgent / this = {base / rate:.2f}x")


if __name__ == "__main__":
    main()
