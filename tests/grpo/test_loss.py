"""Each loss option against values computed by hand on a tiny batch."""

from __future__ import annotations

import math

import pytest
import torch

from agents.grpo import group_advantages, policy_loss, token_weights

REWARDS = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
GROUPS = torch.tensor([0, 0, 0, 1, 1, 1])
STD_A = math.sqrt(1 / 3)  # unbiased std of [1, 0, 0] (and of [1, 1, 0])


def close(got: torch.Tensor, want: list[float], tol: float = 1e-6) -> None:
    assert torch.allclose(got, torch.tensor(want), atol=tol), (got.tolist(), want)


def test_mean_baseline_without_scaling_is_dr_grpo():
    got = group_advantages(REWARDS, GROUPS, baseline="mean", scale_rewards="none")
    close(got, [2 / 3, -1 / 3, -1 / 3, 1 / 3, 1 / 3, -2 / 3])


def test_mean_baseline_with_group_std_is_grpo():
    got = group_advantages(REWARDS, GROUPS, baseline="mean", scale_rewards="group", eps=0.0)
    close(got, [x / STD_A for x in (2 / 3, -1 / 3, -1 / 3, 1 / 3, 1 / 3, -2 / 3)])


def test_group_std_has_an_epsilon():
    got = group_advantages(REWARDS, GROUPS, scale_rewards="group", eps=1e-4)
    assert got[0] == pytest.approx((2 / 3) / (STD_A + 1e-4), rel=1e-6)


def test_rloo_subtracts_the_mean_of_the_others():
    got = group_advantages(REWARDS, GROUPS, baseline="rloo", scale_rewards="none")
    close(got, [1.0, -0.5, -0.5, 0.5, 0.5, -1.0])


def test_no_baseline_keeps_raw_rewards():
    got = group_advantages(REWARDS, GROUPS, baseline="none", scale_rewards="none")
    close(got, REWARDS.tolist())


def test_batch_scaling_uses_the_std_of_all_rewards():
    got = group_advantages(REWARDS, GROUPS, baseline="mean", scale_rewards="batch", eps=0.0)
    batch_std = math.sqrt(6 * 0.25 / 5)
    close(got, [x / batch_std for x in (2 / 3, -1 / 3, -1 / 3, 1 / 3, 1 / 3, -2 / 3)])


def test_groups_of_unequal_size_after_dropped_faults():
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0])
    got = group_advantages(rewards, torch.tensor([0, 0, 1, 1, 1]), scale_rewards="none")
    close(got, [0.5, -0.5, 2 / 3, -1 / 3, -1 / 3])


# A batch of two completions: row 0 has 3 completion tokens (positions 1-3), row 1 has one.
MASK = torch.tensor([[0.0, 1, 1, 1], [0.0, 1, 0, 0]])


