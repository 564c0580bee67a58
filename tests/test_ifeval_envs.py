"""rlvr/IFEval-v0, rlvr/InstructionFollowing-v1 and rlvr/JSONFormat-v0."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlvr_envs  # noqa: F401 - registers the environments
from rlvr_envs.data import DataError
from rlvr_envs.envs.instruction_solutions import PROCEDURAL_LANGUAGES, SENTENCES
from rlvr_envs.envs.instructions import (
    ALL_IDS,
    CONFLICTS,
    compatible,
    instruction_task,
    json_task,
    perturb_json_answer,
)
from rlvr_envs.verifiers.ifeval import INSTRUCTION_IDS, detect_language, parse_instruction_list
from rlvr_envs.verifiers.json_output import verify_json

# Rows in IFEval's layout; the second pads kwargs with None like the hub's union schema does.
ROWS = [
    {
        "key": 1,
        "prompt": "Write a haiku about rain. Do not use any commas.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    },
    {
        "key": 2,
        "prompt": "Describe a river in at least 5 words and include the word bridge.",
        "instruction_id_list": ["length_constraints:number_words", "keywords:existence"],
        "kwargs": [
            {"num_words": 5, "relation": "at least", "keywords": None, "language": None},
            {"keywords": ["bridge"], "num_words": None, "relation": None},
        ],
    },
    {
        "key": 3,
        "prompt": "Write two lines. Wrap your entire response with double quotation marks.",
        "instruction_id_list": ["startend:quotation"],
        "kwargs": [{"end_phrase": None}],
    },
]


def _write(tmp_path, rows, name="ifeval_rows.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _reward(env, task_id, completion):
    env.reset(options={"task_id": task_id})
    return env.step(completion)[1]


# --- rlvr/IFEval-v0 -----------------------------------------------------------------------------


def test_ifeval_from_a_local_file(tmp_path):
    env = gym.make("rlvr/IFEval-v0", data_path=_write(tmp_path, ROWS))
    assert env.unwrapped.source.num_tasks == 3
    obs, info = env.reset(options={"task_id": "ifeval/2"})
    assert obs == ROWS[1]["prompt"]
    _, reward, terminated, _, info = env.step("The river flows under the old stone bridge.")
    assert reward == 1.0 and terminated
    assert info["reward_components"] == {"ifeval": 1.0}
    assert [r["followed"] for r in info["verdict"]["details"]["instructions"]] == [True, True]
    assert _reward(env, "ifeval/2", "The river flows.") == 0.0
    assert _reward(env, "ifeval/1", "Rain taps the roof\nsoft and slow") == 1.0
    assert _reward(env, "ifeval/1", "Rain taps, the roof") == 0.0


def test_ifeval_modes_and_rewards(tmp_path):
    path = _write(tmp_path, ROWS)
    response = 'Here you go:\n"Line one\nline two"'
    strict = gym.make("rlvr/IFEval-v0", data_path=path)
    loose = gym.make("rlvr/IFEval-v0", data_path=path, mode="loose")
    assert _reward(strict, "ifeval/3", response) == 0.0
    assert _reward(loose, "ifeval/3", response) == 1.0
    partial = gym.make("rlvr/IFEval-v0", data_path=path, reward="instruction")
    assert _reward(partial, "ifeval/2", "One bridge.") == 0.5


@pytest.mark.parametrize("chat", [False, True])
def test_ifeval_passes_check_env(tmp_path, chat):
    env = gym.make("rlvr/IFEval-v0", data_path=_write(tmp_path, ROWS), chat=chat)
    check_env(env.unwrapped, skip_render_check=True)


def test_ifbench_rows_are_reported_at_load_time(shared_data):
    path = shared_data / "ifbench_test.jsonl"
    with pytest.raises(DataError) as error:
        gym.make("rlvr/IFEval-v0", data_path=path)
    message = str(error.value)
    assert "300 of 300 rows cannot be checked" in message
    assert "unknown instruction id 'sentence:keyword'" in message
    assert "skip_unsupported=True" in message
    with pytest.warns(UserWarning, match="cannot be checked"):
        with pytest.raises(DataError, match="none of the 300 rows"):
            gym.make("rlvr/IFEval-v0", data_path=path, skip_unsupported=True)


def test_unsupported_rows_can_be_skipped_with_a_warning(tmp_path, shared_data):
    lines = (shared_data / "ifbench_test.jsonl").read_text(encoding="utf-8").splitlines()
    ifbench = [json.loads(line) for line in lines[:5]]
    for row in ifbench:
        row["key"] = f"b{row['key']}"
    path = _write(tmp_path, ROWS + ifbench)
    with pytest.raises(DataError, match="5 of 8 rows"):
        gym.make("rlvr/IFEval-v0", data_path=path)
    with pytest.warns(UserWarning, match="5 of 8 rows cannot be checked"):
        env = gym.make("rlvr/IFEval-v0", data_path=path, skip_unsupported=True)
    assert env.unwrapped.source.num_tasks == 3


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"instruction_id_list": ["keywords:existence"], "kwargs": [{"keyword": "x"}]},
            "unknown argument",
        ),
        (
            {
                "instruction_id_list": ["length_constraints:number_words"],
                "kwargs": [{"num_words": 5, "relation": "about"}],
            },
            "relation",
        ),
        (
            {"instruction_id_list": ["punctuation:no_comma", "startend:quotation"], "kwargs": [{}]},
            "kwargs entries",
        ),
        ({"instruction_id_list": "punctuation:no_comma", "kwargs": [{}]}, "malformed row"),
        ({"instruction_id_list": None, "kwargs": [{}]}, "malformed row"),
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": ["x"]}, "malformed row"),
    ],
)
def test_unusable_arguments_fail_at_load_time(tmp_path, row, message):
    path = _write(tmp_path, ROWS + [{"key": 9, "prompt": "p", **row}])
    with pytest.raises(DataError, match=message):
        gym.make("rlvr/IFEval-v0", data_path=path)


def test_rows_without_the_ifeval_fields_are_rejected(tmp_path):
    path = _write(tmp_path, [{"key": 1, "prompt": "p", "instructions": []}])
    with pytest.raises(DataError, match="instruction_id_list"):
        gym.make("rlvr/IFEval-v0", data_path=path)


# --- rlvr/InstructionFollowing-v1 ---------------------------------------------------------------


def test_generated_tasks_are_valid_compatible_and_varied():
    rng = np.random.default_rng(0)
    seen: set[str] = set()
    for _ in range(600):
        task = instruction_task(rng, 1, 4)
        ids = task.answer["instruction_id_list"]
        assert 1 <= len(ids) <= 4 and len(set(ids)) == len(ids)
        assert compatible(ids)
        parse_instruction_list(ids, task.answer["kwargs"])  # raises when an argument is bad
        for iid, kwargs in zip(ids, task.answer["kwargs"]):
            if iid == "combination:repeat_prompt":
                assert task.prompt.startswith(kwargs["prompt_to_repeat"])
                assert ids[-1] == iid
        if "detectable_format:constrained_response" in ids:
            assert ids == ["detectable_format:constrained_response"]
            assert task.prompt.startswith(task.metadata["request"])
            assert task.metadata["request_kind"] == "yes/no"
        seen.update(ids)
    assert seen == set(INSTRUCTION_IDS)


def test_every_generated_task_has_a_verified_reference_and_known_wrong_answers():
    env = gym.make("rlvr/InstructionFollowing-v1", max_instructions=4).unwrapped
    rng = np.random.default_rng(3)
    for task in env.source.take(300, seed=11):
        assert env.verify(task.solution, task).correct, (task.prompt, task.solution)
        wrong = env.perturb(task, rng)
        assert len(wrong) > len(task.answer["instruction_id_list"])  # and the request broken
        for completion in wrong:
            verdict = env.verify(completion, task)
            assert verdict.reward == 0.0, (task.answer, completion)


def test_languages_with_reference_sentences_are_identified():
    for code in PROCEDURAL_LANGUAGES:
        assert detect_language(" ".join(SENTENCES[code])) == code
    assert detect_language(" ".join(SENTENCES["en"])) == "en"


def test_conflict_table_is_symmetric():
    assert set(ALL_IDS) == set(INSTRUCTION_IDS)
    for a, others in CONFLICTS.items():
        assert a in others
        for b in others:
            assert a in CONFLICTS[b]


def test_instruction_following_env(tmp_path):
    env = gym.make("rlvr/InstructionFollowing-v1", max_instructions=2)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=5)
    again = gym.make("rlvr/InstructionFollowing-v1", max_instructions=2)
    assert again.reset(seed=5)[0] == obs
    assert again.reset(options={"task_id": info["task_id"]})[0] == obs
    assert info["task_id"].startswith("instructions/1-2:")
    _, reward, terminated, _, step_info = env.step("")
    assert reward == 0.0 and terminated
    assert step_info["verdict"]["status"] == "no_answer"


def test_instruction_following_scores_an_injected_task():
    env = gym.make("rlvr/InstructionFollowing-v1").unwrapped
    injected = {
        "prompt": "Write about rivers. Do not use any commas.",
        "answer": {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
    }
    env.reset(options={"task": injected})
    assert env.step("Rivers run to the sea.")[1] == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_instructions": 0},
        {"max_instructions": 9},
        {"min_instructions": 3, "max_instructions": 2},
    ],
)
def test_instruction_following_bad_settings(kwargs):
    with pytest.raises(ValueError):
        gym.make("rlvr/InstructionFollowing-v1", **kwargs)


# --- rlvr/JSONFormat-v0 -------------------------------------------------------------------------


def test_json_references_pass_and_perturbations_fail():
    rng = np.random.default_rng(1)
    for depth in (0, 1, 2):
        for _ in range(100):
            task = json_task(rng, 1, 8, depth)
            schema = task.answer["schema"]
            assert verify_json(task.solution, schema).correct
            assert verify_json(f"```json\n{task.solution}\n```", schema).correct
            for wrong in perturb_json_answer(task, rng):
                assert not verify_json(wrong, schema).correct, wrong
            assert json.dumps(schema, indent=2) in task.prompt


def test_json_format_env():
    env = gym.make("rlvr/JSONFormat-v0")
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    task = env.unwrapped.task
    _, reward, terminated, _, step_info = env.step(task.solution)
    assert reward == 1.0 and terminated
    assert step_info["reward_components"] == {"json": 1.0}
    env.reset(seed=3)
    _, reward, _, _, step_info = env.step("{}")
    assert reward == 0.0 and step_info["verdict"]["status"] == "wrong"
    env.reset(seed=3)
    assert env.step("not json")[4]["verdict"]["status"] == "format_error"


@pytest.mark.parametrize("kwargs", [{"min_properties": 0}, {"max_properties": 999}, {"depth": 4}])
def test_json_format_bad_settings(kwargs):
    with pytest.raises(ValueError):
        gym.make("rlvr/JSONFormat-v0", **kwargs)
