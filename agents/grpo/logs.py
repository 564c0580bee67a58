"""What a run writes as it goes: JSONL metrics, a PNG of the curves, a progress bar."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The correlation of two series; None when either is constant or too short."""
    if len(xs) < 2:
        return None
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


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
