"""HFAgent on a CUDA GPU: bf16 by default, exact log-probs in fp32, train-mode safety.

Runs under pytest (``-m gpu``), or directly (``python tests/agents/test_gpu.py``) on a machine
where pytest is not installed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

try:
    import pytest
except ImportError:  # run as a script
    pytest = None

import torch

if pytest is not None:
    pytestmark = [
        pytest.mark.gpu,
        pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    ]

PROMPTS = ["What is 2 + 3?", "x", "Please reason step by step. " * 20, "def add(a, b):"]


def _build(tmp: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from agents.tiny import build_tiny_model

    return build_tiny_model(tmp / "gpu-tiny", hidden_size=128, num_layers=4, num_heads=4)


def _forward_logprobs(model, generation, temperature: float) -> torch.Tensor:
    ids = torch.tensor([generation.prompt_ids + generation.token_ids], device=model.device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits / temperature, dim=-1)
    start = len(generation.prompt_ids) - 1
    targets = torch.tensor(generation.token_ids, device=model.device)
    return logp[start : start + len(targets)].gather(-1, targets[:, None]).squeeze(-1).cpu()


def check_defaults_to_bf16_on_cuda(path: Path) -> None:
    from agents.hf import HFAgent

    agent = HFAgent(path)
    assert agent.device.type == "cuda" and next(agent.model.parameters()).dtype == torch.bfloat16
    generations = agent.generate(PROMPTS, temperature=1.0, max_new_tokens=32, n=2, seed=0)
    assert len(generations) == 8 and all(g.num_tokens > 0 for g in generations)
    for generation in generations:
        diff = (
            torch.tensor(generation.logprobs) - _forward_logprobs(agent.model, generation, 1.0)
        ).abs()
        assert diff.mean() < 0.05, (
            f"bf16 log-probs drift from a forward pass: mean {diff.mean():.4f}"
        )


def check_fp32_logprobs_on_cuda(path: Path) -> None:
    from agents.hf import HFAgent

    agent = HFAgent(path, dtype="float32")
    for generation in agent.generate(
        PROMPTS, temperature=0.7, top_p=0.9, max_new_tokens=32, seed=1
    ):
        expected = _forward_logprobs(agent.model, generation, 0.7)
        assert torch.allclose(torch.tensor(generation.logprobs), expected, atol=1e-3)


def check_train_mode_with_gradient_checkpointing(path: Path) -> None:
    from agents.hf import HFAgent

    agent = HFAgent(path)
    expected = agent.generate(PROMPTS, temperature=0, max_new_tokens=16)
    model = agent.model
    enable = (
        getattr(model, "activation_checkpointing_enable", None)
        or model.gradient_checkpointing_enable
    )
    enable()
    model.config.use_cache = False
    model.train()
    got = agent.generate(PROMPTS, temperature=0, max_new_tokens=16)
    assert [g.token_ids for g in got] == [g.token_ids for g in expected]
    assert model.training


def check_greedy_matches_generate(path: Path) -> None:
    from agents.hf import HFAgent

    agent = HFAgent(path, dtype="float32")
    (generation,) = agent.generate(PROMPTS[:1], temperature=0, max_new_tokens=24)
    ids = torch.tensor([generation.prompt_ids], device=agent.device)
    out = agent.model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=24,
        do_sample=False,
        eos_token_id=sorted(agent.eos_token_ids),
        pad_token_id=agent.pad_token_id,
    )
    assert out[0, ids.shape[1] :].tolist() == generation.token_ids


CHECKS = [
    check_defaults_to_bf16_on_cuda,
    check_fp32_logprobs_on_cuda,
    check_train_mode_with_gradient_checkpointing,
    check_greedy_matches_generate,
]


if pytest is not None:

    @pytest.fixture(scope="module")
    def gpu_model_path(tmp_path_factory) -> Path:
        return _build(tmp_path_factory.mktemp("gpu"))

    @pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
    def test_gpu(check, gpu_model_path: Path) -> None:
        check(gpu_model_path)


if __name__ == "__main__":
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = _build(Path(tmp))
        for check in CHECKS:
            try:
                check(path)
                print(f"PASS {check.__name__}")
            except Exception as exc:  # report every check, then fail
                failures += 1
                print(f"FAIL {check.__name__}: {type(exc).__name__}: {exc}")
    sys.exit(1 if failures else 0)
