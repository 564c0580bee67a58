"""Registering environments: built-ins under the ``rlvr`` namespace, and user environments.

Registration goes through Gymnasium's own registry, so ``gymnasium.make(id)`` and
``gymnasium.make_vec(id)`` work for every environment; this module adds a one-line description and
a task count to each id for ``list_envs()`` and ``rlvr-envs list``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from .data import load_rows, looks_local
from .env import TextEnv
from .prompts import MATH_TEMPLATE
from .tasks import DatasetSource, tasks_from_rows
from .vector import vector_entry_point
from .verifiers import Verifier


@dataclass(frozen=True)
class EnvInfo:
    """What ``list_envs`` reports about one registered environment."""

    id: str
    description: str
    tasks: str  # a count, "procedural", or where the data comes from
    category: str = "other"  # math, code, format, or other


_INFO: dict[str, EnvInfo] = {}


def register(
    id: str,  # noqa: A002 - Gymnasium's own name for it
    entry_point: str | Callable[..., gym.Env],
    *,
    description: str = "",
    tasks: str = "?",
    category: str = "other",
    kwargs: Mapping[str, Any] | None = None,
    nondeterministic: bool = False,
) -> None:
    """Register an environment with Gymnasium and describe it for ``list_envs``."""
    gym.register(
        id=id,
        entry_point=entry_point,
        vector_entry_point=vector_entry_point(id),
        kwargs=dict(kwargs or {}),
        nondeterministic=nondeterministic,
    )
    _INFO[id] = EnvInfo(id=id, description=description, tasks=tasks, category=category)


def list_envs(namespace: str | None = None) -> list[EnvInfo]:
    """Environments registered through rlvr-envs, optionally only those in one namespace."""
    infos = [info for env_id, info in _INFO.items() if env_id in gym.registry]
    if namespace is not None:
        infos = [i for i in infos if i.id.startswith(f"{namespace}/")]
    return sorted(infos, key=lambda i: i.id)


def env_info(env_id: str) -> EnvInfo:
    """The description of one registered environment."""
    try:
        return _INFO[env_id]
    except KeyError:
        raise KeyError(f"{env_id!r} was not registered through rlvr-envs") from None


def make_dataset_env(
    *,
    data: str | os.PathLike | Sequence[Mapping[str, Any]],
    prompt_field: str,
    answer_field: str | None = None,
    verifier: str | Verifier = "math",
    split: str = "test",
    config: str | None = None,
    id_field: str | None = None,
    solution_field: str | None = None,
    name: str = "dataset",
    verifier_options: Mapping[str, Any] | None = None,
    **env_kwargs: Any,
) -> TextEnv:
    """A :class:`TextEnv` over rows of a file, a list of dicts or a hub dataset."""
    if verifier == "math":
        env_kwargs.setdefault("template", MATH_TEMPLATE)  # ask for a \boxed{} answer
    rows = load_rows(data, split=split, config=config)
    tasks = tasks_from_rows(
        rows,
        prompt_field=prompt_field,
        answer_field=answer_field,
        id_field=id_field,
        solution_field=solution_field,
        name=name,
    )
    return TextEnv(
        DatasetSource(tasks, name=name),
        verifier,
        verifier_options=verifier_options,
        **env_kwargs,
    )


def register_dataset_env(
    id: str,  # noqa: A002
    *,
    data: str | os.PathLike | Sequence[Mapping[str, Any]],
    prompt_field: str,
    answer_field: str | None = None,
    verifier: str | Verifier = "math",
    description: str = "",
    split: str = "test",
    config: str | None = None,
    id_field: str | None = None,
    solution_field: str | None = None,
    verifier_options: Mapping[str, Any] | None = None,
    **env_kwargs: Any,
) -> None:
    """Turn a dataset and a verifier into a registered environment, with no subclassing.

    ``data`` is a local JSONL/JSON/CSV/Parquet path, a list of dicts, or a Hugging Face dataset
    name (with ``split`` and ``config``). Local data is read once here so that a missing field is
    reported now, not at the first ``reset``.
    """
    if isinstance(data, os.PathLike):
        data = os.fspath(data)
    kwargs = dict(
        data=data,
        prompt_field=prompt_field,
        answer_field=answer_field,
        verifier=verifier,
        split=split,
        config=config,
        id_field=id_field,
        solution_field=solution_field,
        name=id,
        verifier_options=dict(verifier_options or {}),
        **env_kwargs,
    )
    tasks = f"hub: {data}"
    if not isinstance(data, str) or looks_local(data):
        env = make_dataset_env(**kwargs)
        tasks = str(env.source.num_tasks)
        env.close()
    register(
        id,
        make_dataset_env,
        description=description or f"user dataset ({prompt_field} -> {verifier})",
        tasks=tasks,
        category="user",
        kwargs=kwargs,
    )
