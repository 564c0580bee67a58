"""Tool use for any text environment: a completion that calls tools gets their results back.

:class:`ToolUse` wraps an environment (math, code, format...) without changing it::

    env = ToolUse(gymnasium.make("rlvr/Arithmetic-v1", level=4), tools=["calculator"])

- The first observation describes the tools: in text mode their schemas and how to call them
  open the prompt; in chat mode the first message carries them under ``"tools"``, which agents
  give to the chat template (``apply_chat_template(..., tools=...)``) or the API (``tools``).
- A completion with tool calls (Hermes format: ``<tool_call>{"name": ..., "arguments": {...}}
  </tool_call>``) runs them and the episode goes on; the next observation is the transcript with
  the results appended: ``<tool_response>...</tool_response>`` in text mode, an assistant
  message with ``tool_calls`` then one ``{"role": "tool"}`` message per call in chat mode.
  Transcripts only grow, so token-exact rollouts append just the new text.
- A completion without a tool call is the final answer: the wrapped environment verifies it.
- Bad calls (malformed JSON, unknown tool, wrong arguments, oversized arguments, invalid UTF-8,
  a failing tool) are answered with an error message and counted by kind in
  ``info["tool_use"]``; calls past ``max_tool_calls`` are refused and end the episode as
  truncated. A fault of the machinery behind a tool (the sandbox) ends it with a
  ``sandbox_error`` verdict, which training drops and evaluation reports.
- Rewards: the final step carries the task's reward; ``call_penalty`` (default 0) is subtracted
  per bad call on the step it happens, as the ``tool_penalty`` reward component.
- ``demonstrate(task, tool names)`` may give the actions of a worked episode (a call, then the
  answer): :meth:`ToolUse.demonstration`, for a supervised warm-up on the tool-call format.

Each episode has its own :class:`~rlvr_envs.tools.ToolContext`: the ``python`` tool's session is
opened on its first call and killed when the episode ends (or at the next reset, or ``close``).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, SupportsFloat

import gymnasium as gym

from ..agent.protocol import TOOLS_KEY
from ..spaces import ChatMessages, UnicodeText
from ..tools import Tool, ToolContext, ToolError, ToolFault, resolve_tools
from ..tools.builtin import truncate
from ..tools.parsers import ERROR_KINDS, ParsedTurn, ToolCall, ToolCallParser, get_parser
from ..verdict import Seconds, Status, Verdict

logger = logging.getLogger(__name__)

RESPONSE_OVERHEAD = 256  # characters around one tool result in a transcript


def empty_counts() -> dict[str, Any]:
    """An episode's tool-use counts before any call."""
    counts: dict[str, Any] = {"calls": 0, "ok": 0, "errors": 0}
    counts.update({kind: 0 for kind in ERROR_KINDS})
    counts.update(faults=0, by_tool={}, time_s=Seconds(0.0))
    return counts


