import copy
import json
import math
import pickle

import pytest

from rlvr_envs import Seconds, Status, Verdict


def test_make_defaults_reward_from_status():
    assert Verdict.make(Status.CORRECT).reward == 1.0
    assert Verdict.make("wrong").reward == 0.0
    assert Verdict.make("wrong", reward=0.25).reward == 0.25


def test_correct_is_derived_from_status():
    assert Verdict.make(Status.CORRECT).correct
    assert not Verdict.make(Status.WRONG, reward=1.0).correct


def test_unknown_status_is_rejected():
    with pytest.raises(ValueError):
        Verdict.make("maybe")


@pytest.mark.parametrize("reward", [math.nan, math.inf, -math.inf])
def test_non_finite_reward_is_rejected(reward):
    with pytest.raises(ValueError, match="finite"):
        Verdict(reward=reward, status=Status.WRONG)


def test_to_dict_is_json_and_round_trips():
    verdict = Verdict.make(
        Status.WRONG,
        "off by one",
        extracted=("1", 2),
        expected="3",
        elapsed_s=0.5,
        components={"math": 0.0},
        details={"stage": Status.TIMEOUT, "nan": math.nan},
    )
    data = verdict.to_dict()
    json.dumps(data)
    assert data["correct"] is False and data["status"] == "wrong"
    assert data["extracted"] == ["1", 2]
    assert data["details"] == {"stage": "timeout", "nan": "nan"}
    back = Verdict.from_dict(data)
    assert back.status is Status.WRONG and back.reason == "off by one"
    assert back.components == {"math": 0.0}


def test_seconds_compare_equal_to_each_other_but_act_as_floats():
    assert Seconds(0.1) == Seconds(0.2)
    assert not (Seconds(0.1) != Seconds(0.3))
    assert Seconds(0.1) != 0.2 and Seconds(0.1) == 0.1
    assert Seconds(0.1) < 0.2
    assert json.loads(json.dumps({"t": Seconds(0.25)})) == {"t": 0.25}
    assert isinstance(copy.deepcopy(Seconds(1.5)), Seconds)
    assert pickle.loads(pickle.dumps(Seconds(1.5))) == 1.5


def test_verdicts_differing_only_in_timing_are_equal():
    a = Verdict.make(Status.CORRECT, elapsed_s=0.001)
    b = Verdict.make(Status.CORRECT, elapsed_s=0.5)
    assert a == b
    assert a.to_dict() == b.to_dict()
    assert a != Verdict.make(Status.WRONG, elapsed_s=0.001)


def test_replace_keeps_other_fields():
    v = Verdict.make(Status.WRONG, "x", expected="3").replace(reward=0.5)
    assert v.reward == 0.5 and v.reason == "x" and v.expected == "3"
