"""Serving environments over OpenEnv's protocol: ``rlvr-envs serve --env ID``.

``create_app(ServerConfig(env_id=...))`` builds the FastAPI application (WebSocket ``/ws`` and
the HTTP and MCP endpoints); ``rlvr-envs serve`` runs it with uvicorn. FastAPI and uvicorn are
the optional extra ``rlvr-envs[serve]`` and are imported only when a server is built, never by
``import rlvr_envs``. The client side is :class:`rlvr_envs.remote.RemoteEnv`.
"""

from __future__ import annotations

from typing import Any

from .config import TOKEN_VARIABLE, ServerConfig

__all__ = ["TOKEN_VARIABLE", "ServerConfig", "create_app"]


def create_app(config: ServerConfig, make_env: Any = None) -> Any:
    """The FastAPI application serving ``config.env_id`` (see ``rlvr_envs.server.app``)."""
    from .app import create_app as build

    return build(config, make_env)
