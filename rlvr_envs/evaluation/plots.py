"""Inference-time scaling plots: accuracy vs samples per task, and vs generated tokens per task.

matplotlib is imported only here, and only its object-oriented API with the Agg canvas, so no
global backend is touched and nothing needs a display.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

SAMPLES_PLOT = "scaling_samples.png"
TOKENS_PLOT = "scaling_tokens.png"


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), dpi=110)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot(1, 1, 1)


def _draw(
    curves: Mapping[str, Mapping[str, Any]], x_key: str, xlabel: str, title: str, path: Path
) -> Path:
    figure, axes = _figure()
    colours = [f"C{i}" for i in range(10)]
    for i, (label, curve) in enumerate(curves.items()):
        colour = colours[i % len(colours)]
        xs = curve[x_key]
        axes.plot(xs, curve["pass_at_k"], "-o", color=colour, ms=3.5, label=f"{label} pass@k")
        if "maj_at_k" in curve:
            axes.plot(xs, curve["maj_at_k"], "--s", color=colour, ms=3, label=f"{label} maj@k")
    if any(len(c[x_key]) > 1 for c in curves.values()):
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        axes.set_xscale("log", base=2 if x_key == "k" else 10)
        axes.xaxis.set_major_formatter(ScalarFormatter())
        axes.xaxis.set_minor_formatter(NullFormatter())
    if x_key == "k":
        ticks = sorted({k for c in curves.values() for k in c["k"]})
        axes.set_xticks(ticks, [str(k) for k in ticks])
    if x_key != "k" and any(c.get("tokens_approximate") for c in curves.values()):
        xlabel += " (approximate counts)"
    axes.set_xlabel(xlabel)
    axes.set_ylabel("accuracy")
    axes.set_ylim(-0.02, 1.02)
    axes.grid(True, alpha=0.3)
    axes.set_title(title)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path)
    return path


def plot_curves(
    curves: Mapping[str, Mapping[str, Any]], directory: str | Path, *, title: str = ""
) -> list[Path]:
    """Write the two scaling plots for the entries' curves; return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    prefix = f"{title}: " if title else ""
    return [
        _draw(
            curves,
            "k",
            "samples per task (k)",
            f"{prefix}accuracy vs samples",
            directory / SAMPLES_PLOT,
        ),
        _draw(
            curves,
            "tokens_per_task",
            "generated tokens per task (k x mean tokens per sample)",
            f"{prefix}accuracy vs tokens",
            directory / TOKENS_PLOT,
        ),
    ]
