"""The limits record every job runs under."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits for one job; every backend enforces all of them.

    ``memory_mb`` is address space the job may map on top of the worker interpreter (about
    40 MB); the Docker backend also caps the container's memory. ``max_processes`` counts threads
    too (it is ``RLIMIT_NPROC``). ``output_bytes`` caps stdout and stderr each: a job that writes
    more is killed and reported as ``output_limit``. Network access is off unless ``network`` is
    true *and* the sandbox was created with ``allow_network=True``.
    """

    wall_time_s: float = 10.0
    cpu_time_s: float | None = None  # None: the wall time limit
    memory_mb: int = 512
    max_processes: int = 64
    output_bytes: int = 1 * MIB
    file_size_mb: int = 64
    open_files: int = 256
    network: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "network":
                if not isinstance(value, bool):
                    raise TypeError(f"Limits.network must be a bool, not {value!r}")
                continue
            if value is None and f.name == "cpu_time_s":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Limits.{f.name} must be a number, not {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"Limits.{f.name} must be positive and finite, not {value!r}")
        if self.max_processes < 1 or self.open_files < 8:
            raise ValueError("Limits needs max_processes >= 1 and open_files >= 8")

    @property
    def cpu_s(self) -> float:
        """The CPU time limit in seconds (the wall time limit when unset)."""
        return self.wall_time_s if self.cpu_time_s is None else self.cpu_time_s

    def replace(self, **changes: Any) -> Limits:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, e.g. for logs."""
        return asdict(self)

    def wire(self, extra_processes: int = 0) -> dict[str, Any]:
        """The form the in-sandbox worker understands."""
        return {
            "wall_s": float(self.wall_time_s),
            "cpu_s": float(self.cpu_s),
            "memory_bytes": int(self.memory_mb * MIB),
            "processes": int(self.max_processes) + extra_processes,
            "output_bytes": int(self.output_bytes),
            "file_bytes": int(self.file_size_mb * MIB),
            "open_files": int(self.open_files),
            "network": self.network,
        }
