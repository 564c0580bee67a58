"""Built-in environments, registered under the Gymnasium namespace ``rlvr`` on import."""

from __future__ import annotations

import importlib.util

from ..integrations import rg_catalog
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
        "rlvr/InstructionFollowing-v1",
        "rlvr_envs.envs.instructions:instruction_following",
        "format",
        "procedural",
        "Seeded requests, each with a check of its own content, and compatible IFEval-style instructions, for training",
    ),
    (
        "rlvr/JSONFormat-v0",
        "rlvr_envs.envs.instructions:json_format",
        "format",
        "procedural",
        "Produce a JSON object that matches a random JSON Schema given in the prompt",
    ),
]

# id, family (rlvr_envs.envs.procedural.FAMILIES), description
NATIVE_ENVS: list[tuple[str, str, str]] = [
    ("rlvr/Countdown-v0", "countdown", "Reach a target with given numbers and + - * / (Countdown)"),
    ("rlvr/Sudoku-v0", "sudoku", "9x9 sudoku; any valid completion that keeps the givens"),
    ("rlvr/MiniSudoku-v0", "mini_sudoku", "4x4 and 6x6 sudoku; any valid completion"),
    ("rlvr/KnightsKnaves-v0", "knights_knaves", "Knights and knaves logic puzzles (one solution)"),
    ("rlvr/GraphShortestPath-v0", "graph_shortest_path", "Shortest path, checked on the graph"),
    ("rlvr/GraphConnectivity-v0", "graph_connectivity", "Connected components of a graph"),
    ("rlvr/Cryptarithm-v0", "cryptarithm", "Letter sums such as SEND + MORE = MONEY"),
    ("rlvr/Sorting-v0", "sorting", "Sort numbers; checked as an ordered permutation"),
    ("rlvr/StringManipulation-v0", "string_manipulation", "Apply a chain of string edits"),
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
    for env_id, family, description in NATIVE_ENVS:
        if env_id not in gym.registry:
            register(
                env_id,
                "rlvr_envs.envs.procedural:make_family_env",
                description=description,
                tasks="procedural",
                category="reasoning",
                kwargs={"family": family},
            )
    if "rlvr/Curriculum-v0" not in gym.registry:
        register(
            "rlvr/Curriculum-v0",
            "rlvr_envs.wrappers.curriculum:make_curriculum",
            description="Adaptive curriculum over env_id's param (default: Arithmetic levels 1-5)",
            tasks="procedural",
            category="curriculum",
        )
    register_reasoning_gym()


def register_reasoning_gym() -> None:
    """Register ``rlvr/rg-<name>-v0`` for reasoning-gym's generators, when it is installed.

    Looking the package up does not import it (that takes seconds), so ``import rlvr_envs``
    stays fast; each environment imports it when made.
    """
    import gymnasium as gym

    if importlib.util.find_spec("reasoning_gym") is None:
        return
    for name in rg_catalog.REGISTERED:
        env_id = rg_catalog.env_id(name)
        if env_id not in gym.registry:
            register(
                env_id,
                "rlvr_envs.integrations.reasoning_gym:reasoning_gym_env",
                description=f"reasoning-gym's {name} generator, scored by its score_answer",
                tasks="procedural",
                category="reasoning-gym",
                kwargs={"name": name},
            )
