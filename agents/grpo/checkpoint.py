"""Checkpoints: the trainable weights, the optimizer and schedule, the loop state and a frozen KL
reference, written whole or not at all, so ``resume`` continues exactly where a run stopped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from .config import TrainingError


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
