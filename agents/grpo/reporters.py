"""Where step metrics go besides ``metrics.jsonl``: TensorBoard and Weights & Biases.

``metrics.jsonl`` is always written (it is the run's own record: resuming, the plot and the
summary read it); ``report_to`` adds ``tensorboard`` (event files under ``output_dir/tensorboard``,
needs the ``tensorboard`` package) and ``wandb`` (a W&B run in ``output_dir``; ``WANDB_MODE=offline``
keeps it local). Both are optional extras: ``pip install 'rlvr-envs[tensorboard]'`` / ``[wandb]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import ConfigError, report_to_list


def metric_tag(key: str) -> str:
    """A grouped name for a metric: ``eval/accuracy``, ``time/generate_s``, ``train/reward_mean``."""
    if key.startswith("eval_"):
        return "eval/" + key[len("eval_") :]
    if key.startswith("time_"):
        return "time/" + key[len("time_") :]
    return "train/" + key


def scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """The numeric fields of a step record under their tags (``step`` and None left out)."""
    out = {}
    for key, value in record.items():
        if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        out[metric_tag(key)] = float(value)
    return out


class TensorBoardReporter:
    """Scalars to TensorBoard event files (``torch.utils.tensorboard``)."""

    def __init__(self, directory: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ConfigError(
                f"report_to tensorboard needs the tensorboard package "
                f"(pip install 'rlvr-envs[tensorboard]'): {error}"
            ) from None
        self.directory = directory
        self.writer = SummaryWriter(log_dir=str(directory))

    def log(self, step: int, record: Mapping[str, Any]) -> None:
        """Write the record's scalars at ``step``."""
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, global_step=step)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


class WandbReporter:
    """Scalars to a Weights & Biases run (offline with ``WANDB_MODE=offline``)."""

    def __init__(self, directory: Path, config: Mapping[str, Any], project: str | None) -> None:
        try:
            import wandb
        except ImportError as error:
            raise ConfigError(
                f"report_to wandb needs the wandb package (pip install 'rlvr-envs[wandb]'): {error}"
            ) from None
        directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=project or "rlvr-envs",
            dir=str(directory),
            config=dict(config),
            reinit="create_new",
        )

    def log(self, step: int, record: Mapping[str, Any]) -> None:
        """Log the record's scalars at ``step``."""
        self.run.log(scalars(record), step=step)

    def close(self) -> None:
        """Finish the run (an offline run is then complete on disk)."""
        self.run.finish()


class Reporters:
    """Every reporter a run asked for; ``log`` sends one step record to each."""

    def __init__(
        self,
        kinds: Sequence[str],
        out: Path,
        config: Mapping[str, Any],
        wandb_project: str | None = None,
    ) -> None:
        self.reporters: list[Any] = []
        for kind in report_to_list(kinds):
            if kind == "tensorboard":
                self.reporters.append(TensorBoardReporter(out / "tensorboard"))
            elif kind == "wandb":
                self.reporters.append(WandbReporter(out, config, wandb_project))

    def log(self, record: Mapping[str, Any]) -> None:
        """Send one record (with its ``step``) to every reporter."""
        for reporter in self.reporters:
            reporter.log(int(record["step"]), record)

    def close(self) -> None:
        """Close every reporter."""
        for reporter in self.reporters:
            reporter.close()
