"""The trainer's supporting pieces (agents/grpo.py keeps the config, the loss and the loop):
errors, device and seeding, the held-out task split and its evaluation, checkpoints, logs, plots.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlvr_envs.tasks import take_tasks

from .hf import HFAgent
from .rollout import RolloutRunner


class ConfigError(ValueError):
    """A configuration that cannot work."""


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the environment's reward never varies)."""


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name``; a clear error when CUDA is asked for and missing."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"unknown device {name!r}: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        build = f"torch {torch.__version__}" + (
            "" if torch.version.cuda else ", a build without CUDA"
        )
        raise ConfigError(
            f"--device {name} was asked for, but no CUDA GPU is usable here ({build}); "
            "use --device cpu, or run on a machine with an NVIDIA GPU and a CUDA build of torch"
        )
    if device.type == "cuda" and device.index is not None:
        if device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here"
            )
    return device


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` is bf16-mixed on CUDA and fp32 elsewhere."""
    if precision == "auto":
        return "bf16-mixed" if device.type == "cuda" else "fp32"
    return precision


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class TaskSplit:
    """Held-out evaluation tasks and a stream of training tasks that never includes them.

    Procedural sources: evaluation tasks come from ``source.take(n, seed=eval_seed)``, training
    tasks from the source's sampler, skipping evaluation ids. Datasets: a seeded subset is held
    out and training samples from the rest. Environments without a task source: distinct reset
    seed ranges.
    """

    _EVAL_SEEDS = 2**40  # reset seeds from here on are evaluation's (no-source fallback)

    def __init__(self, env: Any, *, eval_tasks: int, eval_seed: int) -> None:
        source = getattr(env.unwrapped, "source", None)
        self.source = source
        self.eval_ids: list[str] = []
        self.train_ids: list[str] | None = None
        self.mode = "seeds"
        if source is not None and callable(getattr(source, "get", None)):
            if source.num_tasks is None and callable(getattr(source, "sample", None)):
                self.mode = "procedural"
                if eval_tasks:
                    tasks = take_tasks(source, eval_tasks, seed=eval_seed)
                    self.eval_ids = [t.id for t in tasks]
            elif getattr(source, "tasks", None) is not None:
                self.mode = "dataset"
                ids = [t.id for t in source.tasks]
                order = np.random.default_rng(eval_seed).permutation(len(ids))
                held = {ids[i] for i in order[:eval_tasks]}
                self.eval_ids = [i for i in ids if i in held]
                self.train_ids = [i for i in ids if i not in held]
                if not self.train_ids:
                    raise ConfigError(
                        f"the dataset has {len(ids)} tasks; holding out eval_tasks={eval_tasks} "
                        "leaves none to train on: lower eval_tasks"
                    )
        self.eval_seed = eval_seed
        self.num_eval = len(self.eval_ids) if self.mode != "seeds" else eval_tasks
        self._held = set(self.eval_ids)

    def training(self, n: int, rng: np.random.Generator) -> tuple[list[str] | None, int]:
        """``n`` training tasks (ids, or None with consecutive reset seeds) and a reset seed."""
        seed = int(rng.integers(0, self._EVAL_SEEDS - n))
        if self.mode == "procedural":
            ids: list[str] = []
            while len(ids) < n:
                task_id = self.source.sample(rng).id
                if task_id not in self._held:
                    ids.append(task_id)
            return ids, seed
        if self.mode == "dataset":
            assert self.train_ids is not None
            picks = rng.choice(len(self.train_ids), size=n, replace=len(self.train_ids) < n)
            return [self.train_ids[i] for i in picks], seed
        return None, seed

    def evaluation(self) -> tuple[list[str] | None, int]:
        """The held-out tasks (ids, or None with reset seeds from the evaluation range)."""
        if self.mode == "seeds":
            return None, self._EVAL_SEEDS + self.eval_seed
        return list(self.eval_ids), self._EVAL_SEEDS + self.eval_seed


def evaluate(
    runner: RolloutRunner,
    agent: HFAgent,
    split: TaskSplit,
    max_new_tokens: int,
    autocast: Callable[[], Any],
) -> dict[str, float]:
    """Greedy accuracy (verdict ``correct``) and mean reward on the held-out tasks."""
    task_ids, seed = split.evaluation()
    with autocast():
        batch = runner.collect(
            agent,
            num_tasks=split.num_eval,
            group_size=1,
            seed=seed,
            task_ids=task_ids,
            sampling={"temperature": 0.0, "max_new_tokens": max_new_tokens, "seed": 0},
            on_error="record",
        )
    valid = [e for e in batch.episodes if e.valid]
    correct = [bool(e.verdicts[-1].get("correct", e.reward >= 1.0)) for e in valid if e.verdicts]
    return {
        "accuracy": sum(correct) / max(len(valid), 1),
        "reward": sum(e.reward for e in valid) / max(len(valid), 1),
        "length": sum(e.num_generated_tokens for e in valid) / max(len(valid), 1),
        "tasks": float(len(batch.episodes)),
        "faults": float(len(batch.episodes) - len(valid)),
    }


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The correlation of two series; None when either is constant or too short."""
    if len(xs) < 2:
        return None
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """The trainable parameters (all of them, or the LoRA adapter's), by name."""
    return {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    directory: Path,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    reference: Any = None,
) -> None:
    """Write the trainable weights, optimizer and loop state (and a frozen KL reference, if
    any); replace the old checkpoint whole."""
    staging = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    torch.save(trainable_state(model), staging / "weights.pt")
    if reference is not None:
        torch.save(reference.state_dict(), staging / "reference.pt")
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
        staging / "optimizer.pt",
    )
    (staging / "state.json").write_text(json.dumps(state, indent=2))
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)


def load_checkpoint(directory: Path, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; returns the loop state."""
    weights = torch.load(directory / "weights.pt", map_location="cpu")
    missing = set(weights) - {n for n, _ in model.named_parameters()}
    if missing:
        raise TrainingError(f"the checkpoint in {directory} does not fit this model: {missing}")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in weights:
                param.copy_(weights[name])
    saved = torch.load(directory / "optimizer.pt", map_location="cpu")
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return json.loads((directory / "state.json").read_text())


def plot_metrics(records: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    """A PNG of the main curves (reward, held-out accuracy, length, entropy, KL/clipping, speed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = [
        ("reward", [("reward_mean", "train reward"), ("eval_accuracy", "held-out accuracy")]),
        ("groups", [("zero_variance_fraction", "zero-variance groups")]),
        ("tokens", [("length_mean", "mean length"), ("length_max", "max length")]),
        ("entropy", [("entropy", "entropy")]),
        ("clipping / KL", [("clip_fraction", "clip fraction"), ("kl", "KL")]),
        ("tokens/s", [("gen_tokens_per_s", "generation"), ("train_tokens_per_s", "training")]),
    ]
    figure, axes = plt.subplots(2, 3, figsize=(13, 7))
    for axis, (title, series) in zip(axes.flat, panels):
        for key, label in series:
            points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
            if points:
                xs, ys = zip(*points)
                axis.plot(xs, ys, marker="o" if len(points) < 20 else None, label=label)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def progress_bar(total: int, initial: int, enabled: bool, desc: str = "GRPO") -> Any:
    """A tqdm bar as a context manager (yielding None when disabled or tqdm is missing)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional: no bar
        enabled = False
    if not enabled:
        return contextlib.nullcontext(None)
    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True)


def append_jsonl(path: Path, record: Mapping[str, Any]) -> None:
    """Append one JSON line."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(plain(dict(record))) + "\n")


def write_jsonl(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Replace a JSONL file with ``records``, one JSON line each."""
    path.write_text("".join(json.dumps(plain(dict(r))) + "\n" for r in records), encoding="utf-8")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL file (none when it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plain(value: Any) -> Any:
    """JSON-safe data: non-finite floats become None, unknown objects their ``str``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
