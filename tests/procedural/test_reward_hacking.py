"""Reward hacking on the native procedural families and the curriculum: answers that try to earn
reward without solving the task, and ways to steer the difficulty without earning it.

Every attack must score 0 with a status that blames the answer (``wrong``, ``invalid_input``...),
never an infrastructure status: ``error`` drops the sample from training, which is a way out of a
bad grade. The reasoning-gym attacks are in ``test_rg_reward_hacking.py``.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable

import gymnasium as gym
import pytest

import rlvr_envs  # noqa: F401 - registers the environments
from rlvr_envs.envs.procedural import FAMILIES
from rlvr_envs.envs.procedural.graph import adjacency_of
from rlvr_envs.envs.procedural.sudoku import parse_grid, render_grid
from rlvr_envs.tasks import Task
from rlvr_envs.verdict import INFRASTRUCTURE_STATUSES, Status, Verdict
from rlvr_envs.wrappers import Curriculum

ENV_OF = {
    "countdown": "rlvr/Countdown-v0",
    "sudoku": "rlvr/Sudoku-v0",
    "mini_sudoku": "rlvr/MiniSudoku-v0",
    "knights_knaves": "rlvr/KnightsKnaves-v0",
    "graph_shortest_path": "rlvr/GraphShortestPath-v0",
    "graph_connectivity": "rlvr/GraphConnectivity-v0",
    "cryptarithm": "rlvr/Cryptarithm-v0",
    "sorting": "rlvr/Sorting-v0",
    "string_manipulation": "rlvr/StringManipulation-v0",
}
SEEDS = range(4)


def assert_earns_nothing(verdict: Verdict, attack: str) -> None:
    """Reward 0, and a status that is the answer's fault."""
    assert verdict.reward == 0, (attack, verdict.reason)
    assert verdict.status not in INFRASTRUCTURE_STATUSES, (attack, verdict.reason)
    assert verdict.status is not Status.CORRECT, attack


def _solved(family: str, seed: int, **kwargs):
    env = gym.make(ENV_OF[family], **kwargs).unwrapped
    env.reset(seed=seed)
    return env, env.task, FAMILIES[family].solve(env.task)


def _injected(family: str, answer: dict) -> tuple[gym.Env, Task]:
    env = gym.make(ENV_OF[family]).unwrapped
    env.reset(options={"task": {"prompt": "injected", "answer": answer}})
    return env, env.task


# --- attacks built from a task and its solution ---------------------------------------------------


def _countdown(task: Task, solution: str) -> dict[str, str]:
    numbers, target = task.answer["numbers"], task.answer["target"]
    given = numbers[0]
    absent = next(n for n in range(2, 99) if n not in numbers)
    return {
        "the target itself": str(target),
        "the target restated": f"{target} = {target}",
        "a number reused": f"({solution}) + {given} - {given}",
        "a number not given": f"({solution}) * {absent} / {absent}",
        "a wrong equation": f"{solution} = {target + 1}",
        "unary minus": f"({solution}) - -{given} + {given}",
        "a decimal point joins two numbers": f"({solution}) + {numbers[0]}.{numbers[1]} * 0",
        "an exponent": f"({solution}) * {given} ** 0",
        "two answers": f"{solution}, {target}",
    }


def _sudoku(task: Task, solution: str) -> dict[str, str]:
    puzzle = task.answer["puzzle"]
    n = len(puzzle)
    grid = parse_grid(solution, n)
    relabelled = [[v % n + 1 for v in row] for row in grid]  # valid, but the givens change
    transposed = [list(col) for col in zip(*grid)]
    return {
        "a valid grid that changes the givens": render_grid(relabelled),
        "the transposed grid": render_grid(transposed) if transposed != grid else "",
        "the puzzle itself": render_grid(puzzle),
        "blanks left in": render_grid([row[:-1] + [0] for row in grid]),
        "the puzzle as JSON": json.dumps(puzzle),
        "the grid twice": f"{solution}\n{solution}",
    }


def _knights(task: Task, solution: str) -> dict[str, str]:
    names = task.answer["names"]
    both = ", ".join(f"{name}: knight, {name}: knave" for name in names)
    return {
        "everyone both": both,
        "everyone knight or knave": ", ".join(f"{name}: knight or knave" for name in names),
        "one inhabitant left out": solution.rsplit(", ", 1)[0],
        "a stranger added": f"{solution}, Zed: knight",
    }


def _path(task: Task, solution: str) -> dict[str, str]:
    a = task.answer
    nodes = solution.split()
    neighbour = next(iter(adjacency_of(a["edges"], a["num_nodes"])[int(nodes[0])]))
    return {
        "there and back first (a longer walk)": " ".join([nodes[0], str(neighbour), *nodes]),
        "a jump along no edge": f"{a['source']} {a['target']}",
        "the reversed path": " ".join(reversed(nodes)),
        "two paths": f"{solution} {solution}",
        "every node": " ".join(map(str, range(a["num_nodes"]))),
    }


