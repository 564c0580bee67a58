"""Evaluation suites: named lists of (environment, kwargs, tasks, samples per task, sampling).

A suite is plain data. Built-in suites are registered here; users register their own in Python
(:func:`register_suite`) or write a YAML/JSON file (:func:`load_suite`)::

    name: my-suite
    defaults: {samples: 4, sampling: {temperature: 0.7, max_new_tokens: 512}}
    environments:
      - env: rlvr/Arithmetic-v1
        kwargs: {level: 4}
        tasks: 50           # a number, or "all" for a dataset environment
        samples: 8
        categories: [level] # metadata keys to break results down by
      - env: rlvr/GSM8K-v1
        tasks: all
        optional: true      # skip (with a note) when it cannot be made, e.g. offline
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

SAMPLING_KEYS = frozenset({"temperature", "top_p", "top_k", "max_new_tokens", "stop"})
_SAMPLING_ALIASES = {"max_tokens": "max_new_tokens"}
ENTRY_KEYS = frozenset(
    {
        "env",
        "kwargs",
        "tasks",
        "samples",
        "sampling",
        "name",
        "categories",
        "maj",
        "task_seed",
        "shuffle",
        "optional",
        "requires_data",
    }
)

# Environments that other parts of the project add; a suite naming one that is not registered in
# this installation says where it comes from instead of failing with Gymnasium's NameNotFound.
PROVIDERS: dict[str, str] = {
    "rlvr/HumanEval-v0": "the code environments (rlvr_envs.envs.code with the sandbox package)",
    "rlvr/MBPP-v0": "the code environments (rlvr_envs.envs.code with the sandbox package)",
    "rlvr/CodeIO-v0": "the code environments (rlvr_envs.envs.code with the sandbox package)",
    "rlvr/IFEval-v0": "the instruction-following environments (rlvr_envs.envs.ifeval, branch ifeval)",
    "rlvr/InstructionFollowing-v1": (
        "the instruction-following environments (rlvr_envs.envs.ifeval, branch ifeval)"
    ),
    "rlvr/JSONFormat-v0": "the format environments (rlvr_envs.envs.ifeval, branch ifeval)",
}


class SuiteError(ValueError):
    """A suite is malformed or names something that cannot be used; the message says which."""


class MissingEnvironmentError(SuiteError):
    """A suite names an environment that is not registered in this installation."""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))


@dataclass(frozen=True)
class SuiteEntry:
    """One environment of a suite and how to evaluate on it."""

    env: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    tasks: int | None = 20  # None means every task of a dataset environment
    samples: int = 1  # samples per task (the k of pass@k)
    sampling: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None  # defaults to the environment id
    categories: Sequence[str] | None = None  # metadata keys to break down by; None: automatic
    maj: bool | None = None  # majority voting; None: on for math environments
    task_seed: int = 0  # which procedural tasks (or which shuffle of a dataset)
    shuffle: bool = False  # a seeded random subset of a dataset rather than its first tasks
    optional: bool = False  # skip with a note when the environment cannot be made
    # Local data files (any one of them) that must be in $RLVR_ENVS_DATA_DIR; without them the
    # entry is not tried, so an offline suite never waits on the hub.
    requires_data: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.env, str) or not self.env:
            raise SuiteError(f"an entry needs an environment id string, got {self.env!r}")
        if not isinstance(self.kwargs, Mapping):
            raise SuiteError(f"{self.env}: kwargs must be a mapping, got {self.kwargs!r}")
        if self.tasks is not None and (
            isinstance(self.tasks, bool) or not isinstance(self.tasks, int) or self.tasks < 1
        ):
            raise SuiteError(f"{self.env}: tasks must be a positive integer or 'all'")
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 1:
            raise SuiteError(
                f"{self.env}: samples must be a positive integer, got {self.samples!r}"
            )
        object.__setattr__(self, "sampling", normalise_sampling(self.sampling, where=self.env))
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        if self.categories is not None:
            if isinstance(self.categories, str) or not all(
                isinstance(c, str) for c in self.categories
            ):
                raise SuiteError(f"{self.env}: categories must be a list of metadata keys")
            object.__setattr__(self, "categories", tuple(self.categories))
        if isinstance(self.requires_data, str):
            object.__setattr__(self, "requires_data", (self.requires_data,))
        object.__setattr__(self, "requires_data", tuple(self.requires_data))

    @property
    def label(self) -> str:
        """The entry's name in results: ``name``, else the environment id."""
        return self.name or self.env

    def fingerprint(self, seed: int) -> str:
        """A short hash of everything that changes what a sample is (not the task or index)."""
        config = {
            "env": self.env,
            "kwargs": dict(self.kwargs),
            "sampling": dict(self.sampling),
            "seed": seed,
        }
        return hashlib.sha256(_canonical(config).encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as written to a suite file or a run's plan."""
        data: dict[str, Any] = {
            "env": self.env,
            "kwargs": json.loads(_canonical(dict(self.kwargs))),
            "tasks": "all" if self.tasks is None else self.tasks,
            "samples": self.samples,
            "sampling": dict(self.sampling),
            "task_seed": self.task_seed,
        }
        for key in ("name", "categories", "maj"):
            value = getattr(self, key)
            if value is not None:
                data[key] = list(value) if key == "categories" else value
        if self.shuffle:
            data["shuffle"] = True
        if self.optional:
            data["optional"] = True
        if self.requires_data:
            data["requires_data"] = list(self.requires_data)
        return data


def normalise_sampling(sampling: Mapping[str, Any] | None, *, where: str = "") -> dict[str, Any]:
    """Check sampling settings and map aliases (``max_tokens``) to the agent protocol's names."""
    if sampling is None:
        return {}
    if not isinstance(sampling, Mapping):
        raise SuiteError(f"{where}: sampling must be a mapping, got {sampling!r}")
    result: dict[str, Any] = {}
    for key, value in sampling.items():
        name = _SAMPLING_ALIASES.get(key, key)
        if name == "seed":
            raise SuiteError(f"{where}: set the seed with the run's seed, not in sampling")
        if name == "n":
            raise SuiteError(f"{where}: set the number of samples with 'samples', not sampling.n")
        if name not in SAMPLING_KEYS:
            raise SuiteError(
                f"{where}: unknown sampling setting {key!r}; known: {sorted(SAMPLING_KEYS)}"
            )
        if name == "stop" and isinstance(value, str):
            value = [value]
        result[name] = list(value) if name == "stop" else value
    return result


@dataclass(frozen=True)
class Suite:
    """A named list of suite entries."""

    name: str
    entries: tuple[SuiteEntry, ...]
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        if not self.entries:
            raise SuiteError(f"suite {self.name!r} has no environments")
        labels = [e.label for e in self.entries]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise SuiteError(
                f"suite {self.name!r}: entries {duplicates} appear more than once; give each a "
                "distinct 'name'"
            )

    def with_overrides(
        self,
        *,
        tasks: int | None = None,
        samples: int | None = None,
        sampling: Mapping[str, Any] | None = None,
        only: Sequence[str] | None = None,
    ) -> Suite:
        """A copy with task counts capped, samples or sampling settings replaced, entries picked."""
        entries = list(self.entries)
        if only:
            known = {e.label for e in entries} | {e.env for e in entries}
            missing = [name for name in only if name not in known]
            if missing:
                raise SuiteError(
                    f"suite {self.name!r} has no entry {missing}; entries: "
                    f"{[e.label for e in entries]}"
                )
            entries = [e for e in entries if e.label in only or e.env in only]
        extra = normalise_sampling(sampling, where="overrides")
        changed = []
        for entry in entries:
            limit = entry.tasks if tasks is None else min(tasks, entry.tasks or tasks)
            changed.append(
                replace(
                    entry,
                    tasks=limit,
                    samples=samples or entry.samples,
                    sampling={**entry.sampling, **extra},
                )
            )
        return replace(self, entries=tuple(changed))

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (the suite file format)."""
        return {
            "name": self.name,
            "description": self.description,
            "environments": [e.to_dict() for e in self.entries],
        }


def entry_from_dict(
    data: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> SuiteEntry:
    """Build an entry from suite-file data, on top of the suite's ``defaults``."""
    if not isinstance(data, Mapping):
        raise SuiteError(f"an environment entry must be a mapping, got {data!r}")
    merged = copy.deepcopy(dict(defaults or {}))
    sampling = {**merged.pop("sampling", {}), **dict(data.get("sampling") or {})}
    merged.update(data)
    merged["sampling"] = sampling
    unknown = set(merged) - ENTRY_KEYS
    if unknown:
        raise SuiteError(
            f"entry {data.get('env', data)!r}: unknown key(s) {sorted(unknown)}; "
            f"known: {sorted(ENTRY_KEYS)}"
        )
    if "env" not in merged:
        raise SuiteError(f"entry {dict(data)!r} has no 'env'")
    tasks = merged.get("tasks", 20)
    if tasks == "all":
        tasks = None
    elif isinstance(tasks, str):
        raise SuiteError(f"{merged['env']}: tasks must be a number or 'all', got {tasks!r}")
    return SuiteEntry(
        env=merged["env"],
        kwargs=merged.get("kwargs") or {},
        tasks=tasks,
        samples=merged.get("samples", 1),
        sampling=merged.get("sampling") or {},
        name=merged.get("name"),
        categories=merged.get("categories"),
        maj=merged.get("maj"),
        task_seed=int(merged.get("task_seed", 0)),
        shuffle=bool(merged.get("shuffle", False)),
        optional=bool(merged.get("optional", False)),
        requires_data=merged.get("requires_data") or (),
    )


def suite_from_dict(data: Mapping[str, Any], *, default_name: str = "custom") -> Suite:
    """Build a suite from ``{"name", "description", "defaults", "environments": [...]}``."""
    if not isinstance(data, Mapping):
        raise SuiteError("a suite file must hold a mapping with an 'environments' list")
    unknown = set(data) - {"name", "description", "defaults", "environments"}
    if unknown:
        raise SuiteError(
            f"unknown suite key(s) {sorted(unknown)}; known: name, description, defaults, "
            "environments"
        )
    envs = data.get("environments")
    if not isinstance(envs, list) or not envs:
        raise SuiteError("a suite needs a non-empty 'environments' list")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise SuiteError("'defaults' must be a mapping")
    return Suite(
        name=str(data.get("name") or default_name),
        entries=tuple(entry_from_dict(e, defaults) for e in envs),
        description=str(data.get("description") or ""),
    )


def load_suite(path: str | os.PathLike) -> Suite:
    """Read a suite from a YAML (``.yaml``/``.yml``) or JSON file."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"no such suite file: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise SuiteError(
                f"{path}: reading YAML suites needs PyYAML (pip install 'rlvr-envs[eval]'), or "
                "write the suite as JSON"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise SuiteError(f"{path}: not valid YAML ({error})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SuiteError(
                f"{path}: not valid JSON ({error.msg} at line {error.lineno})"
            ) from None
    try:
        return suite_from_dict(data, default_name=path.stem)
    except SuiteError as error:
        raise SuiteError(f"{path}: {error}") from None


# --- built-in suites ----------------------------------------------------------------------------

_QUICK_SAMPLING = {"temperature": 0.7, "top_p": 0.95, "max_new_tokens": 1024}
_CORE_SAMPLING = {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 4096}

_SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite, *, overwrite: bool = False) -> None:
    """Make a suite available by name (``rlvr-envs eval --suite NAME``)."""
    if not isinstance(suite, Suite):
        raise TypeError(f"expected a Suite, got {type(suite).__name__}")
    if suite.name in _SUITES and not overwrite:
        raise SuiteError(f"a suite named {suite.name!r} is already registered")
    _SUITES[suite.name] = suite


def list_suites() -> list[Suite]:
    """Registered suites, sorted by name."""
    return [_SUITES[name] for name in sorted(_SUITES)]


def get_suite(name_or_path: str | os.PathLike | Suite) -> Suite:
    """A suite object, a registered suite's name, or a YAML/JSON suite file."""
    if isinstance(name_or_path, Suite):
        return name_or_path
    key = os.fspath(name_or_path)
    if key in _SUITES:
        return _SUITES[key]
    if Path(key).suffix.lower() in (".yaml", ".yml", ".json") or Path(key).is_file():
        return load_suite(key)
    raise SuiteError(f"unknown suite {key!r}; built-in: {', '.join(sorted(_SUITES))}, or a file")


def _local_gsm8k(env: str, samples: int) -> SuiteEntry:
    """16 GSM8K problems, tried only when a local copy of the test set is there."""
    return SuiteEntry(
        env,
        tasks=16,
        samples=samples,
        sampling=_QUICK_SAMPLING,
        optional=True,
        requires_data=("gsm8k_test.jsonl", "gsm8k_test.jsonl.gz"),
    )


register_suite(
    Suite(
        "math-quick",
        (
            SuiteEntry(
                "rlvr/Arithmetic-v1",
                {"level": "mixed"},
                tasks=24,
                samples=8,
                sampling=_QUICK_SAMPLING,
                categories=("level",),
            ),
            SuiteEntry(
                "rlvr/Algebra-v1",
                {"kind": "mixed"},
                tasks=16,
                samples=8,
                sampling=_QUICK_SAMPLING,
                categories=("kind",),
            ),
            _local_gsm8k("rlvr/GSM8K-v1", samples=4),
        ),
        "Procedural arithmetic and algebra (offline), plus 16 GSM8K problems when a local copy is "
        "in $RLVR_ENVS_DATA_DIR (--data-dir)",
    )
)
register_suite(
    Suite(
        "code-quick",
        (
            SuiteEntry("rlvr/CodeIO-v0", tasks=24, samples=4, sampling=_QUICK_SAMPLING),
            SuiteEntry(
                "rlvr/HumanEval-v0", tasks=16, samples=4, sampling=_QUICK_SAMPLING, maj=False
            ),
        ),
        "Procedural code input/output tasks and 16 HumanEval problems (sandboxed)",
    )
)
register_suite(
    Suite(
        "format-quick",
        (
            SuiteEntry(
                "rlvr/InstructionFollowing-v1",
                tasks=24,
                samples=4,
                sampling=_QUICK_SAMPLING,
                maj=False,
            ),
            SuiteEntry(
                "rlvr/JSONFormat-v0", tasks=24, samples=4, sampling=_QUICK_SAMPLING, maj=False
            ),
        ),
        "Procedural verifiable instructions and JSON-format tasks",
    )
)
register_suite(
    Suite(
        "tools-quick",
        (
            SuiteEntry(
                "rlvr/Arithmetic-Calculator-v1", tasks=24, samples=4, sampling=_QUICK_SAMPLING
            ),
            SuiteEntry("rlvr/Arithmetic-Python-v1", tasks=16, samples=2, sampling=_QUICK_SAMPLING),
            _local_gsm8k("rlvr/GSM8K-Python-v1", samples=2),
        ),
        "Multi-digit arithmetic with the calculator and the python tool (sandboxed sessions), "
        "plus 16 GSM8K problems with python when a local copy is in $RLVR_ENVS_DATA_DIR",
    )
)
register_suite(
    Suite(
        "core",
        (
            SuiteEntry("rlvr/GSM8K-v1", tasks=None, samples=4, sampling=_CORE_SAMPLING),
            SuiteEntry(
                "rlvr/MATH500-v1",
                tasks=None,
                samples=4,
                sampling=_CORE_SAMPLING,
                categories=("subject", "level"),
            ),
            SuiteEntry(
                "rlvr/HumanEval-v0", tasks=None, samples=4, sampling=_CORE_SAMPLING, maj=False
            ),
            SuiteEntry("rlvr/MBPP-v0", tasks=None, samples=4, sampling=_CORE_SAMPLING, maj=False),
            SuiteEntry("rlvr/IFEval-v0", tasks=None, samples=4, sampling=_CORE_SAMPLING, maj=False),
        ),
        "The standard benchmarks: GSM8K, MATH-500, HumanEval, MBPP and IFEval, every task",
    )
)
