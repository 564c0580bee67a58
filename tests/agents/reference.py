"""Reference results for HFAgent, from plain transformers calls, on whichever device it runs.

Shared by the CPU tests and the GPU checks; free of pytest so the GPU checks also run as a script.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def reference_logprobs(agent: Any, generation: Any, temperature: float) -> torch.Tensor:
    """Log-probs of the sampled tokens from one plain forward pass over prompt + completion."""
    ids = torch.tensor([generation.prompt_ids + generation.token_ids], device=agent.device)
    with torch.no_grad():
        logits = agent.model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits / temperature, dim=-1)
    start = len(generation.prompt_ids) - 1
    targets = torch.tensor(generation.token_ids, device=agent.device)
    return logp[start : start + len(targets)].gather(-1, targets[:, None]).squeeze(-1).cpu()


def assert_greedy_matches_generate(agent: Any, prompts: Sequence[str], max_new_tokens: int) -> None:
    """The agent's greedy completions equal ``model.generate(do_sample=False)`` token for token."""
    for generation in agent.generate(prompts, temperature=0, max_new_tokens=max_new_tokens):
        ids = torch.tensor([generation.prompt_ids], device=agent.device)
        out = agent.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=sorted(agent.eos_token_ids),
            pad_token_id=agent.pad_token_id,
        )
        assert out[0, ids.shape[1] :].tolist() == generation.token_ids
