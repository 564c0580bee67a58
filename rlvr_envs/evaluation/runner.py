"""Running a suite: plan the samples, draw the missing ones, write the summary, report and plots.

Output directory layout::

    DIR/plan.json       the suite as run: entries, their task ids, the agent, the seed
    DIR/samples.jsonl   one line per finished sample, appended as it goes (resume source)
    DIR/summary.json    the numbers: per environment mean reward, pass@k, maj@k, intervals ...
    DIR/curves.json     the inference-time scaling data behind the plots
    DIR/report.md       tables and plots in Markdown
    DIR/plots/*.png     accuracy vs samples, accuracy vs generated tokens

A sample is identified by its key: the entry, the environment id, the task id, the sample index
and a fingerprint of the settings (environment kwargs, sampling settings, run seed). Rerunning
into the same directory skips every sample whose key is already in ``samples.jsonl``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from ..agent.spec import AgentSpecError, describe_agent, resolve_agent
from ..data import DATA_DIR_VARIABLE
from .executors import AgentRef, LocalExecutor, RayExecutor, make_executor
from .store import SAMPLES_FILE, SampleStore
from .suites import PROVIDERS, MissingEnvironmentError, Suite, SuiteEntry, SuiteError, get_suite
from .summary import summarize, timing
from .worker import WorkUnit, entry_configs

logger = logging.getLogger(__name__)

PLAN_FILE = "plan.json"
SUMMARY_FILE = "summary.json"
CURVES_FILE = "curves.json"
REPORT_FILE = "report.md"
PLOTS_DIR = "plots"
_DERIVED = (PLAN_FILE, SUMMARY_FILE, CURVES_FILE, REPORT_FILE)


class RunMismatchError(ValueError):
    """The output directory holds samples of a different agent or seed."""


def sample_seed(seed: int, env_id: str, task_id: str, index: int) -> int:
    """The seed of one sample: stable across runs, executors and batch layouts."""
    digest = hashlib.sha256(f"{seed}|{env_id}|{task_id}|{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def sample_key(label: str, env_id: str, task_id: str, index: int, fingerprint: str) -> str:
    """The identity of one sample in ``samples.jsonl``."""
    return f"{label}|{env_id}|{task_id}|{index}|{fingerprint}"


# --- planning -----------------------------------------------------------------------------------


def _check_registered(env_id: str) -> None:
    module, sep, name = env_id.partition(":")
    if sep:  # Gymnasium's "module:Env-v0" form imports the module that registers the id
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise MissingEnvironmentError(
                f"environment {env_id!r}: cannot import module {module!r} ({error})"
            ) from None
    else:
        name = env_id
    if name in gym.registry:
        return
    provider = PROVIDERS.get(name)
    if provider:
        raise MissingEnvironmentError(
            f"environment {name!r} is not registered in this installation: it comes with "
            f"{provider}, which is not installed or not merged yet"
        )
    raise MissingEnvironmentError(
        f"environment {name!r} is not registered; `rlvr-envs list` shows the registered ones"
    )


def _select_tasks(env: Any, entry: SuiteEntry) -> list[str]:
    source = getattr(env.unwrapped, "source", None)
    tasks = getattr(source, "tasks", None)
    if isinstance(tasks, Sequence) and tasks:
        ids = [t.id for t in tasks]
        if entry.shuffle:
            order = np.random.default_rng(entry.task_seed).permutation(len(ids))
            ids = [ids[i] for i in order]
        return ids if entry.tasks is None else ids[: entry.tasks]
    if entry.tasks is None:
        raise SuiteError(
            f"{entry.label}: {entry.env} has no fixed task list (procedural); give a number of "
            "tasks instead of 'all'"
        )
    if callable(getattr(source, "take", None)):
        ids = [t.id for t in source.take(entry.tasks, seed=entry.task_seed)]
    else:  # any environment that follows the reset contract
        ids = [str(env.reset(seed=entry.task_seed + i)[1]["task_id"]) for i in range(entry.tasks)]
    return list(dict.fromkeys(ids))


def _env_category(env_id: str) -> str:
    from ..registry import env_info

    try:
        return env_info(env_id.partition(":")[2] or env_id).category
    except KeyError:
        return "other"


def _check_local_data(entry: SuiteEntry) -> None:
    if not entry.requires_data:
        return
    directory = os.environ.get(DATA_DIR_VARIABLE)
    if directory and any(Path(directory, name).is_file() for name in entry.requires_data):
        return
    raise SuiteError(
        f"{entry.label} needs a local copy of its data ({' or '.join(entry.requires_data)}) in "
        f"${DATA_DIR_VARIABLE} (set it, or pass --data-dir)"
        + (f"; {directory} has none" if directory else "")
    )


def plan_entry(entry: SuiteEntry, seed: int) -> dict[str, Any]:
    """The plan of one entry: its settings, fingerprint and task ids (errors if unusable)."""
    _check_registered(entry.env)
    _check_local_data(entry)
    try:
        env = gym.make(entry.env, **dict(entry.kwargs))
    except Exception as error:
        raise SuiteError(
            f"could not make {entry.env} with {dict(entry.kwargs)}: {type(error).__name__}: {error}"
        ) from error
    try:
        task_ids = _select_tasks(env, entry)
    finally:
        env.close()
    maj = entry.maj if entry.maj is not None else _env_category(entry.env) == "math"
    return {
        "label": entry.label,
        "env": entry.env,
        "kwargs": json.loads(json.dumps(dict(entry.kwargs), default=repr)),
        "sampling": dict(entry.sampling),
        "samples": entry.samples,
        "fingerprint": entry.fingerprint(seed),
        "maj": maj,
        "categories": list(entry.categories) if entry.categories is not None else None,
        "task_ids": task_ids,
    }


def plan_suite(suite: Suite, *, seed: int, agent: str) -> dict[str, Any]:
    """Plan every entry; optional entries that cannot be used are kept as skipped, with why."""
    entries = []
    for entry in suite.entries:
        try:
            entries.append(plan_entry(entry, seed))
        except SuiteError as error:
            if not entry.optional:
                raise
            logger.warning("skipping optional %s: %s", entry.label, error)
            entries.append({"label": entry.label, "env": entry.env, "skipped": str(error)})
    return {
        "suite": suite.name,
        "description": suite.description,
        "agent": agent,
        "seed": seed,
        "entries": entries,
    }


def work_units(plan: Mapping[str, Any], done: Any) -> list[WorkUnit]:
    """The samples of ``plan`` whose keys are not in ``done``, one unit per task."""
    units = []
    seed = plan["seed"]
    for entry in plan["entries"]:
        if entry.get("skipped"):
            continue
        for task_id in entry["task_ids"]:
            missing = []
            for index in range(entry["samples"]):
                key = sample_key(entry["label"], entry["env"], task_id, index, entry["fingerprint"])
                if key not in done:
                    missing.append((index, key, sample_seed(seed, entry["env"], task_id, index)))
            if missing:
                units.append(WorkUnit(entry["label"], task_id, tuple(missing)))
    return units


def planned_keys(plan: Mapping[str, Any]) -> set[str]:
    """Every sample key of a plan."""
    return {
        sample_key(e["label"], e["env"], t, i, e["fingerprint"])
        for e in plan["entries"]
        if not e.get("skipped")
        for t in e["task_ids"]
        for i in range(e["samples"])
    }


# --- progress -----------------------------------------------------------------------------------


class Progress:
    """A progress bar with the running accuracy: tqdm when installed, else a stderr line."""

    def __init__(self, total: int, initial: int, correct: int, *, enabled: bool = True) -> None:
        self.total, self.count, self.correct = total, initial, correct
        self.enabled = enabled
        self._bar = None
        self._last = 0.0
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=total, initial=initial, desc="eval", unit="sample", file=sys.stderr)
        self._bar.set_postfix_str(self._accuracy())

    def _accuracy(self) -> str:
        return f"acc={self.correct / self.count:.3f}" if self.count else "acc=-"

    def update(self, correct: bool) -> None:
        """Count one finished sample."""
        self.count += 1
        self.correct += int(correct)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(self._accuracy(), refresh=False)
            return
        now = time.monotonic()
        if now - self._last >= 1.0 or self.count == self.total:
            self._last = now
            print(f"\reval {self.count}/{self.total} {self._accuracy()}", end="", file=sys.stderr)

    def close(self) -> None:
        """Finish the bar or the line."""
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            print(file=sys.stderr)


# --- the run ------------------------------------------------------------------------------------


def _check_resume(directory: Path, plan: Mapping[str, Any]) -> None:
    path = directory / PLAN_FILE
    if not path.is_file():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return
    if previous.get("agent") != plan["agent"]:
        raise RunMismatchError(
            f"{directory} holds samples of agent {previous.get('agent')!r}, not "
            f"{plan['agent']!r}; use another output directory or --overwrite"
        )


def _clear(directory: Path) -> None:
    for name in _DERIVED:  # samples.jsonl is truncated by the store, under its lock
        (directory / name).unlink(missing_ok=True)
    plots = directory / PLOTS_DIR
    if plots.is_dir():
        for png in plots.glob("*.png"):
            png.unlink()


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", "utf-8")
    os.replace(tmp, path)


def evaluate(
    suite: str | os.PathLike | Suite,
    agent: Any,
    output_dir: str | os.PathLike,
    *,
    agent_kwargs: Mapping[str, Any] | None = None,
    executor: str | LocalExecutor | RayExecutor = "local",
    seed: int = 0,
    tasks: int | None = None,
    samples: int | None = None,
    sampling: Mapping[str, Any] | None = None,
    only: Sequence[str] | None = None,
    batch_size: int = 16,
    verify_workers: int | None = None,
    ci: str = "bootstrap",
    plots: bool = True,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run a suite with an agent into ``output_dir`` (resuming what is there); return the summary.

    ``agent`` is a spec string (``hf:``, ``openai:``, ``python:``), an object with ``act``, or a
    function. ``tasks`` caps the tasks per entry, ``samples`` replaces the samples per task,
    ``sampling`` overrides sampling settings, ``only`` picks entries by name or environment id.
    ``batch_size`` and ``verify_workers`` configure an executor named by a string.
    """
    if ci not in ("bootstrap", "normal"):
        raise ValueError(f"ci must be 'bootstrap' or 'normal', got {ci!r}")
    chosen = get_suite(suite).with_overrides(
        tasks=tasks, samples=samples, sampling=sampling, only=only
    )
    if isinstance(executor, str):
        executor = make_executor(executor, batch_size=batch_size, verify_workers=verify_workers)
    ref = AgentRef(agent, agent_kwargs)
    if isinstance(executor, LocalExecutor) or not (
        isinstance(agent, str) and agent.startswith(("hf:", "openai:"))
    ):
        # Fail on a bad agent before any environment is built; a model for Ray actors is only
        # loaded in the actors.
        resolved = resolve_agent(agent, **dict(agent_kwargs or {}))
        if isinstance(executor, LocalExecutor):
            ref = AgentRef(resolved)
    elif not isinstance(agent, str):
        raise AgentSpecError(f"unusable agent {agent!r}")

    directory = Path(output_dir)
    plan = plan_suite(chosen, seed=seed, agent=describe_agent(agent))
    keys = planned_keys(plan)
    started = time.perf_counter()
    store = SampleStore(directory).open(truncate=overwrite)
    try:
        if overwrite:
            _clear(directory)
        else:
            _check_resume(directory, plan)
        _write_json(directory / PLAN_FILE, plan)
        done = [r for r in store if r["key"] in keys]
        units = work_units(plan, store)
        logger.info(
            "%s: %d samples planned, %d already done, %d to draw",
            chosen.name,
            len(keys),
            len(done),
            sum(len(u.samples) for u in units),
        )
        bar = Progress(
            len(keys), len(done), sum(bool(r.get("correct")) for r in done), enabled=progress
        )
        try:
            if units:
                for record in executor.run(ref, entry_configs(plan["entries"]), units):
                    if store.add(record):
                        bar.update(bool(record.get("correct")))
        finally:
            bar.close()
        records = [r for r in store if r["key"] in keys]
    finally:
        store.close()

    summary = summarize(plan, records, ci=ci)
    summary["timing"] = {
        **timing(records),
        "wall_s_this_session": round(time.perf_counter() - started, 3),
        "executor": executor.name,
    }
    return write_outputs(directory, plan, summary, plots=plots)


def write_outputs(
    directory: Path, plan: Mapping[str, Any], summary: dict[str, Any], *, plots: bool = True
) -> dict[str, Any]:
    """Write summary.json, curves.json, report.md and the plots; return the summary."""
    from .plots import plot_curves
    from .report import markdown_report

    curves = {
        label: env["curves"] for label, env in summary["environments"].items() if "curves" in env
    }
    files = {"samples": SAMPLES_FILE, "curves": CURVES_FILE, "report": REPORT_FILE}
    if plots and curves:
        try:
            images = plot_curves(curves, directory / PLOTS_DIR, title=str(summary["suite"]))
            files["plots"] = [str(Path(PLOTS_DIR) / p.name) for p in images]
        except ImportError as error:
            logger.warning("no plots: %s (pip install 'rlvr-envs[eval]')", error)
    summary["files"] = files
    _write_json(directory / SUMMARY_FILE, summary)
    _write_json(directory / CURVES_FILE, curves)
    (directory / REPORT_FILE).write_text(markdown_report(summary, plan), encoding="utf-8")
    return summary
