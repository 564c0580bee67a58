"""Plugins: how the layers above ``rlvr_envs`` plug into it without being imported by it.

A plugin is a module with a ``register()`` function that adds command-line subcommands
(:func:`rlvr_envs.commands.register_command`) and agent spec kinds
(:func:`rlvr_envs.agent.register_agent_kind`). Plugins are found through the
``rlvr_envs.plugins`` entry-point group (``pyproject.toml`` declares this distribution's own,
``agents.plugin``), plus that same bundled plugin when the installed metadata predates it (a
source checkout on ``PYTHONPATH``). A plugin that fails to import is skipped and remembered, so
that whoever needs it can say why it is missing.
"""

from __future__ import annotations

import importlib
import logging
import threading
from importlib.metadata import entry_points

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "rlvr_envs.plugins"
BUNDLED = ("agents.plugin",)  # the same targets pyproject.toml declares for this distribution

_lock = threading.Lock()
_loaded: dict[str, bool] = {}
_errors: dict[str, str] = {}


def _targets() -> list[str]:
    found = [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return list(dict.fromkeys([*found, *BUNDLED]))


def load_plugins() -> None:
    """Import every plugin once and call its ``register()``."""
    with _lock:
        for target in _targets():
            if target in _loaded:
                continue
            module_name, _, attr = target.partition(":")
            try:
                module = importlib.import_module(module_name)
                getattr(module, attr or "register")()
            except Exception as error:  # a missing optional layer must not break the others
                _errors[target] = f"{type(error).__name__}: {error}"
                _loaded[target] = False
                logger.debug("plugin %s not loaded: %s", target, _errors[target])
                continue
            _loaded[target] = True


def plugin_errors() -> dict[str, str]:
    """Plugins that failed to load, with why."""
    return dict(_errors)
