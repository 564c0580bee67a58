"""Agent functions loaded by spec strings in the tests (``python:tests.agents.sample_agents:...``)."""

from __future__ import annotations

import re


def answer_sum(observation: str) -> str:
    """Answers ``What is A + B?`` prompts correctly (the text observation or the last message)."""
    text = observation if isinstance(observation, str) else observation[-1]["content"]
    numbers = [int(x) for x in re.findall(r"-?\d+", text)[:2]]
    return str(sum(numbers))


class Shouter:
    """An object that already implements the agent protocol."""

    def act(self, observations, **sampling):
        return [str(o).upper() for o in observations for _ in range(sampling.get("n", 1))]


shouter = Shouter()
