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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo, when run as a script
from tests.agents.reference import (  # noqa: E402
    assert_greedy_matches_generate,
    reference_logprobs,
)

if pytest is not None:
    pytestmark = [
        pytest.mark.gpu,
        pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    ]

PROMPTS = ["What is 2 + 3?", "x", "Please reason step by step. " * 20, "def add(a, b):"]


def _build(tmp: Path) -> Path:
    from agents.tiny import build_tiny_model

    return build_tiny_model(tmp / "gpu-tiny", hidden_size=128, num_layers=4, num_heads=4)


def check_defaults_to_bf16_on_cuda(path: Path) -> None:
    from agents.hf import HFAgent

    agent = HFAgent(path)
    assert agent.device.type == "cuda" and next(agent.model.parameters()).dtype == torch.bfloat16
    generations = agent.generate(PROMPTS, temperature=1.0, max_new_tokens=32, n=2, seed=0)
    assert len(generations) == 8 and all(g.num_tokens > 0 for g in generations)
    for generation in generations:
        diff = (
            torch.tensor(generation.logprobs) - reference_logprobs(agent, generation, 1.0)
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
        expected = reference_logprobs(agent, generation, 0.7)
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

    assert_greedy_matches_generate(HFAgent(path, dtype="float32"), PROMPTS[:1], max_new_tokens=24)


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
