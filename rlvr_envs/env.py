"""The text environment: a task source, a prompt renderer and a verifier behind ``reset``/``step``.

Observations are prompts (a string, or chat messages); actions are completions (a string). Most
environments are configurations of :class:`TextEnv` rather than subclasses: pass a task source, a
verifier and prompt settings. Multi-turn behaviour is one more small piece, a ``feedback`` function
that turns a failed attempt into the next user message.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from .batching import batchable, current_window
from .prompts import Observation, PromptRenderer
from .spaces import ChatMessages, UnicodeText
from .tasks import Task, TaskSource
from .verdict import Status, Verdict
from .verifiers import Verifier, as_verdict, get_verifier

logger = logging.getLogger(__name__)

Feedback = Callable[[Task, str, Verdict, int], str | None]
Perturb = Callable[[Task, np.random.Generator], list[str]]

DEFAULT_MAX_PROMPT_LENGTH = 1 << 16  # characters in a rendered prompt
DEFAULT_MAX_ACTION_LENGTH = 1 << 17  # characters in one completion (long reasoning fits)
DEFAULT_MAX_FEEDBACK_LENGTH = 1 << 13  # characters of feedback kept per turn
RESET_OPTIONS = frozenset({"task_id", "task"})


def default_feedback(task: Task, completion: str, verdict: Verdict, turn: int) -> str:
    """A generic retry message that names the verdict and its reason."""
    reason = f" ({verdict.reason})" if verdict.reason else ""
    return f"Your answer was judged {verdict.status.value}{reason}. Please try again."


class TextEnv(gym.Env[Observation, str]):
    """A Gymnasium environment whose observations are prompts and whose actions are completions."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        source: TaskSource,
        verifier: Verifier | str,
        *,
        template: str = "{prompt}",
        system_prompt: str | None = None,
        chat: bool = False,
        max_turns: int = 1,
        feedback: Feedback | None = None,
        stop_on_correct: bool = True,
        max_prompt_length: int = DEFAULT_MAX_PROMPT_LENGTH,
        max_action_length: int = DEFAULT_MAX_ACTION_LENGTH,
        max_feedback_length: int = DEFAULT_MAX_FEEDBACK_LENGTH,
        reward_name: str | None = None,
        render_mode: str | None = None,
        verifier_options: Mapping[str, Any] | None = None,
        perturb: Perturb | None = None,
    ) -> None:
        if not isinstance(source, TaskSource):
            raise TypeError(
                f"source must provide num_tasks, sample(rng) and get(task_id); "
                f"got {type(source).__name__}"
            )
        if not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError(f"max_turns must be an integer >= 1, got {max_turns!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.source = source
        self.verifier = get_verifier(verifier, **dict(verifier_options or {}))
        self.reward_name = reward_name or (verifier if isinstance(verifier, str) else "task")
        self.renderer = PromptRenderer(template=template, system_prompt=system_prompt, chat=chat)
        self.max_turns = max_turns
        self.feedback = feedback or (default_feedback if max_turns > 1 else None)
        self.stop_on_correct = stop_on_correct
        self.max_prompt_length = max_prompt_length
        self.max_action_length = max_action_length
        self.max_feedback_length = max_feedback_length
        self.render_mode = render_mode
        # Known-wrong completions for a task; ``rlvr-envs check`` uses them to test the verifier.
        self.perturb = perturb

        # A transcript holds the prompt, every completion and every feedback message.
        self._system_chars = len(system_prompt or "") + len(self.renderer.turn_separator)
        separators = 2 * len(self.renderer.turn_separator)
        longest = (
            self._system_chars
            + max_prompt_length
            + max_turns * (max_action_length + max_feedback_length + separators)
        )
        if chat:
            self.observation_space = ChatMessages(
                max_messages=2 + 2 * max_turns, max_length=longest
            )
        else:
            self.observation_space = UnicodeText(max_length=longest)
        self.action_space = UnicodeText(max_length=max_action_length)

        self._task: Task | None = None
        self._observation: Observation | None = None
        self._turn = 0
        self._done = True
        self._last_verdict: Verdict | None = None

    # --- episode ------------------------------------------------------------------------------

    @property
    def task(self) -> Task | None:
        """The current episode's task (None before the first reset)."""
        return self._task

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        """Start an episode on a task drawn with the seeded generator, or named in ``options``."""
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - RESET_OPTIONS
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {sorted(unknown)}; known: {sorted(RESET_OPTIONS)}"
            )
        if "task" in options and "task_id" in options:
            raise ValueError("give either options['task'] or options['task_id'], not both")
        if "task" in options:
            given = options["task"]
            task = (
                given if isinstance(given, Task) else Task.from_dict(given, default_id="injected")
            )
        elif "task_id" in options:
            task = self.source.get(str(options["task_id"]))
        else:
            task = self.source.sample(self.np_random)

        observation = self.renderer.render(task)
        prompt_chars = (
            sum(len(m["content"]) for m in observation)
            if isinstance(observation, list)
            else len(observation)
        )
        if prompt_chars > self.max_prompt_length + self._system_chars:
            raise ValueError(
                f"task {task.id!r}: rendered prompt has {prompt_chars} characters, over "
                f"max_prompt_length={self.max_prompt_length}; raise max_prompt_length"
            )
        self._task = task
        self._observation = observation
        self._turn = 0
        self._done = False
        self._last_verdict = None
        info = {"task_id": task.id, "turn": 0, "metadata": copy.deepcopy(dict(task.metadata))}
        return copy.deepcopy(observation), info

    def step(self, action: str) -> tuple[Observation, SupportsFloat, bool, bool, dict[str, Any]]:
        """Verify a completion; return the next observation, reward, end flags and the verdict."""
        if self._task is None or self._observation is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._done:
            raise gym.error.ResetNeeded("the episode has ended; call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(
                f"an action is the completion text (str), got {type(action).__name__}; "
                "decode token ids with the tokenizer first"
            )
        self._turn += 1
        verdict = self._check_action(action) or self.verify(action, self._task)
        self._last_verdict = verdict

        valid = verdict.status is not Status.INVALID_INPUT
        success = verdict.correct and self.stop_on_correct
        last_turn = self._turn >= self.max_turns
        feedback = None
        if valid and not success and not last_turn and self.feedback is not None:
            feedback = self.feedback(self._task, action, verdict, self._turn)
            if feedback is not None:
                feedback = feedback[: self.max_feedback_length]
        terminated = not valid or success or (feedback is None and not last_turn)
        truncated = not terminated and last_turn
        if self.max_turns == 1:
            # Single-turn tasks end naturally after one answer: that is termination, not a cutoff.
            terminated, truncated = True, False
        if valid:
            self._observation = self.renderer.extend(self._observation, action, feedback)
        self._done = terminated or truncated

        info = {
            "verdict": verdict.to_dict(),
            "reward_components": dict(verdict.components) or {self.reward_name: verdict.reward},
            "task_id": self._task.id,
            "turn": self._turn,
        }
        return copy.deepcopy(self._observation), verdict.reward, terminated, truncated, info

    def verify(self, completion: str, task: Task) -> Verdict:
        """Run the verifier, timing it and turning a verifier crash into an ``error`` verdict."""
        start = time.perf_counter()
        window = current_window()
        try:
            if window is not None and batchable(self.verifier):
                # A vector step: verified together with the other steps of the window.
                verdict = as_verdict(window.verify(self.verifier, completion, task))
            else:
                verdict = as_verdict(self.verifier(completion, task))
        except Exception as error:  # a verifier bug must not look like a wrong answer or crash RL
            logger.warning("verifier failed on task %s: %r", task.id, error)
            verdict = Verdict.make(
                Status.ERROR, f"verifier raised {type(error).__name__}: {error}", reward=0.0
            )
        if not verdict.elapsed_s:
            verdict = verdict.replace(elapsed_s=time.perf_counter() - start)
        return verdict

    def _check_action(self, action: str) -> Verdict | None:
        """An ``invalid_input`` verdict for completions no verifier should see, else None."""
        if len(action) > self.max_action_length:
            return Verdict.make(
                Status.INVALID_INPUT,
                f"completion has {len(action)} characters, over max_action_length="
                f"{self.max_action_length}",
            )
        try:
            action.encode("utf-8")
        except UnicodeEncodeError as error:
            return Verdict.make(
                Status.INVALID_INPUT,
                f"completion is not valid Unicode text (lone surrogate at index {error.start})",
            )
        return None

    # --- presentation -------------------------------------------------------------------------

    def render(self) -> str | None:
        """The transcript so far and the last verdict, as text."""
        if self.render_mode != "ansi":
            return None
        if self._observation is None or self._task is None:
            return "(no episode: call reset())"
        if isinstance(self._observation, list):
            body = "\n".join(f"[{m['role']}] {m['content']}" for m in self._observation)
        else:
            body = self._observation
        lines = [f"=== task {self._task.id} · turn {self._turn}/{self.max_turns} ===", body]
        if self._last_verdict is not None:
            v = self._last_verdict
            lines.append(f"--- verdict: {v.status.value}, reward {v.reward:g}. {v.reason}".rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        spec = getattr(self, "spec", None)
        name = spec.id if spec is not None else type(self).__name__
        return f"<TextEnv {name} tasks={self.source.num_tasks or 'procedural'}>"
