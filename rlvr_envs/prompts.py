"""Prompt rendering: task to observation (a string, or chat messages), and transcript growth."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .tasks import Task

Observation = str | list[dict[str, str]]

# Only ``{name}`` with a word-character name is a placeholder, and only when the task has such a
# field, so LaTeX in templates (``\boxed{}``, ``\frac{a}{b}``) needs no escaping.
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

MATH_TEMPLATE = (
    "{prompt}\n\nPlease reason step by step, and put your final answer within \\boxed{}."
)


def fill_template(template: str, fields: Mapping[str, Any]) -> str:
    """Replace ``{name}`` placeholders whose name is a key of ``fields``; leave other braces."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(fields[name]) if name in fields else match.group(0)

    return _PLACEHOLDER.sub(substitute, template)


@dataclass(frozen=True)
class PromptRenderer:
    """Renders a task as the first observation and appends turns to a transcript.

    In text mode the transcript is one string that always begins with the previous observation
    followed by the action verbatim, so an agent can tokenise only what is new. In chat mode it is
    a list of messages to which each turn appends an assistant and a user message.
    """

    template: str = "{prompt}"
    system_prompt: str | None = None
    chat: bool = False
    turn_separator: str = "\n\n"

    def render(self, task: Task) -> Observation:
        """The first observation of an episode on ``task``."""
        fields = {**task.metadata, "prompt": task.prompt, "id": task.id}
        text = fill_template(self.template, fields)
        if self.chat:
            messages = []
            if self.system_prompt:
                messages.append({"role": "system", "content": self.system_prompt})
            messages.append({"role": "user", "content": text})
            return messages
        if self.system_prompt:
            return f"{self.system_prompt}{self.turn_separator}{text}"
        return text

    def extend(self, observation: Observation, action: str, feedback: str | None) -> Observation:
        """The transcript after the agent said ``action`` and the environment replied ``feedback``."""
        if self.chat:
            messages = copy.deepcopy(observation)
            messages.append({"role": "assistant", "content": action})
            if feedback is not None:
                messages.append({"role": "user", "content": feedback})
            return messages
        if feedback is None:
            return observation + action
        return f"{observation}{action}{self.turn_separator}{feedback}{self.turn_separator}"
