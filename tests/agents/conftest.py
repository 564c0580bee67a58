"""Tiny random-weight models (built once per session, offline) and helpers for the agent tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.tiny import build_tiny_model  # noqa: E402


@pytest.fixture(scope="session")
def qwen2_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ChatML (Qwen2-architecture) tiny model: eos <|im_end|>, pad <|endoftext|>, two EOS ids."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"), arch="qwen2")


@pytest.fixture(scope="session")
def llama_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Llama-3-style tiny model: BOS prepended, no pad token, EOS ids <|end_of_text|> and <|eot_id|>."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), arch="llama")


@pytest.fixture(scope="session")
def pad_eos_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Qwen2 tiny model whose tokenizer uses its eos token as pad token."""
    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-pad-eos"), arch="qwen2", pad_equals_eos=True
    )


@pytest.fixture(scope="session")
def qwen2_agent(qwen2_path: Path) -> Any:
    """A shared CPU fp32 agent; tests that change the model build their own."""
    from agents.hf import HFAgent

    return HFAgent(qwen2_path, device="cpu")


@contextmanager
def forced_tokens(agent: Any, schedule: dict[int, int | dict[int, int]]) -> Iterator[None]:
    """Make the model emit chosen tokens at chosen decode steps of every generation call.

    ``schedule[step]`` is a token id for every row, or ``{row: token}`` (rows of the first batch,
    before any row leaves it). Step 0 is the token sampled from the prompt's logits. Implemented as
    a forward hook on the output layer, so everything else (cache, masks, log-probs) is the model's.
    """

    head = agent.model.get_output_embeddings()
    state = {"step": -1}

    def hook(module: Any, inputs: Any, output: Any) -> Any:
        state["step"] += 1
        plan = schedule.get(state["step"])
        if plan is None:
            return output
        output = output.clone()
        rows = {r: plan for r in range(output.shape[0])} if isinstance(plan, int) else plan
        for row, token in rows.items():
            if row < output.shape[0]:
                output[row, -1, token] += 1e4
        return output

    original = agent.generate_tokens

    def generate_tokens(*args: Any, **kwargs: Any) -> Any:
        state["step"] = -1
        return original(*args, **kwargs)

    handle = head.register_forward_hook(hook)
    agent.generate_tokens = generate_tokens
    try:
        yield
    finally:
        handle.remove()
        del agent.generate_tokens
