"""The trainer on a CUDA GPU: bf16-mixed and pure bf16, full fine-tuning and LoRA with a KL
reference, and bf16 training log-probs close to the sampler's."""

from __future__ import annotations

import json

import pytest
import torch

from agents.grpo import train

from .conftest import quick_config

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _steps(directory) -> list[dict]:
    lines = (directory / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "reward_mean" in r]


def _gpu_config(tmp_path, tiny_path, **overrides):
    values = dict(
        env="grpotest/Digits-v0",
        env_kwargs={},
        device="cuda",
        max_new_tokens=8,
        eval_tasks=8,
        steps=3,
        gradient_checkpointing=True,
        micro_batch_size=4,
        logprob_chunk_size=16,
    )
    values.update(overrides)
    return quick_config(tmp_path, tiny_path, **values)


@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16"])
def test_full_fine_tuning(tmp_path, tiny_path, precision):
    config = _gpu_config(tmp_path, tiny_path, precision=precision, num_updates=2)
    config.allow_bf16_weights = True  # pure bf16 needs it (and warns)
    summary = train(config)
    assert summary["precision"] == precision and summary["device"].startswith("cuda")
    for record in _steps(tmp_path):
        assert record["loss"] is not None and abs(record["loss"]) < 1e3
        assert record["entropy"] > 0 and record["grad_norm"] >= 0


def test_lora_with_kl_to_the_disabled_adapter(tmp_path, tiny_path):
    config = _gpu_config(tmp_path, tiny_path, lora_r=4, beta=0.05, lr=1e-2)
    config.lora_target_modules = ["q_proj", "v_proj"]
    train(config)
    steps = _steps(tmp_path)
    assert steps[0]["kl"] == pytest.approx(0.0, abs=1e-3)
    assert all(r["kl"] is not None for r in steps)


def test_kl_to_a_frozen_copy(tmp_path, tiny_path):
    train(_gpu_config(tmp_path, tiny_path, beta=0.1, lr=1e-2, steps_per_batch=2))
    steps = _steps(tmp_path)
    # The copy keeps the policy's fp32 weights (bf16-mixed): no KL before the first update.
    assert steps[0]["kl"] < 1e-3 and steps[-1]["kl"] > 0
    assert steps[0]["sampler_logprob_diff"] < 5e-2  # the documented bf16 bound


def test_bf16_training_logprobs_track_the_sampler(tiny_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.grpo import completion_logprobs
    from agents.hf import HFAgent
    from agents.tensors import pad_episodes
    from rlvr_envs.rollout import collect_rollouts

    model = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32).cuda()
    agent = HFAgent(model, AutoTokenizer.from_pretrained(tiny_path))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        rollouts = collect_rollouts(
            agent,
            "rlvr/Arithmetic-v1",
            env_kwargs={"level": 1, "template": "{prompt}"},
            num_tasks=4,
            group_size=4,
            max_new_tokens=8,
            seed=0,
        )
        batch = pad_episodes(rollouts.episodes, pad_token_id=agent.pad_token_id, device="cuda")
        with torch.no_grad():
            got, _ = completion_logprobs(model.eval(), batch)
    mask = batch["loss_mask"] > 0
    diff = (got - batch["old_logprobs"])[mask].abs()
    assert diff.mean() < 0.05, f"bf16 training log-probs drift from the sampler's: {diff.mean()}"


def test_trainer_decodes_with_cuda_graphs(tmp_path, tiny_path):
    summary = train(_gpu_config(tmp_path, tiny_path, steps=2))
    assert summary["decode"] == "cuda-graphs", summary["decode_fallback"]


def _lively_cuda_model(tiny_path):
    """The tiny policy on CUDA with its weights scaled up (a livelier distribution)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32).cuda()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(8.0)
    return model, AutoTokenizer.from_pretrained(tiny_path)


def test_cuda_graph_decoding_matches_hfagent_and_follows_weight_updates(tiny_path):
    from agents.grpo.decode import StaticCacheAgent
    from agents.hf import HFAgent

    model, tokenizer = _lively_cuda_model(tiny_path)
    dynamic, graphed = HFAgent(model, tokenizer), StaticCacheAgent(model, tokenizer)
    prompts = ["What is 2 + 3?", "x", "Please reason step by step. " * 6, "def add(a, b):"]
    for _ in range(2):  # the second round runs after an in-place weight change
        expected = dynamic.generate(prompts, max_new_tokens=24, temperature=0)
        got = graphed.generate(prompts, max_new_tokens=24, temperature=0)
        assert graphed.decode_mode == "cuda-graphs", graphed.fallback_reason
        for e, g in zip(expected, got):
            assert g.token_ids == e.token_ids
            assert torch.allclose(torch.tensor(g.logprobs), torch.tensor(e.logprobs), atol=1e-3)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.05)
    sampled = graphed.generate(prompts, max_new_tokens=24, temperature=1.0, n=4, seed=0)
    assert len(sampled) == 16 and all(g.num_tokens > 0 for g in sampled)


def test_cuda_graph_decoding_drops_finished_rows(tiny_path):
    from agents.grpo.decode import StaticCacheAgent
    from agents.hf import HFAgent

    from .test_decode import check_finished_rows_leave_the_batch

    model, tokenizer = _lively_cuda_model(tiny_path)
    graphed = StaticCacheAgent(model, tokenizer)
    check_finished_rows_leave_the_batch(HFAgent(model, tokenizer), graphed, atol=1e-3)
    assert graphed.decode_mode == "cuda-graphs", graphed.fallback_reason
