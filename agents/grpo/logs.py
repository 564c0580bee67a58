"""What a run writes as it goes: JSONL metrics, a PNG of the curves, a progress bar."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
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


class Progress:
    """Progress of a loop: a tqdm bar on a terminal; elsewhere (CI, a file) one plain line every
    ``every`` steps and at the last, not hundreds of carriage-return frames."""

    def __init__(
        self,
        total: int,
        initial: int,
        enabled: bool,
        desc: str = "GRPO",
        *,
        write: Callable[[str], None] | None = None,
        stream: Any = None,
        lines: int = 10,
    ) -> None:
        self.total, self.step, self.desc = total, initial, desc
        stream = stream if stream is not None else sys.stderr
        self.write = write or (lambda line: print(line, file=stream, flush=True))
        self.every = max(1, total // max(lines, 1))
        self.bar: Any = None
        self.enabled = enabled
        self.started = time.perf_counter()
        self.start_step = initial
        if enabled and _is_terminal(stream):
            try:
                from tqdm.auto import tqdm
            except ImportError:  # tqdm is optional: plain lines
                return
            self.bar = tqdm(
                total=total,
                initial=initial,
                desc=desc,
                unit="step",
                dynamic_ncols=True,
                file=stream,
            )

    def update(self, **fields: Any) -> None:
        """One step done; ``fields`` are shown beside the count."""
        self.step += 1
        if not self.enabled:
            return
        shown = {k: v for k, v in fields.items() if v is not None}
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(**shown)
            return
        if self.step % self.every == 0 or self.step == self.total:
            rate = (time.perf_counter() - self.started) / max(self.step - self.start_step, 1)
            details = ", ".join(f"{k} {v}" for k, v in shown.items())
            self.write(
                f"{self.desc} {self.step}/{self.total}: {details}"
                + (", " if details else "")
                + f"{rate:.2f} s/step"
            )

    def close(self) -> None:
        """Close the bar (plain lines need nothing)."""
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


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
