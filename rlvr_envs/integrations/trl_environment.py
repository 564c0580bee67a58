"""Any rlvr-envs environment as a TRL ``GRPOTrainer(environment_factory=...)`` environment.

TRL's contract: a class with a no-argument constructor, ``reset(**row) -> str | None`` (a string
is appended to the row's last user message), public methods that are the model's tools (type
hints and an ``Args:`` docstring each), and ``get_reward() -> float``, called once the rollout is
over. TRL runs the tool loop itself (it parses the calls and appends the results), so the
environment only executes tools and keeps the state the reward comes from::

    from trl import GRPOConfig, GRPOTrainer
    from rlvr_envs.integrations.trl import environment_factory

    Env = environment_factory("rlvr/Arithmetic-v1", tools=["calculator"], level=6)
    trainer = GRPOTrainer(
        model="Qwen/Qwen2.5-0.5B-Instruct",
        environment_factory=Env,
        train_dataset=Dataset.from_list(Env.rows(1000)),  # prompt + task_id per row
        args=GRPOConfig(output_dir="runs/trl-tools", max_tool_calling_iterations=4),
    )

``get_reward`` cannot see the model's last message, so the final answer is given through one
more tool, ``submit_answer``: the wrapped environment's verifier grades it (the first one only),
and ``get_reward`` returns that reward (None, which TRL leaves out, when the grading machinery
failed; 0 when nothing was submitted). Each instance's tools run in its own
:class:`~rlvr_envs.tools.ToolContext`: the ``python`` session lives from one ``reset`` to the next.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..tools import Tool, ToolContext, ToolError, ToolFault, resolve_tools
from ..tools.builtin import truncate
from ..verdict import INFRASTRUCTURE_STATUSES
from .trl_data import prompt_dataset

SUBMIT_INSTRUCTION = "When you have the final answer, give it with the submit_answer tool."
_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list}
_FAULTS = frozenset(status.value for status in INFRASTRUCTURE_STATUSES)


def _method(tool: Tool) -> Callable[..., str]:
    """A method that runs ``tool``, with the signature and docstring TRL reads its schema from."""

    def method(self: Any, **arguments: Any) -> str:
        return self._run_tool(tool, arguments)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    lines = [tool.description, "", "Args:"]
    required = set(tool.parameters.get("required", []))
    for name, spec in tool.parameters.get("properties", {}).items():
        kind = _TYPES.get(spec.get("type"), dict)
        default = inspect.Parameter.empty if name in required else spec.get("default")
        parameters.append(
            inspect.Parameter(
                name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=kind
            )
        )
        annotations[name] = kind
        lines.append(f"    {name}: {spec.get('description') or name}")
    annotations["return"] = str
    method.__name__ = method.__qualname__ = tool.name
    method.__doc__ = "\n".join(lines)
    method.__signature__ = inspect.Signature(parameters, return_annotation=str)  # type: ignore[attr-defined]
    method.__annotations__ = annotations
    return method


class ToolEnvironment:
    """Base of the classes :func:`environment_factory` makes (the environment's id, keyword
    arguments and tools are class attributes)."""

    env_id: str = ""
    env_kwargs: Mapping[str, Any] = {}
    tool_names: tuple[str, ...] = ()
    context_options: Mapping[str, Any] = {}

    def __init__(self) -> None:
        import gymnasium

        import rlvr_envs  # noqa: F401  (registers the rlvr/ environments)

        self._wrapped = gymnasium.make(self.env_id, **dict(self.env_kwargs))
        self._env = self._wrapped.unwrapped  # the task environment: its verifier grades
        self._rng = np.random.default_rng()
        self._context: ToolContext | None = None
        self.verdict: dict[str, Any] | None = None
        self.calls = 0

    @classmethod
    def rows(cls, num_tasks: int | None = None, *, seed: int = 0) -> list[dict[str, Any]]:
        """Dataset rows ``{"prompt", "task_id"}`` (``Dataset.from_list(rows)``): the task's
        prompt, asking for the answer through ``submit_answer``."""
        rows = prompt_dataset(cls.env_id, num_tasks, seed=seed, chat=True, **dict(cls.env_kwargs))
        out = []
        for row in rows:
            messages = [dict(m) for m in row["prompt"]]
            messages[0].pop("tools", None)  # TRL gives the tools to the chat template itself
            messages[-1]["content"] = f"{messages[-1]['content']}\n\n{SUBMIT_INSTRUCTION}"
            out.append({"prompt": messages, "task_id": row["task_id"]})
        return out

    def reset(self, **row: Any) -> str | None:
        """Start an episode on the row's ``task_id`` (a random task without one); returns the
        task's prompt when the row has none."""
        if self._context is not None:
            self._context.close()
        if row.get("task_id") is not None:
            observation, _ = self._env.reset(options={"task_id": str(row["task_id"])})
        else:
            observation, _ = self._env.reset(seed=int(self._rng.integers(2**31)))
        self._context = ToolContext(self._env.task, **dict(self.context_options))
        self.verdict = None
        self.calls = 0
        prompt = row.get("prompt")
        if prompt and (not isinstance(prompt, list) or any(m.get("content") for m in prompt)):
            return None
        text = observation if isinstance(observation, str) else observation[-1]["content"]
        return f"{text}\n\n{SUBMIT_INSTRUCTION}"

    def submit_answer(self, answer: str) -> str:
        """Submit your final answer; the task's verifier grades the first one submitted.

        Args:
            answer: The final answer, written as the task asks (e.g. within \\boxed{}).
        """
        if self._context is None:
            return "error: no episode is running"
        if self.verdict is not None:
            return "error: an answer was already submitted"
        _, _, _, _, info = self._env.step(str(answer))
        self.verdict = dict(info.get("verdict") or {})
        return "Answer submitted."

    def get_reward(self) -> float | None:
        """The submitted answer's reward (0 without one; None when grading itself failed)."""
        if self.verdict is None:
            return 0.0
        if self.verdict.get("status") in _FAULTS:
            return None
        return float(self.verdict.get("reward", 0.0))

    def _run_tool(self, tool: Tool, arguments: dict[str, Any]) -> str:
        if self._context is None:
            return "error: no episode is running"
        self.calls += 1
        problem = tool.check(arguments)
        if problem is not None:
            return f"error: {tool.name}: {problem}"
        try:
            result = tool.invoke(arguments, self._context)
        except ToolError as exc:
            result = f"error: {tool.name}: {exc}"
        except ToolFault as exc:  # the machinery failed: the episode's reward is left out
            self.verdict = {"status": "sandbox_error", "reward": 0.0, "reason": str(exc)}
            result = f"error: the {tool.name} tool is unavailable"
        return truncate(result, self._context.max_output_chars)

    # Not public: TRL offers every public method to the model as a tool.
    def _close(self) -> None:
        """End the episode's session and close the environment."""
        if self._context is not None:
            self._context.close()
            self._context = None
        self._wrapped.close()

    def __del__(self) -> None:
        try:
            self._close()
        except Exception:  # interpreter shutdown: the session pool closes on its own
            pass