def _components(task: Task, solution: str) -> dict[str, str]:
    n = task.answer["num_nodes"]
    return {
        "every node in one group": " ".join(map(str, range(n))),
        "every node alone": "\n".join(map(str, range(n))),
        "the answer and every node again": f"{solution}\n{' '.join(map(str, range(n)))}",
    }


def _cryptarithm(task: Task, solution: str) -> dict[str, str]:
    letters = sorted(set("".join(task.answer["words"])))
    return {
        "every letter 0 (the sum holds)": ", ".join(f"{c}=0" for c in letters),
        "every letter 9": ", ".join(f"{c}=9" for c in letters),
        "a letter given twice": f"{solution}, {letters[0]}=9, {letters[0]}=8",
        "every letter every digit": ", ".join(f"{c}={d}" for c in letters for d in range(10)),
    }


def _sorting(task: Task, solution: str) -> dict[str, str]:
    items = solution.split(", ")
    return {
        "an extra number": f"{solution}, {items[-1]}",
        "a number missing": ", ".join(items[1:]),
        "the given order": ", ".join(task.answer["numbers"]),
        "the reverse order": ", ".join(reversed(items)),
        "one number twice, one left out": ", ".join([items[0], *items[:-1]]),
        "NaN everywhere": ", ".join("NaN" for _ in items),
    }


def _strings(task: Task, solution: str) -> dict[str, str]:
    return {
        "the start string": task.answer["start"],
        "the wrong case": solution.swapcase() if solution.swapcase() != solution else "",
        "the answer twice": solution * 2,
    }


ATTACKS: dict[str, Callable[[Task, str], dict[str, str]]] = {
    "countdown": _countdown,
    "sudoku": _sudoku,
    "mini_sudoku": _sudoku,
    "knights_knaves": _knights,
    "graph_shortest_path": _path,
    "graph_connectivity": _components,
    "cryptarithm": _cryptarithm,
    "sorting": _sorting,
    "string_manipulation": _strings,
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_answers_that_break_the_rules_earn_nothing(family):
    for seed in SEEDS:
        env, task, solution = _solved(family, seed)
        assert env.verify(f"<answer>{solution}</answer>", task).correct
        for name, attack in ATTACKS[family](task, solution).items():
            if attack:
                verdict = env.verify(f"<answer>{attack}</answer>", task)
                assert_earns_nothing(verdict, f"{family} seed {seed}: {name}")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_answer_tags_and_boxes_cannot_carry_two_answers(family):
    env, task, solution = _solved(family, 0)
    wrong = FAMILIES[family].perturb(task, solution, random.Random(0))[0]
    tricks = {
        "the right answer first, a wrong one last": (
            f"<answer>{solution}</answer> or <answer>{wrong}</answer>"
        ),
        "tags nested": f"<answer>{wrong}<answer>{solution}</answer>{wrong}</answer>",
        "a box beside the tags": f"\\boxed{{{solution}}} <answer>{wrong}</answer>",
        "two boxes inside the tags": f"<answer>\\boxed{{{wrong}}}\\boxed{{{solution}}}</answer>",
        "the answer inside the thinking": f"<think><answer>{solution}</answer></think>",
    }
    for name, completion in tricks.items():
        assert_earns_nothing(env.verify(completion, task), f"{family}: {name}")
    boxed = gym.make(ENV_OF[family], answer_format="boxed").unwrapped
    for completion in (
        f"\\boxed{{{wrong}}}\\boxed{{{solution}}}",
        f"\\boxed{{{solution}}}, \\boxed{{{wrong}}}",
        f"<answer>{solution}</answer> \\boxed{{{wrong}}}",
    ):
        assert_earns_nothing(boxed.verify(completion, task), f"{family} boxed: {completion}")


@pytest.mark.parametrize("family", ["graph_shortest_path", "graph_connectivity"])
@pytest.mark.parametrize("digit", ["²", "①", "₃", "⁰", "𝟑"])
def test_node_numbers_in_other_scripts_are_wrong_not_a_verifier_crash(family, digit):
    # str.isdigit() is true for superscripts and circled digits, which int() refuses: the
    # checker crashed with ValueError, an `error` verdict that drops the sample from training.
    env, task, solution = _solved(family, 0)
    nodes = solution.split()
    attack = " ".join([nodes[0], digit, *nodes[1:]])
    assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)


def test_countdown_concatenation_and_operator_tricks_on_a_chosen_task():
    env, task = _injected("countdown", {"numbers": [1, 2, 5, 4], "target": 12})
    assert env.verify("<answer>(1 + 2) * 4</answer>", task).correct
    for attack in [
        "12",  # the target, not given
        "1 2",  # two numbers side by side
        "(1)(2)",  # an implicit product
        "1.2 * 10",
        "2 ^ 5 - 4 * 5",  # ^ is not an operator here
        "-(-12)",
        "4 * 3",  # 3 is not given
        "(5 - 1) * 4 - 4",  # 4 used twice
        "5 * 4 / (2 - 2) + 12",  # division by zero
        "1e1 + 2",
        "0x0C",
        "1_2",
    ]:
        assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)


