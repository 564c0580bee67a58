"""The Markdown report of a run: headline table, scaling tables, categories, statuses, plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..rollout.episode import FAULT_STATUSES
from .tool_stats import tool_use_section

_FAULTS = FAULT_STATUSES | {"timeout"}  # listed under the table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _interval(ci: Sequence[float] | None) -> str:
    return "" if not ci else f" [{_pct(ci[0])}, {_pct(ci[1])}]"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, left: int = 1) -> str:
    """A Markdown table; the first ``left`` columns left-aligned, the rest right-aligned."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join([":---"] * left + ["---:"] * (len(header) - left)) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def headline_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """One row per environment: tasks, k, mean reward with interval, pass@1, pass@k, maj@k."""
    rows = []
    for label, env in summary["environments"].items():
        if "mean_reward" not in env:
            rows.append([f"`{label}`", "0", "-", "no samples", "-", "-", "-", "-"])
            continue
        n = max(int(k) for k in env["pass_at_k"])
        ci = env.get("ci", {})
        maj = env.get("maj_at_k", {}).get(str(n))
        tokens = env["tokens"]
        rows.append(
            [
                f"`{label}`",
                str(env["num_tasks"]) + ("" if env.get("complete") else " (incomplete)"),
                str(n),
                _pct(env["mean_reward"]) + _interval(ci.get("mean_reward")),
                _pct(env["pass_at_k"]["1"]) + _interval(ci.get("pass@1")),
                _pct(env["pass_at_k"][str(n)]) + _interval(ci.get(f"pass@{n}")),
                "-" if maj is None else _pct(maj) + _interval(ci.get(f"maj@{n}")),
                f"{'~' if tokens['approximate'] else ''}{tokens['mean_per_sample']:.0f}",
            ]
        )
    return rows


def markdown_report(summary: Mapping[str, Any], plan: Mapping[str, Any] | None = None) -> str:
    """The whole report as Markdown text."""
    envs = summary["environments"]
    ci_method = next((e.get("ci_method") for e in envs.values() if e.get("ci_method")), "bootstrap")
    overall = summary.get("overall") or {}
    parts = [f"# Evaluation: {summary['suite']}", ""]
    parts.append(
        f"Agent `{summary['agent']}` · seed {summary['seed']} · "
        f"{overall.get('num_samples', 0)} samples"
        + ("" if summary.get("complete") else " · **incomplete run**")
    )
    if overall:
        parts.append(
            f"\nOverall (mean over environments): mean reward {_pct(overall['mean_reward'])}%, "
            f"pass@1 {_pct(overall['pass@1'])}%."
        )
    parts += [
        "",
        "## Results",
        "",
        f"Percentages; brackets are 95% intervals over tasks ({ci_method}). k is the number of "
        "samples per task; tokens are generated tokens per sample (~ marks an approximate count: "
        "4 UTF-8 bytes per token, when the agent reports none).",
        "",
        table(
            ["environment", "tasks", "k", "mean reward", "pass@1", "pass@k", "maj@k", "tokens"],
            headline_rows(summary),
        ),
    ]

    faults = []
    for label, env in envs.items():
        bad = {s: c for s, c in env.get("status_counts", {}).items() if s in _FAULTS}
        if bad:
            faults.append(f"- `{label}`: " + ", ".join(f"{c} {s}" for s, c in bad.items()))
    if faults:
        parts += [
            "",
            "**Samples that failed for reasons other than a wrong answer** (counted as failures "
            "above; check the sandbox, the agent or the time limits):",
            "",
            *faults,
        ]

    curves = [(label, env["curves"]) for label, env in envs.items() if "curves" in env]
    if curves:
        parts += ["", "## Inference-time scaling", ""]
        for label, curve in curves:
            header = ["", *(f"k={k}" for k in curve["k"])]
            rows = [["pass@k", *(_pct(v) for v in curve["pass_at_k"])]]
            if "maj_at_k" in curve:
                rows.append(["maj@k", *(_pct(v) for v in curve["maj_at_k"])])
            rows.append(["tokens/task", *(f"{t:.0f}" for t in curve["tokens_per_task"])])
            parts += [f"`{label}`", "", table(header, rows), ""]
        for path in (summary.get("files") or {}).get("plots", []):
            parts.append(f"![{path}]({path})")
        parts.append("")

    categories = [
        (label, key, values)
        for label, env in envs.items()
        for key, values in (env.get("categories") or {}).items()
    ]
    if categories:
        parts += ["## By category", ""]
        for label, key, values in categories:
            metrics = list(next(iter(values.values())).keys())[1:] if values else []
            rows = [
                [value, row["num_tasks"], *(_pct(row[m]) for m in metrics)]
                for value, row in values.items()
            ]
            parts += [
                f"`{label}` by `{key}`",
                "",
                table([key, "tasks", *metrics], rows),
                "",
            ]

    parts += tool_use_section(envs, _pct, table)

    statuses = sorted({s for env in envs.values() for s in env.get("status_counts", {})})
    if statuses:
        rows = [
            [f"`{label}`", *(env.get("status_counts", {}).get(s, 0) for s in statuses)]
            for label, env in envs.items()
        ]
        parts += ["## Verdict statuses", "", table(["environment", *statuses], rows), ""]

    if summary.get("skipped"):
        parts += ["## Skipped", ""]
        parts += [f"- `{label}`: {why}" for label, why in summary["skipped"].items()]
        parts.append("")

    if plan is not None:
        rows = []
        for entry in plan["entries"]:
            if entry.get("skipped"):
                continue
            settings = ", ".join(f"{k}={v}" for k, v in entry["sampling"].items()) or "defaults"
            kwargs = ", ".join(f"{k}={v}" for k, v in entry["kwargs"].items()) or "-"
            rows.append([f"`{entry['label']}`", f"`{entry['env']}`", kwargs, settings])
        parts += [
            "## Settings",
            "",
            table(["entry", "environment", "kwargs", "sampling"], rows, left=4),
        ]
    timing = summary.get("timing")
    if timing:
        parts += [
            "",
            f"Generation {timing['generate_s']:.1f} s, verification {timing['verify_s']:.1f} s "
            f"(summed over samples); executor `{timing.get('executor', '?')}`.",
        ]
    return "\n".join(parts).rstrip() + "\n"
