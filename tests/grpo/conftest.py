"""Fixtures for the GRPO trainer tests: a tiny policy built once, and small run configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from .envs import register_test_envs  # noqa: E402

register_test_envs()

TINY = dict(
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    num_kv_heads=1,
    intermediate_size=64,
    initializer_range=0.02,
)


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2-architecture policy with a BPE tokenizer, saved once per session."""
    from agents.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("grpo-tiny"), **TINY)


def quick_config(output_dir: Path, model: Path | None = None, **overrides: Any) -> Any:
    """A few-second run: tiny model, few steps, small batches, quiet."""
    from agents.grpo import GRPOConfig

    values: dict[str, Any] = dict(
        model=str(model) if model is not None else None,
        env="rlvr/Arithmetic-v1",
        env_kwargs={"level": 1, "template": "{prompt}"},
        output_dir=str(output_dir),
        device="cpu",
        num_threads=1,
        steps=3,
        batch_size=16,
        group_size=4,
        max_new_tokens=4,
        micro_batch_size=16,
        lr=1e-3,
        gradient_checkpointing=False,
        eval_tasks=8,
        progress=False,
        plot=False,
        tiny_model=TINY,
    )
    values.update(overrides)
    return GRPOConfig(**values)
