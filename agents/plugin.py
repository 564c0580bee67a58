"""How the ``agents`` layer plugs into ``rlvr_envs``: the ``train`` subcommand and the ``hf:`` /
``openai:`` agent spec kinds. Found through the ``rlvr_envs.plugins`` entry point; light to
import (no torch)."""

from __future__ import annotations

from rlvr_envs.agent import register_agent_kind
from rlvr_envs.commands import register_command

from .cli import TRAIN
from .spec import hf_agent, openai_agent


def register() -> None:
    """Register this layer's subcommands and agent kinds."""
    register_command(TRAIN)
    register_agent_kind("hf", hf_agent)
    register_agent_kind("openai", openai_agent)