def test_token_weights_token_sequence_constant():
    close(
        token_weights(MASK, "token", max_new_tokens=4, num_sequences=2).flatten(),
        [0, 0.25, 0.25, 0.25, 0, 0.25, 0, 0],
    )
    close(
        token_weights(MASK, "sequence", max_new_tokens=4, num_sequences=2).flatten(),
        [0, 1 / 6, 1 / 6, 1 / 6, 0, 0.5, 0, 0],
    )
    close(
        token_weights(MASK, "constant", max_new_tokens=4, num_sequences=2).flatten(),
        [0, 0.125, 0.125, 0.125, 0, 0.125, 0, 0],
    )


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ratios row 0: 1, 1.5, 0.5 with A = +1; row 1: 0.5 with A = -2."""
    old = torch.full((2, 4), -1.0)
    logp = old.clone()
    logp[0, 2] += math.log(1.5)
    logp[0, 3] += math.log(0.5)
    logp[1, 1] += math.log(0.5)
    return logp * MASK, old * MASK, torch.tensor([1.0, -2.0])


# Per-token losses with clip_low=0.2, clip_high=0.28:
#   row 0, A=+1: ratio 1 -> -1; ratio 1.5 -> clipped to 1.28 -> -1.28; ratio 0.5 -> -0.5 (the
#   unclipped term is the smaller one, so no clipping below for a positive advantage)
#   row 1, A=-2: ratio 0.5 -> min(-1, 0.8 * -2 = -1.6) = -1.6 -> +1.6
ROW0 = [-1.0, -1.28, -0.5]
ROW1 = 1.6


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("token", (sum(ROW0) + ROW1) / 4),  # DAPO: all tokens of the step
        ("sequence", (sum(ROW0) / 3 + ROW1) / 2),  # GRPO: per sequence, then over sequences
        ("constant", (sum(ROW0) + ROW1) / (2 * 4)),  # Dr. GRPO: sequences x max_new_tokens
    ],
)
def test_policy_loss_for_each_aggregation(aggregation, expected):
    logp, old, adv = _batch()
    weights = token_weights(MASK, aggregation, max_new_tokens=4, num_sequences=2)
    loss, stats = policy_loss(logp, old, adv, weights, clip_low=0.2, clip_high=0.28)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert stats["tokens"] == 4
    assert stats["clipped_high"] == 1  # row 0's ratio 1.5 with a positive advantage
    assert stats["clipped_low"] == 1  # row 1's ratio 0.5 with a negative advantage


def test_clipped_tokens_get_no_gradient():
    logp, old, adv = _batch()
    logp.requires_grad_(True)
    weights = token_weights(MASK, "token", max_new_tokens=4, num_sequences=2)
    loss, _ = policy_loss(logp, old, adv, weights, clip_low=0.2, clip_high=0.28)
    loss.backward()
    grad = logp.grad
    assert grad[0, 2] == 0 and grad[1, 1] == 0  # clipped
    # Unclipped: d/dlogp of -ratio * A * w = -ratio * A * w.
    assert float(grad[0, 1]) == pytest.approx(-1.0 * 1 * 0.25)
    assert float(grad[0, 3]) == pytest.approx(-0.5 * 1 * 0.25)


def test_symmetric_clipping_clips_earlier_than_clip_higher():
    logp, old, adv = _batch()
    weights = token_weights(MASK, "token", max_new_tokens=4, num_sequences=2)
    loss, stats = policy_loss(logp, old, adv, weights, clip_low=0.2, clip_high=0.2)
    assert float(loss) == pytest.approx((-1 - 1.2 - 0.5 + 1.6) / 4, rel=1e-6)
    loss, stats = policy_loss(logp, old, adv, weights, clip_low=0.2, clip_high=0.6)
    assert float(loss) == pytest.approx((-1 - 1.5 - 0.5 + 1.6) / 4, rel=1e-6)
    assert stats["clipped_high"] == 0


def test_k3_kl_penalty():
    logp, old, adv = _batch()
    ref = logp.clone()
    ref[0, 2] += math.log(2.0)  # ref - logp = ln 2 -> k3 = 2 - ln 2 - 1
    weights = token_weights(MASK, "token", max_new_tokens=4, num_sequences=2)
    base, _ = policy_loss(logp, old, adv, weights, clip_low=0.2, clip_high=0.28)
    loss, stats = policy_loss(
        logp, old, adv, weights, clip_low=0.2, clip_high=0.28, beta=0.1, ref_logprobs=ref
    )
    k3 = 2 - math.log(2) - 1
    assert float(loss - base) == pytest.approx(0.1 * k3 / 4, rel=1e-5)
    assert stats["kl_sum"] == pytest.approx(k3, rel=1e-5)


def test_kl_needs_reference_logprobs():
    logp, old, adv = _batch()
    weights = token_weights(MASK, "token", max_new_tokens=4, num_sequences=2)
    with pytest.raises(ValueError, match="reference"):
        policy_loss(logp, old, adv, weights, clip_low=0.2, clip_high=0.28, beta=0.1)


def test_on_policy_loss_is_the_policy_gradient():
    """With old = current (one update per batch), ratio = 1 and d loss/d logp = -A * weight."""
    logp = torch.tensor([[0.0, -0.3, -2.0, -0.1]], requires_grad=True)
    weights = token_weights(
        torch.tensor([[0.0, 1, 1, 1]]), "sequence", max_new_tokens=8, num_sequences=1
    )
    loss, _ = policy_loss(
        logp, logp.detach(), torch.tensor([0.75]), weights, clip_low=0.2, clip_high=0.28
    )
    loss.backward()
    close(logp.grad, [[0.0, -0.25, -0.25, -0.25]])
