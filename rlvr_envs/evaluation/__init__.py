"""Evaluation suites: many environments x many samples, pass@k, maj@k, scaling curves, reports.

    from rlvr_envs.evaluation import evaluate
    summary = evaluate("math-quick", "python:my_agents:solve", "runs/quick")
    summary["environments"]["rlvr/Arithmetic-v1"]["pass_at_k"]["4"]

The command line is ``rlvr-envs eval`` and ``rlvr-envs compare``. Samples are drawn by the one
rollout engine (:mod:`rlvr_envs.rollout`), with one seed per sample and faults recorded as
statuses; this package plans suites, stores samples (resumable), and computes metrics, reports
and plots. Importing it loads neither torch, matplotlib, tqdm nor Ray: plots, the progress bar and
the Ray executor import them when used.
"""

from __future__ import annotations

from ..agent import AgentSpecError, CallableAgent, Completion, batched, resolve_agent
from .compare import compare_runs, comparison_table, load_run
from .executors import LocalExecutor, RayExecutor, make_executor
from .metrics import confidence_interval, maj_at_k, pass_at_k
from .runner import RunMismatchError, evaluate, plan_suite
from .store import RunLockedError, read_records
from .suites import (
    MissingEnvironmentError,
    Suite,
    SuiteEntry,
    SuiteError,
    get_suite,
    list_suites,
    load_suite,
    register_suite,
)
from .summary import summarize

__all__ = [
    "AgentSpecError",
    "CallableAgent",
    "Completion",
    "LocalExecutor",
    "MissingEnvironmentError",
    "RayExecutor",
    "RunLockedError",
    "RunMismatchError",
    "Suite",
    "SuiteEntry",
    "SuiteError",
    "batched",
    "compare_runs",
    "comparison_table",
    "confidence_interval",
    "evaluate",
    "get_suite",
    "list_suites",
    "load_run",
    "load_suite",
    "maj_at_k",
    "make_executor",
    "pass_at_k",
    "plan_suite",
    "read_records",
    "register_suite",
    "resolve_agent",
    "summarize",
]
