"""Require a reasoning format on any environment and score the task on the answer part only.

:class:`ReasoningFormat` checks each completion with
:func:`~rlvr_envs.verifiers.format.check_reasoning_format` and passes only the answer part to the
wrapped environment, so the task verifier never sees (and cannot be fooled by) the reasoning. A
malformed completion has no answer part: the wrapped environment receives an empty answer, which
its verifier scores as no answer. The reward combines the format score ``f`` and the task reward
``t`` by a named rule:

- ``gate`` (default): ``t`` when the format is right, else 0;
- ``multiply``: ``f * t`` (with ``partial_credit`` the format score can be fractional);
- ``add``: ``t + format_weight * f`` (DeepSeek-R1's accuracy reward plus format reward).

``info["reward_components"]`` keeps the task's components and adds ``format``; the format verdict
is in ``info["format_verdict"]``. In multi-turn environments the transcript holds the answer parts
only, as reasoning models' chat templates drop earlier reasoning from the history.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym

from ..verifiers.format import check_reasoning_format

COMBINE_RULES = ("gate", "multiply", "add")


class ReasoningFormat(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Scores the format and the task separately, then combines them by ``combine``."""

    def __init__(
        self,
        env: gym.Env,
        *,
        combine: str = "gate",
        format_weight: float = 0.5,
        think_tag: str = "think",
        answer_tag: str | None = None,
        prefilled_think: bool = False,
        partial_credit: bool = False,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            combine=combine,
            format_weight=format_weight,
            think_tag=think_tag,
            answer_tag=answer_tag,
            prefilled_think=prefilled_think,
            partial_credit=partial_credit,
        )
        gym.Wrapper.__init__(self, env)
        if combine not in COMBINE_RULES:
            raise ValueError(f"combine must be one of {COMBINE_RULES}, got {combine!r}")
        if combine == "gate" and partial_credit:
            raise ValueError("partial_credit has no effect with combine='gate'; use 'multiply'")
        self.combine = combine
        self.format_weight = float(format_weight)
        self.format_options = {
            "think_tag": think_tag,
            "answer_tag": answer_tag,
            "prefilled_think": prefilled_think,
            "partial_credit": partial_credit,
        }
        check_reasoning_format("", **self.format_options)  # reject bad tag names now

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Check the format, step the task on the answer part, and combine the two rewards."""
        if not isinstance(action, str) or not self.action_space.contains(action):
            # Let the wrapped environment reject it with its own status and message.
            return self.env.step(action)
        verdict = check_reasoning_format(action, **self.format_options)
        answer = verdict.extracted if verdict.correct else ""
        observation, task_reward, terminated, truncated, info = self.env.step(answer)
        task_reward = float(task_reward)
        format_score = verdict.reward
        if self.combine == "gate":
            reward = task_reward if verdict.correct else 0.0
        elif self.combine == "multiply":
            reward = format_score * task_reward
        else:
            reward = task_reward + self.format_weight * format_score
        components = dict(info.get("reward_components") or {"task": task_reward})
        components["format"] = format_score
        info = {
            **info,
            "reward_components": components,
            "format_verdict": verdict.to_dict(),
            "reward_rule": self.combine,
        }
        return observation, reward, terminated, truncated, info
