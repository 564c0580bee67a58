"""Built-in environments, registered under the Gymnasium namespace ``rlvr`` on import."""

from __future__ import annotations

from ..registry import register

# id, entry point, category, tasks, description
BUILTINS: list[tuple[str, str, str, str, str]] = [
    (
        "rlvr/Arithmetic-v1",
        "rlvr_envs.envs.math:arithmetic",
        "math",
        "procedural",
        "Seeded arithmetic, from one-digit sums (level 1) to multi-step expressions (level 5)",
    ),
    (
        "rlvr/Algebra-v1",
        "rlvr_envs.envs.math:algebra",
        "math",
        "procedural",
        "Seeded linear and quadratic equations, expansion and evaluation (sympy)",
    ),
    (
        "rlvr/GSM8K-v1",
        "rlvr_envs.envs.math:gsm8k",
        "math",
        "1319",
        "Grade-school math word problems (openai/gsm8k, test split)",
    ),
    (
        "rlvr/MATH500-v1",
        "rlvr_envs.envs.math:math500",
        "math",
        "500",
        "Competition math, the MATH-500 subset (HuggingFaceH4/MATH-500)",
    ),
    (
        "rlvr/HumanEval-v0",
        "rlvr_envs.envs.code:humaneval",
        "code",
        "164",
        "Python function completion, tests run in the sandbox (openai/openai_humaneval)",
    ),
    (
        "rlvr/MBPP-v0",
        "rlvr_envs.envs.code:mbpp",
        "code",
        "427",
        "Basic Python problems, sanitized subset; subset='full' for all 974",
    ),
    (
        "rlvr/CodeIO-v0",
        "rlvr_envs.envs.code:codeio",
        "code",
        "procedural",
        "Stdin/stdout programs: procedural families, or a JSONL of tasks via data_path=",
    ),
    (
        "rlvr/IFEval-v0",
        "rlvr_envs.envs.instructions:ifeval",
        "format",
        "541",
        "IFEval's verifiable instructions (google/IFEval), strict or loose, deterministic checks",
    ),
    (
        "rlvr/InstructionFollowing-v0",
        "rlvr_envs.envs.instructions:instruction_following",
        "format",
        "procedural",
        "Seeded requests with random compatible IFEval-style instructions, for training",
    ),
    (
        "rlvr/JSONFormat-v0",
        "rlvr_envs.envs.instructions:json_format",
        "format",
        "procedural",
        "Produce a JSON object that matches a random JSON Schema given in the prompt",
    ),
]


# The math environments as published before answer forms and extraction modes (issue 14): strict
# extraction, any form, so ``\boxed{3 + 5}`` scores on "What is 3 + 5?". Kept so earlier numbers
# can be reproduced; Gymnasium warns that -v1 supersedes them.
V0_GRADING = {"mode": "strict", "answer_form": "any"}
SUPERSEDED: list[tuple[str, str]] = [
    ("rlvr/Arithmetic-v0", "rlvr/Arithmetic-v1"),
    ("rlvr/Algebra-v0", "rlvr/Algebra-v1"),
    ("rlvr/GSM8K-v0", "rlvr/GSM8K-v1"),
    ("rlvr/MATH500-v0", "rlvr/MATH500-v1"),
]


def register_builtins() -> None:
    """Register every built-in environment (idempotent)."""
    import gymnasium as gym

    from .tools import TOOL_ENVS

    for env_id, entry_point, category, tasks, description in BUILTINS + TOOL_ENVS:
        if env_id not in gym.registry:
            register(env_id, entry_point, description=description, tasks=tasks, category=category)
    by_id = {row[0]: row for row in BUILTINS}
    for old_id, new_id in SUPERSEDED:
        if old_id not in gym.registry:
            _, entry_point, category, tasks, description = by_id[new_id]
            kwargs: dict = dict(V0_GRADING)
            if new_id == "rlvr/MATH500-v1":
                kwargs["reject_echo"] = False
            register(
                old_id,
                entry_point,
                description=f"{description} [v0 grading: any answer form; see {new_id}]",
                tasks=tasks,
                category=category,
                kwargs=kwargs,
            )
