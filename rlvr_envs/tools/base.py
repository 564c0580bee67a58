"""The tool record, the per-episode context a tool may ask for, and the two ways a tool fails.

A tool is a Python callable with type hints and a docstring; :class:`Tool` holds it with its JSON
schema. A tool that needs the episode (its task, its Python session) declares a parameter
annotated :class:`ToolContext`; the environment passes it, and it is left out of the schema.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .schema import check_arguments, function_schema

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"


class ToolError(Exception):
    """The tool could not do what was asked (bad input, a failing test run...): the message goes
    back to the model as the tool's answer, and the episode goes on."""


class ToolFault(Exception):
    """The machinery behind a tool failed (the sandbox, not the model's call): the episode ends
    with a ``sandbox_error`` verdict, which training drops and evaluation reports."""


class ToolContext:
    """What tools of one episode share: the task, a lazily opened Python session, scratch state.

    ``sandbox`` names the backend ("auto", "local", "bwrap", "docker"); ``session_limits`` (a
    ``sandbox.Limits``) bound the Python session; ``max_sessions`` bounds the process-wide pool
    of live sessions (``open`` waits when all are taken); ``max_output_chars`` caps what a tool
    returns to the model. :meth:`close` ends the session.
    """

    def __init__(
        self,
        task: Any = None,
        *,
        sandbox: str = "auto",
        session_limits: Any = None,
        max_sessions: int = 64,
        max_output_chars: int = 4000,
    ) -> None:
        self.task = task
        self.max_output_chars = max_output_chars
        self.sandbox_backend = sandbox
        self.session_limits = session_limits
        self.max_sessions = max_sessions
        self.state: dict[str, Any] = {}  # for user tools' own per-episode state
        self._session: Any = None

    @property
    def has_session(self) -> bool:
        """True when a Python session is open."""
        return self._session is not None

    def session(self) -> Any:
        """This episode's Python session, opened on first use (a ``sandbox.PythonSession``)."""
        if self._session is None:
            from sandbox.session import get_session_pool

            pool = get_session_pool(self.sandbox_backend, max_sessions=self.max_sessions)
            self._session = pool.open(self.session_limits)
        return self._session

    def sandbox(self) -> Any:
        """The shared job sandbox of this backend (stateless runs, e.g. tests)."""
        from sandbox import get_sandbox

        return get_sandbox(self.sandbox_backend)

    def close(self) -> None:
        """End the episode's session: its interpreter, files and processes are gone."""
        session, self._session = self._session, None
        if session is not None:
            session.close()


def _is_context(name: str, hint: Any) -> bool:
    return hint is ToolContext or hint == "ToolContext"


@dataclass(frozen=True)
class Tool:
    """A callable with its schema; calling the tool calls the function."""

    name: str
    function: Callable[..., Any]
    schema: dict[str, Any] = field(compare=False)
    context_parameter: str | None = None  # the parameter that receives the ToolContext

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Tool:
        """Describe ``function`` from its type hints and docstring (a ``SchemaError`` if it
        cannot be)."""
        import re

        label = name or getattr(function, "__name__", "")
        if not re.match(NAME_PATTERN, label):
            raise ValueError(f"a tool name must match {NAME_PATTERN}, got {label!r}")
        schema = function_schema(function, name=label, description=description, skip=_is_context)
        hints = typing.get_type_hints(function)
        context = next((p for p, h in hints.items() if _is_context(p, h) and p != "return"), None)
        return cls(label, function, schema, context)

    @property
    def description(self) -> str:
        """What the tool does, as the model reads it."""
        return self.schema["function"]["description"]

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments."""
        return self.schema["function"]["parameters"]

    def check(self, arguments: Any) -> str | None:
        """Why ``arguments`` do not fit this tool, or None."""
        return check_arguments(arguments, self.parameters)

    def invoke(self, arguments: Mapping[str, Any], context: ToolContext | None = None) -> str:
        """Run the tool on checked arguments; its answer as text."""
        kwargs = dict(arguments)
        if self.context_parameter is not None:
            kwargs[self.context_parameter] = context or ToolContext()
        result = self.function(**kwargs)
        return result if isinstance(result, str) else str(result)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Tool {self.name}>"
