"""Built-in environments, registered under the Gymnasium namespace ``rlvr`` on import."""

from __future__ import annotations

from ..registry import register

# id, entry point, category, tasks, description
BUILTINS: list[tuple[str, str, str, str, str]] = [
    (
        "rlvr/Arithmetic-v0",
        "rlvr_envs.envs.math:arithmetic",
        "math",
        "procedural",
        "Seeded arithmetic, from one-digit sums (level 1) to multi-step expressions (level 5)",
    ),
    (
        "rlvr/Algebra-v0",
        "rlvr_envs.envs.math:algebra",
        "math",
        "procedural",
        "Seeded linear and quadratic equations, expansion and evaluation (sympy)",
    ),
    (
        "rlvr/GSM8K-v0",
        "rlvr_envs.envs.math:gsm8k",
        "math",
        "1319",
        "Grade-school math word problems (openai/gsm8k, test split)",
    ),
    (
        "rlvr/MATH500-v0",
        "rlvr_envs.envs.math:math500",
        "math",
        "500",
        "Competition math, the MATH-500 subset (HuggingFaceH4/MATH-500)",
    ),
]


def register_builtins() -> None:
    """Register every built-in environment (idempotent)."""
    import gymnasium as gym

    for env_id, entry_point, category, tasks, description in BUILTINS:
        if env_id not in gym.registry:
            register(env_id, entry_point, description=description, tasks=tasks, category=category)
