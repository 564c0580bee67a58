"""Native procedural families whose checkers need no reference answer.

Each family (:class:`~.common.Family`) has difficulty knobs with ``level`` presets 1-5, a seeded
generator, a checker that verifies the completion itself with bounded parsers, and a solver that
only ``rlvr-envs check`` and the tests use. ``gym.make("rlvr/Countdown-v0", level=4)`` picks a
preset; knob keywords (``num_numbers=6``) override it; ``answer_format="boxed"`` asks for
``\\boxed{}`` instead of ``<answer>`` tags.
"""

from __future__ import annotations

from typing import Any

from ...env import TextEnv
from .common import ANSWER_FORMATS, Family, family_env
from .countdown import COUNTDOWN
from .cryptarithm import CRYPTARITHM
from .graph import CONNECTIVITY, SHORTEST_PATH
from .knights_knaves import KNIGHTS_KNAVES
from .sorting import SORTING
from .strings import STRING_MANIPULATION
from .sudoku import MINI_SUDOKU, SUDOKU

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        COUNTDOWN,
        SUDOKU,
        MINI_SUDOKU,
        KNIGHTS_KNAVES,
        SHORTEST_PATH,
        CONNECTIVITY,
        CRYPTARITHM,
        SORTING,
        STRING_MANIPULATION,
    )
}


def make_family_env(family: str, **kwargs: Any) -> TextEnv:
    """The entry point of every native family's registered id."""
    return family_env(FAMILIES[family], **kwargs)


__all__ = ["ANSWER_FORMATS", "FAMILIES", "Family", "family_env", "make_family_env"]
