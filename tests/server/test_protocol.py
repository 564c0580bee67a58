"""The wire format alone: encoding results and decoding them (ours and other servers')."""

from __future__ import annotations

import json

from rlvr_envs.server import protocol
from rlvr_envs.spaces import ChatMessages, UnicodeText
from rlvr_envs.verdict import Seconds, Status, Verdict


def test_a_step_round_trips_with_its_verdict():
    verdict = Verdict.make(Status.WRONG, "no", elapsed_s=0.25).to_dict()
    info = {
        "verdict": verdict,
        "reward_components": {"math": 0.0},
        "task_id": "t",
        "turn": 2,
        "extra": (1, 2),
    }
    payload = json.loads(json.dumps(protocol.step_payload("p", 0.0, False, True, info)))
    assert payload["done"] is True and payload["observation"]["truncated"] is True
    observation, reward, terminated, truncated, decoded = protocol.decode_result(payload)
    assert (observation, reward, terminated, truncated) == ("p", 0.0, False, True)
    assert decoded == {**info, "extra": [1, 2]}
    assert isinstance(decoded["verdict"]["elapsed_s"], Seconds)


def test_a_reset_has_no_reward_and_keeps_chat_prompts():
    messages = [{"role": "user", "content": "hi"}]
    payload = protocol.reset_payload(messages, {"task_id": "t", "turn": 0, "metadata": {}})
    assert payload["reward"] is None and payload["done"] is False
    observation, reward, terminated, truncated, info = protocol.decode_result(payload)
    assert observation == messages and reward is None and not terminated and not truncated
    assert info == {"task_id": "t", "turn": 0, "metadata": {}}


def test_another_servers_observation_becomes_its_json_text():
    payload = {"observation": {"echoed_message": "hi", "length": 2}, "reward": 1, "done": True}
    observation, reward, terminated, truncated, info = protocol.decode_result(payload)
    assert json.loads(observation) == {"echoed_message": "hi", "length": 2}
    assert reward == 1.0 and terminated and not truncated
    assert info == {"observation": {"echoed_message": "hi", "length": 2}}


def test_spaces_are_described_and_rebuilt():
    chat = ChatMessages(max_messages=4, max_length=100)
    rebuilt = protocol.space_from_description(protocol.describe_space(chat), 10)
    assert isinstance(rebuilt, ChatMessages) and rebuilt.max_messages == 4
    text = protocol.space_from_description(protocol.describe_space(UnicodeText(50)), 10)
    assert isinstance(text, UnicodeText) and text.max_length == 50
    assert protocol.space_from_description(None, 10).max_length == 10


def test_the_cli_and_the_client_import_no_web_framework():
    import subprocess
    import sys

    code = (
        "import sys, rlvr_envs, rlvr_envs.cli, rlvr_envs.remote\n"
        "rlvr_envs.cli.build_parser()\n"
        "heavy = [m for m in ('fastapi', 'uvicorn', 'starlette', 'pydantic') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
