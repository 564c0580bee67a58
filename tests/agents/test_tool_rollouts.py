"""Tool episodes are one token stream: sampled tokens (loss mask 1) then only the tokens of what
the environment added (tool results, mask 0), never re-tokenising earlier turns; the same with
HFAgent's chat template rendering the tools."""

from __future__ import annotations

import gymnasium as gym
import pytest
from transformers import AutoTokenizer

import rlvr_envs  # noqa: F401
from agents.tiny import build_tiny_model
from rlvr_envs.rollout import collect_rollouts
from rlvr_envs.rollout.demonstration import demonstration_stream
from rlvr_envs.rollout.tokens import encode_text, render_chat

from .tool_agents import ScriptedToolAgent


@pytest.fixture(scope="module")
def tool_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-tools"), arch="qwen2", tools=True)


@pytest.fixture(scope="module")
def tok(tool_model):
    return AutoTokenizer.from_pretrained(tool_model)


@pytest.mark.parametrize("chat", [True, False], ids=["chat", "text"])
def test_tool_episode_is_one_token_exact_stream(tok, chat: bool) -> None:
    agent = ScriptedToolAgent(tok)
    batch = collect_rollouts(
        agent,
        "rlvr/Arithmetic-Calculator-v1",
        num_tasks=3,
        group_size=2,
        seed=11,
        env_kwargs={"chat": chat},
        mode="tokens",
    )
    env = gym.make("rlvr/Arithmetic-Calculator-v1", chat=chat)
    for episode in batch:
        assert episode.correct and episode.num_turns == 2, episode.verdicts
        assert episode.tool_use["calls"] == 1 and episode.tool_use["ok"] == 1
        ids, mask = episode.token_ids, episode.loss_mask
        assert len(ids) == len(mask) == len(episode.logprobs)
        sampled = [t for t, m in zip(ids, mask) if m]
        expected = []
        for text in episode.completions:
            expected += encode_text(tok, text) + [tok.eos_token_id]
        assert sampled == expected  # exactly the sampled tokens carry the loss
        assert all(lp == 0.0 for lp, m in zip(episode.logprobs, mask) if not m)
        # The environment's tokens: the tool result (and, in chat, the template's turn markup).
        added = tok.decode(
            [
                t
                for t, m in zip(ids[episode.prompt_length :], mask[episode.prompt_length :])
                if not m
            ]
        )
        assert "<tool_response>" in added and "Let me compute" not in added
        # The whole stream is the final transcript, as the template (or the text) writes it.
        env.reset(options={"task_id": episode.task_id})
        transcript = None
        for text in episode.completions:
            transcript, *_ = env.step(text)
        if chat:
            assert tok.decode(ids) + "\n" == render_chat(
                tok, transcript, add_generation_prompt=False
            )
        else:  # the text transcript, with the EOS each turn sampled
            assert tok.decode(ids).replace(tok.eos_token, "") == transcript
            assert ids.count(tok.eos_token_id) == episode.num_turns
    env.close()


def test_demonstration_stream_matches_the_rollout_stream(tok) -> None:
    env = gym.make("rlvr/Arithmetic-Calculator-v1", chat=True)
    agent = ScriptedToolAgent(tok)
    (episode,) = collect_rollouts(
        agent,
        "rlvr/Arithmetic-Calculator-v1",
        num_tasks=1,
        seed=4,
        env_kwargs={"chat": True},
        mode="tokens",
    ).episodes
    env.reset(options={"task_id": episode.task_id})
    demo = demonstration_stream(
        env,
        tok,
        episode.completions,
        eos_token_id=tok.eos_token_id,
        options={"task_id": episode.task_id},
    )
    assert (demo.token_ids, demo.loss_mask) == (episode.token_ids, episode.loss_mask)
    assert demo.reward == 1.0 and demo.turns == 2 and demo.prompt_length == episode.prompt_length
    # The environment's own demonstration: call the calculator, answer with its result.
    actions = env.unwrapped.task and env.get_wrapper_attr("demonstration")()
    assert (
        actions[0].startswith("<tool_call>\n")
        and actions[1] == f"\\boxed{{{env.unwrapped.task.answer}}}"
    )
    env.close()


def test_hf_agent_renders_tools_through_the_chat_template(tool_model, tok) -> None:
    from agents.hf import HFAgent

    agent = HFAgent(tool_model, device="cpu")
    env = gym.make("rlvr/Arithmetic-Calculator-v1", chat=True)
    obs, _ = env.reset(seed=0)
    text = tok.decode(agent.encode(obs))
    assert text.startswith("<|im_start|>system\n# Tools") and '"name": "calculator"' in text
    assert text == tok.apply_chat_template(
        [{"role": "user", "content": obs[0]["content"]}],
        tools=obs[0]["tools"],
        add_generation_prompt=True,
        tokenize=False,
    )
    # A random model answers garbage: the episode still runs end to end, token-exactly.
    batch = collect_rollouts(
        agent,
        "rlvr/Arithmetic-Calculator-v1",
        num_tasks=2,
        env_kwargs={"chat": True},
        max_new_tokens=8,
        temperature=1.0,
    )
    assert batch.mode == "tokens" and all(
        e.loss_mask.count(1) == e.num_generated_tokens for e in batch
    )
    env.close()


def test_a_template_without_tool_support_is_a_clear_error(tok) -> None:
    plain = AutoTokenizer.from_pretrained(tok.name_or_path)
    plain.chat_template = (
        "{%- for m in messages %}{{- m['role'] + ': ' + m['content'] + '\\n' }}{%- endfor %}"
    )
    obs = [
        {
            "role": "user",
            "content": "hi",
            "tools": [{"type": "function", "function": {"name": "f"}}],
        }
    ]
    with pytest.raises(ValueError, match="ignores tools"):
        render_chat(plain, obs, add_generation_prompt=True)
