"""The trainer's log-probs are the model's own, on architectures that change the logits after the
output layer (tiny Granite and Cohere built from configs), and the sampler agrees with them."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch

from agents.grpo import ConfigError, completion_logprobs
from agents.grpo.logprobs import (
    BF16_SAMPLER_BOUND,
    FP32_SAMPLER_BOUND,
    logit_head,
    sampler_mismatch_warning,
    split_model,
)
from agents.hf import HFAgent

from .conftest import TINY

PROMPTS = ["What is 2 + 3?", "Please reason step by step.", "def add(a, b):"]
ARCHS = {
    "qwen2": {},
    "granite": {"logits_scaling": 8.0},  # logits / 8 after the output layer
    "cohere": {"logit_scale": 0.25},  # logits * 0.25 after the output layer
}


def _lively(model):
    with torch.no_grad():  # a livelier distribution than the tiny init's, so gaps show
        for p in model.parameters():
            p.mul_(8.0)
    return model


@pytest.fixture(scope="module", params=sorted(ARCHS))
def arch_agent(request, tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.tiny import build_tiny_model

    path = build_tiny_model(
        tmp_path_factory.mktemp(request.param), arch=request.param, **TINY, **ARCHS[request.param]
    )
    model = _lively(AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32))
    return request.param, HFAgent(model, AutoTokenizer.from_pretrained(path))


def sampled_batch(agent, prompts=PROMPTS, autocast=contextlib.nullcontext, new_tokens=8):
    """Sampled completions as a right-padded training batch, with the sampler's log-probs."""
    with autocast():
        generations = agent.generate(prompts, max_new_tokens=new_tokens, seeds=[1, 2, 3])
    rows = [g.prompt_ids + g.token_ids for g in generations]
    width = max(map(len, rows))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    loss_mask = torch.zeros(len(rows), width)
    sampler = torch.zeros(len(rows), width)
    for i, (g, row) in enumerate(zip(generations, rows)):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
        loss_mask[i, len(g.prompt_ids) : len(row)] = 1
        sampler[i, len(g.prompt_ids) : len(row)] = torch.tensor(g.logprobs)
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "position_ids": (mask.cumsum(-1) - 1).clamp(min=0),
        "loss_mask": loss_mask,
    }
    return batch, sampler


def forward_logprobs(model, batch):
    """Log-probs of the batch's completion tokens from the model's plain forward."""
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
    ).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    picked = logp.gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    return torch.nn.functional.pad(picked, (1, 0)) * batch["loss_mask"]


def mean_abs(a, b, mask):
    return float(((a - b).abs() * mask).sum() / mask.sum())


def test_trainer_logprobs_are_the_models_own(arch_agent):
    arch, agent = arch_agent
    model = agent.model
    batch, sampler = sampled_batch(agent)
    with torch.no_grad():
        ours, _ = completion_logprobs(model, batch)
        expected = forward_logprobs(model, batch)
        body, head = split_model(model)
        hidden = body(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        head_only = torch.log_softmax(head(hidden.last_hidden_state[:, :-1]).float(), dim=-1)
        head_only = torch.nn.functional.pad(
            head_only.gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1), (1, 0)
        )
    mask = batch["loss_mask"]
    assert mean_abs(ours, expected, mask) < 1e-6
    assert mean_abs(ours, sampler, mask) < 1e-5  # fp32: sampler == trainer
    gap = mean_abs(head_only, expected, mask)  # what the output layer alone would give
    if arch == "qwen2":
        assert gap < 1e-6 and logit_head(model).steps == []
    else:
        assert gap > 0.5, gap  # nats per token: the check above would catch the old bug
        assert logit_head(model).mode == "head" and logit_head(model).steps


class MysteryScaled(torch.nn.Module):
    """A causal LM whose forward multiplies the logits by a factor the trainer does not know."""

    def __init__(self, inner, factor: float, accepts_logits_to_keep: bool) -> None:
        super().__init__()
        self.inner, self.factor, self.accepts = inner, factor, accepts_logits_to_keep
        self.config = copy.copy(inner.config)
        self.config.mystery_logit_multiplier = factor

    def get_decoder(self):
        return self.inner.get_decoder()

    def get_output_embeddings(self):
        return self.inner.get_output_embeddings()

    def get_input_embeddings(self):
        return self.inner.get_input_embeddings()

    def forward(self, **kwargs):
        if "logits_to_keep" in kwargs and not self.accepts:
            raise TypeError("forward() got an unexpected keyword argument 'logits_to_keep'")
        out = self.inner(**kwargs)
        out.logits = out.logits * self.factor
        return out