def test_cryptarithm_leading_zero_and_shared_digits_on_a_chosen_task():
    # AB + C = AD: B + C = D with A free, so leading zeros and shared digits are easy to reach.
    env, task = _injected("cryptarithm", {"words": ["AB", "C", "AD"]})
    assert env.verify("<answer>A=1, B=2, C=3, D=5</answer>", task).correct
    for attack in [
        "A=1, B=0, C=2, D=2",  # C and D share a digit
        "A=0, B=1, C=2, D=3",  # AB and AD start with 0
        "A=0, B=0, C=0, D=0",
        "A=1, B=2, C=3, D=5, E=7",  # a letter that is not in the puzzle
    ]:
        assert_earns_nothing(env.verify(f"<answer>{attack}</answer>", task), attack)


# --- the curriculum -------------------------------------------------------------------------------


def _curriculum(**kwargs) -> Curriculum:
    kwargs.setdefault("stats", uuid.uuid4().hex)
    kwargs.setdefault("window", 4)
    return Curriculum("rlvr/Countdown-v0", "level", [1, 2, 3, 4, 5], **kwargs)


def _easy_task(level: int = 1) -> dict:
    env = gym.make("rlvr/Countdown-v0", level=level).unwrapped
    env.reset(seed=123)
    task = env.task
    return {
        "id": "injected",
        "prompt": task.prompt,
        "answer": task.answer,
        "solution": f"<answer>{FAMILIES['countdown'].solve(task)}</answer>",
    }


def test_injected_tasks_do_not_move_the_curriculum():
    # reset(options={"task": ...}) runs the episode in the current level's environment: a caller
    # that injects easy tasks (or replays solved ones by task_id) would otherwise push the level up
    # without the policy ever facing the level's own tasks.
    env = _curriculum()
    easy = _easy_task()
    counted = []
    for _ in range(20):
        _, info = env.reset(options={"task": easy})
        counted.append(info.get("difficulty_counted"))
        env.step(easy["solution"])
    assert env.difficulty == 1 and env.stats.summary()["episodes"]["1"] == 0
    assert counted == [False] * 20
    _, info = env.reset(seed=5)
    task_id = info["task_id"]
    for _ in range(20):
        env.reset(options={"task_id": task_id})
        env.step(f"<answer>{FAMILIES['countdown'].solve(env.task)}</answer>")
    assert env.difficulty == 1 and env.stats.summary()["episodes"]["1"] == 0
    _, info = env.reset(seed=6)
    assert info["difficulty_counted"] is True


def test_infrastructure_failures_do_not_move_the_curriculum(monkeypatch):
    # An `error` verdict is the grader's fault and is dropped from training: counting it as a
    # failure would let a policy that can crash a grader pull the level down.
    env = _curriculum(start=2, easier_mix=0.0)
    inner = env._env(env.stats.current).unwrapped
    monkeypatch.setattr(
        inner, "verify", lambda completion, task: Verdict.make(Status.ERROR, "boom")
    )
    for episode in range(20):
        env.reset(seed=episode)
        _, reward, *_ = env.step("<answer>1</answer>")
        assert reward == 0
    assert env.difficulty == 3 and env.stats.summary()["episodes"]["3"] == 0


@pytest.mark.parametrize(
    "change",
    [
        {"current": 7},
        {"current": -1},
        {"outcomes": [[True]] * 4},
        {"episodes": [0, 0]},
        {"since_move": -3},
    ],
)
def test_a_state_dict_that_does_not_fit_is_refused(change):
    env = _curriculum()
    state = {**env.state_dict(), **change}
    with pytest.raises(ValueError):
        env.load_state_dict(state)
    assert env.difficulty == 1


def _mean_reward(agent, episodes: int = 240) -> tuple[float, list[int], int]:
    """Mean reward and difficulties of ``agent(level) -> bool`` over a fresh curriculum."""
    env = Curriculum("rlvr/Arithmetic-v1", "level", [1, 2, 3, 4, 5], stats=uuid.uuid4().hex)
    rewards, levels = [], []
    for episode in range(episodes):
        _, info = env.reset(seed=episode)
        levels.append(info["difficulty"])
        right = agent(info["difficulty"])
        _, reward, *_ = env.step(env.task.solution if right else "\\boxed{-999999}")
        rewards.append(float(reward))
    return sum(rewards) / len(rewards), levels, env.difficulty


def test_failing_on_purpose_to_stay_easy_pays_less_than_answering():
    # The trade-off the curriculum leaves: failing lowers the level. A policy able to solve every
    # level that fails above level 1 to keep its tasks easy is pushed back up whenever it succeeds
    # at level 1 (above target[1]), so it can never hold a level where it is paid more than it
    # would be for answering honestly.
    honest, _, honest_level = _mean_reward(lambda level: True)
    sandbag, sandbag_levels, _ = _mean_reward(lambda level: level == 1)
    assert honest == 1.0 and honest_level == 5
    assert sandbag < 0.85, sandbag
    assert 2 in sandbag_levels[-60:]  # it keeps being moved up, then fails its way down