class ToolUse(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Gives a text environment's episodes tools (see the module docstring)."""

    def __init__(
        self,
        env: gym.Env,
        tools: Sequence[str | Tool | Callable[..., Any]] = ("python",),
        *,
        max_tool_calls: int = 8,
        parser: str | ToolCallParser = "hermes",
        max_output_chars: int = 4000,
        max_argument_bytes: int = 1 << 16,
        call_penalty: float = 0.0,
        sandbox: str = "auto",
        session_limits: Any = None,
        max_sessions: int = 64,
        demonstrate: Callable[[Any, Sequence[str]], list[str] | None] | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            tools=tools,
            max_tool_calls=max_tool_calls,
            parser=parser,
            max_output_chars=max_output_chars,
            max_argument_bytes=max_argument_bytes,
            call_penalty=call_penalty,
            sandbox=sandbox,
            session_limits=session_limits,
            max_sessions=max_sessions,
            demonstrate=demonstrate,
        )
        gym.Wrapper.__init__(self, env)
        if not isinstance(max_tool_calls, int) or max_tool_calls < 0:
            raise ValueError(f"max_tool_calls must be an int >= 0, got {max_tool_calls!r}")
        for name, value in (
            ("max_output_chars", max_output_chars),
            ("max_argument_bytes", max_argument_bytes),
        ):
            if not isinstance(value, int) or value < 64:
                raise ValueError(f"{name} must be an int >= 64, got {value!r}")
        if call_penalty < 0:
            raise ValueError(f"call_penalty must be >= 0, got {call_penalty!r}")
        self.tools = {t.name: t for t in resolve_tools(tools)}
        self.schemas = [t.schema for t in self.tools.values()]
        self.parser = get_parser(parser)
        self.max_tool_calls = max_tool_calls
        self.max_output_chars = max_output_chars
        self.max_argument_bytes = max_argument_bytes
        self.call_penalty = float(call_penalty)
        self.demonstrate = demonstrate
        self.context_options = {
            "sandbox": sandbox,
            "session_limits": session_limits,
            "max_sessions": max_sessions,
            "max_output_chars": max_output_chars,
        }
        base = env.observation_space
        self.chat = isinstance(base, ChatMessages)
        if not (self.chat or isinstance(base, UnicodeText)):
            raise TypeError(
                f"ToolUse wraps text environments (UnicodeText or ChatMessages observations), "
                f"not {base}"
            )
        self.description = self.parser.describe(self.schemas)
        self.observation_space = self._space(base, env.action_space)
        self._context: ToolContext | None = None
        self._obs: Any = None
        self._base_obs: Any = None
        self._counts = empty_counts()
        self._turn = 0

    def _space(self, base: Any, action_space: Any) -> Any:
        action_max = getattr(action_space, "max_length", 1 << 17)
        turns = self.max_tool_calls + 1
        extra = turns * (action_max + self.max_output_chars + RESPONSE_OVERHEAD)
        if self.chat:
            # Extra fields: the tool schemas, and each call's name and arguments (as JSON).
            schemas = len(json.dumps(self.schemas))
            calls = turns * (self.max_argument_bytes + RESPONSE_OVERHEAD)
            return ChatMessages(
                max_messages=base.max_messages + 2 * turns + 2,
                max_length=base.max_length + extra,
                roles=base.roles,
                max_extra_bytes=base.max_extra_bytes + 6 * (schemas + calls),
            )
        return UnicodeText(max_length=base.max_length + len(self.description) + 2 + extra)

    # --- episode ------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the wrapped environment; the prompt now describes the tools."""
        self._end_episode()
        observation, info = self.env.reset(seed=seed, options=options)
        task = getattr(self.env.unwrapped, "task", None)
        self._context = ToolContext(task, **self.context_options)
        self._base_obs = observation
        if self.chat:
            messages = copy.deepcopy(observation)
            messages[0] = {**messages[0], TOOLS_KEY: copy.deepcopy(self.schemas)}
            self._obs = messages
        else:
            self._obs = f"{self.description}\n\n{observation}"
        self._counts = empty_counts()
        self._turn = 0
        info = {**info, "tools": list(self.tools), "tool_use": self._snapshot()}
        return copy.deepcopy(self._obs), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Run the completion's tool calls, or verify it as the final answer."""
        if self._context is None:
            raise gym.error.ResetNeeded("the episode has ended (or never began); call reset()")
        if not isinstance(action, str):
            return self.env.step(action)
        self._turn += 1
        remaining = self.max_tool_calls - self._counts["calls"]
        parsed = self.parser.parse(
            action, max_calls=max(remaining, 0) + 1, max_argument_bytes=self.max_argument_bytes
        )
        if not parsed.calls:
            return self._final(action)
        return self._tool_turn(action, parsed)

    def close(self) -> None:
        """End the episode's session, then close the wrapped environment."""
        self._end_episode()
        super().close()

    def _end_episode(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            context.close()

    def _snapshot(self) -> dict[str, Any]:
        return {**self._counts, "by_tool": dict(self._counts["by_tool"])}

    # --- the final answer ----------------------------------------------------------------------

    def _final(self, action: str) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        previous = self._base_obs
        observation, reward, terminated, truncated, info = self.env.step(action)
        if self.chat:
            added = observation[len(previous) + 1 :] if isinstance(observation, list) else []
            self._obs = self._obs + [{"role": "assistant", "content": action}] + added
        else:
            head = previous + action
            added = observation[len(head) :] if observation.startswith(head) else ""
            self._obs = self._obs + action + added
        self._base_obs = observation
        info = {**info, "tool_use": self._snapshot(), "tool_calls": []}
        if terminated or truncated:
            self._end_episode()
        return copy.deepcopy(self._obs), reward, terminated, truncated, info

    # --- a turn with tool calls ----------------------------------------------------------------

    def _tool_turn(
        self, action: str, parsed: ParsedTurn
    ) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        results: list[str] = []
        records: list[dict[str, Any]] = []
        fault = None
        for call in parsed.calls:
            text, record = self._run(call)
            results.append(text)
            records.append(record)
            if record["kind"] == "fault":
                fault = text
                break
        counts = self._counts
        if parsed.dropped:
            counts["calls"] += parsed.dropped
            counts["over_budget"] += parsed.dropped
            counts["errors"] += parsed.dropped
        bad = sum(r["kind"] not in ("ok", "fault") for r in records) + parsed.dropped
        reward = -self.call_penalty * bad if self.call_penalty else 0.0
        self._append_turn(action, parsed, results)
        info: dict[str, Any] = {
            "tool_calls": records,
            "tool_use": self._snapshot(),
            "turn": self._turn,
            "reward_components": {"tool_penalty": reward} if self.call_penalty else {},
        }
        task = getattr(self._context, "task", None)
        if task is not None:
            info["task_id"] = getattr(task, "id", None)
        terminated = truncated = False
        if fault is not None:
            info["verdict"] = Verdict.make(Status.SANDBOX_ERROR, fault).to_dict()
            terminated = True
        elif any(r["kind"] == "over_budget" for r in records) or parsed.dropped:
            info["verdict"] = Verdict.make(
                Status.NO_ANSWER,
                f"the tool-call budget of {self.max_tool_calls} ran out before a final answer",
            ).to_dict()
            truncated = True
        if terminated or truncated:
            self._end_episode()
        return copy.deepcopy(self._obs), reward, terminated, truncated, info

    def _run(self, call: ToolCall) -> tuple[str, dict[str, Any]]:
        """One call: its result text and its record (name, kind, seconds)."""
        counts = self._counts
        counts["calls"] += 1
        name = call.name if call.name in self.tools else None
        kind, text = "ok", ""
        started = time.perf_counter()
        if counts["calls"] > self.max_tool_calls:
            kind = "over_budget"
            text = f"the tool-call budget of {self.max_tool_calls} calls is spent; this call did not run"
        elif call.error_kind is not None:
            kind, text = call.error_kind, call.error or call.error_kind
        elif name is None:
            kind = "unknown_tool"
            text = f"there is no tool named {call.name!r}; the tools are: {', '.join(self.tools)}"
        else:
            tool = self.tools[name]
            problem = tool.check(call.arguments)
            if problem is not None:
                kind, text = "bad_arguments", f"{name}: {problem}"
            else:
                kind, text = self._invoke(tool, call.arguments or {})
        elapsed = time.perf_counter() - started
        counts["time_s"] = Seconds(counts["time_s"] + elapsed)
        if name is not None and kind != "over_budget":
            counts["by_tool"][name] = counts["by_tool"].get(name, 0) + 1
        if kind == "ok":
            counts["ok"] += 1
        elif kind == "fault":
            counts["faults"] += 1
        else:
            counts[kind] += 1
            counts["errors"] += 1
            text = f"error: {text}"
        record = {"name": call.name, "kind": kind, "time_s": Seconds(elapsed)}
        return truncate(text, self.max_output_chars), record

    def _invoke(self, tool: Tool, arguments: dict[str, Any]) -> tuple[str, str]:
        try:
            return "ok", tool.invoke(arguments, self._context)
        except ToolFault as exc:
            return "fault", f"the {tool.name} tool's sandbox failed: {exc}"
        except ToolError as exc:
            return "tool_failed", f"{tool.name}: {exc}"
        except Exception as exc:  # a bug in a user tool: the model is told, the run goes on
            logger.warning("tool %s raised %r", tool.name, exc)
            return "tool_failed", f"{tool.name} raised {type(exc).__name__}: {exc}"

    def _append_turn(self, action: str, parsed: ParsedTurn, results: list[str]) -> None:
        """The transcript after a completion with calls and their results."""
        if not self.chat:
            self._obs = self._obs + action + self.parser.responses(results)
            return
        calls, replies = [], []
        for k, (call, result) in enumerate(zip(parsed.calls, results)):
            call_id = f"call_{self._turn}_{k}"
            name = call.name or "unknown"
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": dict(call.arguments or {})},
                }
            )
            replies.append(
                {"role": "tool", "tool_call_id": call_id, "name": name, "content": result}
            )
        assistant = {"role": "assistant", "content": parsed.content, "tool_calls": calls}
        self._obs = self._obs + [assistant] + replies

    def demonstration(self, task: Any = None) -> list[str] | None:
        """Actions that solve ``task`` (default: the current one) with these tools, for a
        supervised warm-up; None when the environment has no demonstrator or it has none."""
        task = task if task is not None else getattr(self.env.unwrapped, "task", None)
        if self.demonstrate is None or task is None:
            return None
        return self.demonstrate(task, list(self.tools))

    # --- presentation ---------------------------------------------------------------------------

    @property
    def transcript(self) -> Any:
        """The episode so far, as the agent sees it."""
        return copy.deepcopy(self._obs)

    def __repr__(self) -> str:
        return f"<ToolUse{list(self.tools)} {self.env}>"
