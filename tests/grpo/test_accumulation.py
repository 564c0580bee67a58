"""Gradient accumulation: k micro-batches give the gradient of one batch, for every aggregation;
completion log-probs agree with a plain forward pass and with what the sampler recorded."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from agents.grpo import GRPOConfig, accumulate_gradients, completion_logprobs


def _policy(tiny_path):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32)
    # Break the tiny init's symmetry a bit so every parameter gets a distinct gradient.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.train()


def _synthetic_batch(model, rows: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    """Right-padded sequences of different lengths: a prompt, then completion tokens."""
    g = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    prompt_lengths = torch.randint(2, 6, (rows,), generator=g)
    completion_lengths = torch.randint(1, 8, (rows,), generator=g)
    lengths = prompt_lengths + completion_lengths
    width = int(lengths.max())
    ids = torch.zeros(rows, width, dtype=torch.long)
    attention = torch.zeros(rows, width, dtype=torch.long)
    loss_mask = torch.zeros(rows, width)
    for r in range(rows):
        n = int(lengths[r])
        ids[r, :n] = torch.randint(0, vocab, (n,), generator=g)
        attention[r, :n] = 1
        loss_mask[r, int(prompt_lengths[r]) : n] = 1
    batch = {
        "input_ids": ids,
        "attention_mask": attention,
        "position_ids": (attention.cumsum(-1) - 1).clamp(min=0),
        "loss_mask": loss_mask,
        "lengths": lengths,
        "advantages": torch.randn(rows, generator=g),
    }
    with torch.no_grad():
        current, _ = completion_logprobs(model, batch)
    # Old and reference policies a little off the current one, so clipping and KL both act.
    batch["old_logprobs"] = (current + 0.3 * torch.randn(current.shape, generator=g)) * loss_mask
    batch["ref_logprobs"] = (current + 0.2 * torch.randn(current.shape, generator=g)) * loss_mask
    return batch


def _gradients(model, batch, config) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    rows = torch.arange(len(batch["lengths"]))
    stats = accumulate_gradients(model, batch, rows, config, num_sequences=len(rows))
    assert stats["clipped_low"] + stats["clipped_high"] > 0  # the test exercises clipping
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("aggregation", ["token", "sequence", "constant"])
@pytest.mark.parametrize("micro", [1, 2, 4])
def test_micro_batches_give_the_full_batch_gradient(tiny_path, aggregation, micro):
    model = _policy(tiny_path)
    batch = _synthetic_batch(model)
    config = GRPOConfig(
        loss_aggregation=aggregation,
        micro_batch_size=6,
        max_new_tokens=8,
        beta=0.05,
        gradient_checkpointing=False,
    )
    full = _gradients(model, batch, config)
    split = _gradients(model, batch, dataclasses.replace(config, micro_batch_size=micro))
    assert full.keys() == split.keys() and full
    for name in full:
        assert torch.allclose(full[name], split[name], rtol=1e-4, atol=1e-7), name
    assert any(g.abs().sum() > 0 for g in full.values())


def test_logprobs_match_a_full_forward_for_any_chunk_size(tiny_path):
    model = _policy(tiny_path)
    batch = _synthetic_batch(model)
    with torch.no_grad():
        logits = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            position_ids=batch["position_ids"],
        ).logits
        logp = torch.log_softmax(logits[:, :-1].float() / 0.7, dim=-1)
        expected = logp.gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
        expected = torch.nn.functional.pad(expected, (1, 0)) * batch["loss_mask"]
        for chunk in (1, 3, 1000):
            got, entropy = completion_logprobs(model, batch, temperature=0.7, chunk_size=chunk)
            assert torch.allclose(got, expected, atol=1e-5)
            assert (entropy[batch["loss_mask"] == 0] == 0).all()
            assert (entropy[batch["loss_mask"] > 0] > 0).all()
            bare, none = completion_logprobs(
                model, batch, temperature=0.7, chunk_size=chunk, with_entropy=False
            )
            assert none is None and torch.equal(bare, got)


def test_checkpointed_chunks_give_the_same_gradient(tiny_path):
    model = _policy(tiny_path)
    batch = _synthetic_batch(model)
    grads = []
    for checkpointed in (False, True):
        model.zero_grad(set_to_none=True)
        logp, _ = completion_logprobs(model, batch, chunk_size=4, checkpoint_chunks=checkpointed)
        (logp * batch["advantages"][:, None]).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6)


def test_recomputed_logprobs_equal_the_samplers(tiny_path):
    """Training log-probs line up token for token with the rollout's sampling log-probs."""
    from agents.hf import HFAgent
    from agents.tensors import pad_episodes
    from rlvr_envs.rollout import collect_rollouts

    model = _policy(tiny_path)
    from transformers import AutoTokenizer

    agent = HFAgent(model, AutoTokenizer.from_pretrained(tiny_path))
    rollouts = collect_rollouts(
        agent,
        "rlvr/Arithmetic-v1",
        env_kwargs={"level": 1, "template": "{prompt}"},
        num_tasks=3,
        group_size=2,
        temperature=0.8,
        max_new_tokens=6,
        seed=3,
    )
    batch = pad_episodes(rollouts.episodes, pad_token_id=agent.pad_token_id)
    with torch.no_grad():
        got, _ = completion_logprobs(model.eval(), batch, temperature=0.8)
    assert torch.allclose(got, batch["old_logprobs"], atol=1e-4)
