"""The ``hf:`` and ``openai:`` agent spec kinds, registered with the one spec parser
(:func:`rlvr_envs.agent.from_spec`) by :mod:`agents.plugin`."""

from __future__ import annotations

import os
from typing import Any


def hf_agent(path_or_id: str, **kwargs: Any) -> Any:
    """``hf:Qwen/Qwen2.5-0.5B-Instruct`` or ``hf:/path/to/checkpoint``: an :class:`~agents.hf.HFAgent`."""
    from .hf import HFAgent

    return HFAgent(path_or_id, **kwargs)


def openai_agent(rest: str, **kwargs: Any) -> Any:
    """``openai:MODEL@http://host:8000/v1``: an :class:`~agents.openai_agent.OpenAIAgent`.

    Without ``@URL`` the base URL is ``base_url=``, else ``$OPENAI_BASE_URL``, else
    ``http://127.0.0.1:8000/v1``.
    """
    from .openai_agent import OpenAIAgent

    model, base_url = split_model_url(rest)
    if base_url is None:
        base_url = kwargs.pop("base_url", None) or os.environ.get(
            "OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"
        )
    if not model:
        raise ValueError(f"bad agent spec 'openai:{rest}': no model name before '@'")
    return OpenAIAgent(model, base_url, **kwargs)


def split_model_url(rest: str) -> tuple[str, str | None]:
    """``MODEL@URL`` to (model, url); model ids may hold ':' and '/', URLs may hold '@'."""
    for marker in ("@http://", "@https://"):
        at = rest.find(marker)
        if at >= 0:
            return rest[:at], rest[at + 1 :]
    if "@" in rest:
        model, _, url = rest.rpartition("@")
        return model, url if "://" in url else f"http://{url}"
    return rest, None