def environment_factory(
    env_id: str,
    tools: Sequence[str | Tool | Callable[..., Any]] | None = None,
    *,
    sandbox: str = "auto",
    session_limits: Any = None,
    max_output_chars: int = 4000,
    **env_kwargs: Any,
) -> type[ToolEnvironment]:
    """A class for ``GRPOTrainer(environment_factory=...)`` over ``env_id`` with ``tools``.

    ``tools`` default to the environment's own when it is a tool environment
    (``rlvr/Arithmetic-Python-v1``: ``python``), else ``["python"]``. Every tool becomes a
    method, plus ``submit_answer``.
    """
    import gymnasium

    import rlvr_envs  # noqa: F401

    probe = gymnasium.make(env_id, **env_kwargs)  # a bad id or argument fails here
    try:
        if tools is None:
            own = getattr(probe, "get_wrapper_attr", None)
            try:
                tools = list(own("tools")) if own is not None else ["python"]
            except AttributeError:
                tools = ["python"]
    finally:
        probe.close()
    resolved = resolve_tools(tools)
    reserved = {"reset", "get_reward", "submit_answer", "rows"}
    clash = sorted(reserved & {t.name for t in resolved})
    if clash:
        raise ValueError(f"tool names {clash} clash with the environment's own methods")
    namespace: dict[str, Any] = {t.name: _method(t) for t in resolved}
    namespace.update(
        env_id=env_id,
        env_kwargs=dict(env_kwargs),
        tool_names=tuple(t.name for t in resolved),
        context_options={
            "sandbox": sandbox,
            "session_limits": session_limits,
            "max_output_chars": max_output_chars,
        },
        __doc__=f"{env_id} with tools {[t.name for t in resolved]} (TRL environment_factory).",
    )
    name = "Rlvr" + "".join(ch for ch in env_id.split("/")[-1].title() if ch.isalnum())
    return type(name, (ToolEnvironment,), namespace)