@pytest.fixture(scope="module")
def qwen2_model(tiny_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = _lively(AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32))
    return model, AutoTokenizer.from_pretrained(tiny_path)


def test_an_unknown_logit_step_goes_through_the_models_forward(qwen2_model):
    inner, tokenizer = qwen2_model
    model = MysteryScaled(inner, 3.0, accepts_logits_to_keep=True)
    batch, _ = sampled_batch(HFAgent(inner, tokenizer))
    head = logit_head(model)
    assert head.mode == "forward" and head.probe_error < 1e-4
    with torch.no_grad():
        ours, _ = completion_logprobs(model, batch)
        expected = forward_logprobs(model, batch)
    assert mean_abs(ours, expected, batch["loss_mask"]) < 1e-6
    # Gradients flow through the forward path too.
    logprobs, _ = completion_logprobs(model, batch)
    logprobs.sum().backward()
    assert inner.get_output_embeddings().weight.grad is not None
    inner.zero_grad(set_to_none=True)


def test_an_architecture_that_cannot_be_reproduced_is_refused(qwen2_model):
    inner, _ = qwen2_model
    model = MysteryScaled(inner, 3.0, accepts_logits_to_keep=False)
    with pytest.raises(ConfigError, match=r"mystery_logit_multiplier=3\.0"):
        logit_head(model)


def test_bf16_sampler_mismatch_stays_under_the_documented_bound(arch_agent):
    """bf16 compute: the sampler (one token at a time, KV cache) and the trainer (whole sequence)
    round differently, far less than BF16_SAMPLER_BOUND; missing the post-head step of Granite or
    Cohere is far more."""
    from agents.grpo.logprobs import LogitHead, _completion_logprobs

    arch, agent = arch_agent

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16)

    batch, sampler = sampled_batch(agent, autocast=autocast, new_tokens=16)
    with torch.no_grad(), autocast():
        ours, _ = completion_logprobs(agent.model, batch)
        output_layer_only = _completion_logprobs(
            agent.model, batch, LogitHead("head"), 1.0, 1024, False, False
        )[0]
    assert mean_abs(ours, sampler, batch["loss_mask"]) < BF16_SAMPLER_BOUND / 10
    if arch != "qwen2":
        assert mean_abs(output_layer_only, sampler, batch["loss_mask"]) > BF16_SAMPLER_BOUND


def test_mismatch_warning_thresholds():
    assert sampler_mismatch_warning(FP32_SAMPLER_BOUND / 2, "fp32") is None
    assert "over 0.001 (fp32)" in sampler_mismatch_warning(2 * FP32_SAMPLER_BOUND, "fp32")
    assert sampler_mismatch_warning(2 * FP32_SAMPLER_BOUND, "bf16-mixed") is None
    assert "bf16-mixed" in sampler_mismatch_warning(2 * BF16_SAMPLER_BOUND, "bf16-mixed")
    assert sampler_mismatch_warning(None, "fp32") is None


@pytest.fixture(scope="module")
def granite_path(tmp_path_factory):
    from agents.tiny import build_tiny_model

    settings = {**TINY, "initializer_range": 0.5}  # lively logits, so a wrong scale shows
    return build_tiny_model(
        tmp_path_factory.mktemp("granite"), arch="granite", logits_scaling=8.0, **settings
    )


def _granite_run(tmp_path, granite_path):
    import json

    from agents.grpo import train

    from .conftest import quick_config

    config = quick_config(
        tmp_path, granite_path, env="grpotest/Digits-v0", env_kwargs={}, eval_tasks=0, steps=1
    )
    config.max_new_tokens = 5
    config.no_signal_patience = 5
    train(config, log=lambda message: None)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[0])["sampler_logprob_diff"]


def test_training_a_granite_policy_agrees_with_its_sampler(tmp_path, granite_path):
    assert _granite_run(tmp_path, granite_path) < 1e-5


def test_a_wrong_head_is_caught_at_step_one(tmp_path, granite_path, monkeypatch):
    import agents.grpo.logprobs as logprobs

    # The trainer as it was: the output layer alone, Granite's logits_scaling ignored.
    monkeypatch.setattr(logprobs, "logit_head", lambda model: logprobs.LogitHead("head"))
    with pytest.warns(UserWarning, match=r"sampler_logprob_diff is .* at step 1, over 0.001"):
        diff = _granite_run(tmp_path, granite_path)
    assert diff > 0.1
