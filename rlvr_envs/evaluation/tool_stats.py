"""Tool-use figures of an evaluation: calls per sample, error rates by kind, and accuracy by the
number of calls a sample made (samples of :class:`~rlvr_envs.wrappers.ToolUse` environments
carry a ``tool_use`` record)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..tools.parsers import ERROR_KINDS

CALL_BUCKETS = ("0", "1", "2", "3+")


def _bucket(calls: int) -> str:
    return str(calls) if calls < 3 else "3+"


def summarize_tool_use(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The tool-use summary of an entry's samples, or None when no sample used a tool env."""
    used = [r for r in samples if isinstance(r.get("tool_use"), Mapping)]
    if not used:
        return None
    calls = [int(r["tool_use"].get("calls", 0)) for r in used]
    total = sum(calls)
    errors = Counter()
    by_tool: Counter = Counter()
    for record in used:
        counts = record["tool_use"]
        errors.update({k: int(counts.get(k, 0)) for k in ERROR_KINDS if counts.get(k)})
        by_tool.update(counts.get("by_tool") or {})
    error_total = sum(errors.values())
    by_calls: dict[str, dict[str, Any]] = {}
    for bucket in CALL_BUCKETS:
        picked = [r for r, c in zip(used, calls) if _bucket(c) == bucket]
        if picked:
            by_calls[bucket] = {
                "samples": len(picked),
                "accuracy": round(sum(bool(r.get("correct")) for r in picked) / len(picked), 6),
            }
    return {
        "samples": len(used),
        "calls": total,
        "calls_per_sample": round(total / len(used), 4),
        "samples_with_calls": sum(c > 0 for c in calls),
        "error_rate": round(error_total / total, 6) if total else 0.0,
        "errors": dict(errors.most_common()),
        "faults": sum(int(r["tool_use"].get("faults", 0)) for r in used),
        "by_tool": dict(by_tool.most_common()),
        "accuracy_by_calls": by_calls,
    }


def tool_use_section(envs: Mapping[str, Mapping[str, Any]], pct: Any, table: Any) -> list[str]:
    """The report's "Tool use" section (no lines when no entry used tools)."""
    entries = [(label, env["tool_use"]) for label, env in envs.items() if env.get("tool_use")]
    if not entries:
        return []
    rows = []
    for label, use in entries:
        errors = ", ".join(f"{n} {kind}" for kind, n in use["errors"].items()) or "-"
        tools = ", ".join(f"{name} {n}" for name, n in use["by_tool"].items()) or "-"
        rows.append(
            [
                f"`{label}`",
                f"{use['calls_per_sample']:.2f}",
                pct(use["samples_with_calls"] / use["samples"]),
                pct(use["error_rate"]),
                errors,
                tools,
            ]
        )
    parts = [
        "## Tool use",
        "",
        "Calls per sample, the share of samples that called a tool, and the share of calls that "
        "failed (by kind: malformed, unknown tool, bad arguments, too large, invalid UTF-8, over "
        "the budget, the tool failing).",
        "",
        table(
            [
                "environment",
                "calls/sample",
                "% used tools",
                "% calls failed",
                "errors",
                "calls by tool",
            ],
            rows,
            left=1,
        ),
        "",
        "Accuracy (%) by the number of tool calls a sample made (samples in brackets):",
        "",
    ]
    rows = []
    for label, use in entries:
        cells = []
        for bucket in CALL_BUCKETS:
            row = use["accuracy_by_calls"].get(bucket)
            cells.append("-" if row is None else f"{pct(row['accuracy'])} ({row['samples']})")
        rows.append([f"`{label}`", *cells])
    parts += [table(["environment", *(f"{b} calls" for b in CALL_BUCKETS)], rows), ""]
    return parts
