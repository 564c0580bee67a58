"""What happens to an episode as it is played: reset, generation, steps, faults.

:class:`Recorder` is shared by the environment-pool and vector-environment drivers. Token mode
keeps one stream per episode: the prompt's tokens, then each turn's sampled tokens (loss mask 1,
with their sampling log-probs) and the tokens of only what the environment added (loss mask 0);
:mod:`~rlvr_envs.rollout.tokens` computes what was added.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..agent.protocol import Observation
from .episode import AGENT_ERROR, Episode
from .generation import AgentCaller, weakest_source
from .pools import RolloutError
from .tokens import continuation_text, encode_observation, encode_text


class Recorder:
    """Per-episode bookkeeping shared by the pool and vector-environment drivers."""

    def __init__(self, caller: AgentCaller, on_error: str) -> None:
        self.caller, self.mode, self.on_error = caller, caller.mode, on_error
        self.tokenizer = caller.tokenizer
        self.max_context = getattr(caller.agent, "max_context", None)
        self.timings = {"verify_s": 0.0, "reset_s": 0.0, "tokenize_s": 0.0}
        self.last: dict[int, Any] = {}

    def started(
        self, episode: Episode, observation: Observation, info: Mapping[str, Any], elapsed: float
    ) -> None:
        """Record a reset: the first observation, the task id, and (tokens) the prompt's ids."""
        self.timings["reset_s"] += elapsed
        episode.observation = observation
        episode.reset_info = dict(info) if isinstance(info, Mapping) else {}
        task_id = episode.reset_info.get("task_id")
        if task_id is not None:
            episode.task_id = str(task_id)
        if self.mode == "tokens":
            start = time.perf_counter()
            ids = encode_observation(self.tokenizer, observation)
            self.timings["tokenize_s"] += time.perf_counter() - start
            episode.token_ids, episode.loss_mask = list(ids), [0] * len(ids)
            episode.logprobs = [0.0] * len(ids)
            episode.prompt_length = len(ids)

    def fits(self, episode: Episode) -> bool:
        """False (and the episode ends, truncated) when its context has no room for a new token."""
        if (
            self.mode != "tokens"
            or self.max_context is None
            or len(episode.token_ids) < self.max_context
        ):
            return True
        episode.truncated = True
        return False

    def generate(self, batch: list[tuple[Episode, Observation]]) -> list[str | None]:
        """Sample one answer per episode; the action texts (None where the agent failed)."""
        actions: list[str | None] = []
        for (episode, _), result in zip(batch, self.caller.generate(batch)):
            if isinstance(result, Exception):
                reason = f"agent raised {type(result).__name__}: {result}"
                episode.add_fault(reason, status=AGENT_ERROR)
                actions.append(None)
            elif self.mode == "tokens":
                episode.token_ids.extend(result.token_ids)
                episode.loss_mask.extend([1] * len(result.token_ids))
                episode.logprobs.extend(result.logprobs)
                episode.num_generated_tokens += len(result.token_ids)
                episode.tokens_source = "agent"
                episode.truncated |= result.truncated
                episode.completions.append(result.text)
                self.last[episode.index] = result
                actions.append(result.text)
            else:
                tokens, source = self.caller.count_tokens(result)
                episode.num_generated_tokens += tokens
                episode.tokens_source = weakest_source(episode.tokens_source, source)
                episode.completions.append(str(result))
                actions.append(str(result))
        return actions

    def stepped(
        self, episode: Episode, previous: Observation, result: Any, elapsed: float
    ) -> tuple[bool, Observation]:
        """Record a step; returns (episode over, next observation)."""
        self.timings["verify_s"] += elapsed
        episode.verify_s += elapsed
        observation, reward, terminated, truncated, info = result
        episode.turn_rewards.append(float(reward))
        verdict = info.get("verdict") if isinstance(info, Mapping) else None
        episode.verdicts.append(dict(verdict) if isinstance(verdict, Mapping) else {})
        components = info.get("reward_components") if isinstance(info, Mapping) else None
        episode.reward_components.append(
            dict(components) if isinstance(components, Mapping) else {}
        )
        tool_use = info.get("tool_use") if isinstance(info, Mapping) else None
        if isinstance(tool_use, Mapping):
            episode.tool_use = dict(tool_use)
        if terminated or truncated:
            episode.terminated, episode.env_truncated = bool(terminated), bool(truncated)
            return True, observation
        if self.mode == "tokens":
            start = time.perf_counter()
            generation = self.last[episode.index]
            text = continuation_text(
                self.tokenizer, previous, episode.completions[-1], generation.token_ids, observation
            )
            ids = encode_text(self.tokenizer, text)
            episode.token_ids.extend(ids)
            episode.loss_mask.extend([0] * len(ids))
            episode.logprobs.extend([0.0] * len(ids))
            self.timings["tokenize_s"] += time.perf_counter() - start
        return False, observation

    def failed(self, episode: Episode, error: BaseException) -> None:
        """An environment failed on this episode: raise, or record the fault."""
        message = f"{type(error).__name__}: {error}"
        if self.on_error == "raise":
            raise RolloutError(
                f"episode {episode.index} (task {episode.task_id}) failed: {message}"
            ) from error
        episode.add_fault(f"environment raised {message}")
