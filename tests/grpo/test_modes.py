"""Old, reference and training log-probs are computed alike: same dropout mode, same dtype; a KL
reference that would be the pre-warm-up model is refused; pure bf16 weights need a flag."""

from __future__ import annotations

import json

import pytest
import torch

from agents.grpo import ConfigError, train
from agents.grpo.logprobs import completion_logprobs, logit_head, no_grad_logprobs
from agents.grpo.policy import build_policy, frozen_reference

from .conftest import TINY, quick_config


@pytest.fixture(scope="module")
def dropout_path(tmp_path_factory):
    from agents.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("dropout"), attention_dropout=0.5, **TINY)


def _batch(policy):
    """A small right-padded batch sampled from the policy."""
    from agents.tensors import pad_episodes
    from rlvr_envs.rollout import collect_rollouts

    rollouts = collect_rollouts(
        policy.agent,
        "grpotest/Digits-v0",
        num_tasks=2,
        group_size=2,
        max_new_tokens=6,
        temperature=1.0,
        seed=1,
    )
    return pad_episodes(rollouts.episodes, pad_token_id=policy.agent.pad_token_id)


def _policy(tmp_path, path, **overrides):
    config = quick_config(tmp_path, path, lora_r=4, lora_alpha=8, lora_dropout=0.5, **overrides)
    config.lora_target_modules = ["q_proj", "v_proj"]
    return config, build_policy(config, torch.device("cpu"), "fp32")


def _dropout_rates(model):
    rates = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    rates += [m.attention_dropout for m in model.modules() if hasattr(m, "attention_dropout")]
    return rates


def test_dropout_is_off_so_old_and_training_logprobs_agree(tmp_path, dropout_path):
    config, policy = _policy(tmp_path, dropout_path)
    rates = _dropout_rates(policy.model)
    assert rates and all(rate == 0.0 for rate in rates)  # LoRA's and the attention's
    batch = _batch(policy)
    old = no_grad_logprobs(
        policy.model,
        batch,
        temperature=1.0,
        chunk_size=64,
        micro_batch_size=8,
        autocast=policy.autocast,
    )
    assert policy.model.training
    training, _ = completion_logprobs(policy.model, batch)
    assert torch.equal(old, training.detach())  # the PPO ratio starts at exactly 1


def test_with_dropout_kept_every_logprob_is_computed_in_train_mode(tmp_path, dropout_path):
    config, policy = _policy(tmp_path, dropout_path, disable_dropout=False, beta=0.1)
    assert any(rate > 0 for rate in _dropout_rates(policy.model))
    config.reference = "copy"
    policy.frozen_reference = frozen_reference(policy, config, warmed_up=False, saved=None)
    assert policy.frozen_reference.training  # the copy is in the policy's mode
    for model in (policy.model, policy.frozen_reference):
        logit_head(model)  # its probe forwards run in eval mode: done before recording
    batch = _batch(policy)  # sampling runs in eval mode (the agent's generation mode)
    modes = []
    hooks = [
        model.get_base_model()
        .get_decoder()
        .register_forward_pre_hook(lambda module, args: modes.append(module.training))
        for model in (policy.model, policy.frozen_reference)
    ]
    fixed = dict(temperature=1.0, chunk_size=64, micro_batch_size=8, autocast=policy.autocast)
    try:
        no_grad_logprobs(policy.model, batch, **fixed)  # old
        with policy.reference() as reference:
            no_grad_logprobs(reference, batch, **fixed)  # reference
        completion_logprobs(policy.model, batch)  # training
    finally:
        for hook in hooks:
            hook.remove()
    assert modes == [True, True, True]


def test_the_reference_keeps_the_policys_dtype_and_kl_starts_at_zero(tmp_path, tiny_path):
    config = quick_config(
        tmp_path, tiny_path, env="grpotest/Digits-v0", env_kwargs={}, beta=0.1, steps=1
    )
    config.max_new_tokens, config.eval_tasks, config.reference = 5, 0, "copy"
    config.no_signal_patience = 5
    policy = build_policy(config, torch.device("cpu"), "fp32")
    reference = frozen_reference(policy, config, warmed_up=False, saved=None)
    assert {p.dtype for p in reference.parameters()} == {p.dtype for p in policy.model.parameters()}
    train(config, log=lambda message: None)
    first = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert first["kl"] == pytest.approx(0.0, abs=1e-9)


def test_adapter_reference_after_a_warm_up_is_refused(tmp_path, tiny_path):
    config = quick_config(tmp_path, tiny_path, lora_r=4, beta=0.1, reference="adapter")
    config.warmup_steps = 5
    with pytest.raises(ConfigError, match="before the supervised warm-up"):
        train(config)
    config.reference = "auto"  # picks a frozen copy of the warmed-up weights
    config.check()


def test_pure_bf16_weights_need_a_flag_and_warn(tmp_path, tiny_path):
    config = quick_config(tmp_path, tiny_path, precision="bf16", steps=1, eval_tasks=0)
    with pytest.raises(ConfigError, match="allow_bf16_weights"):
        train(config)
    config.allow_bf16_weights = True
    config.no_signal_patience = 5
    with pytest.warns(UserWarning, match="stochastic rounding or Kahan"):
        summary = train(config, log=lambda message: None)
    assert summary["precision"] == "bf16"
