"""Group rollouts: groups share a task, token streams are exact, verification overlaps generation."""

from __future__ import annotations

import functools
import time
from typing import Any

import gymnasium as gym
import pytest
import torch

from agents import CallableAgent
from agents.hf import HFAgent
from agents.tensors import pad_episodes
from rlvr_envs.rollout import RolloutError, RolloutRunner, collect_rollouts
from rlvr_envs.rollout.tokens import render_chat

from .conftest import forced_tokens
from .envs import WORDS, Faulty, Recording, Slow, word_env


def say_the_word(observation: Any) -> str:
    text = observation if isinstance(observation, str) else observation[0]["content"]
    return text.removeprefix("Say the word ").split(".")[0]


def test_groups_share_a_task_and_rewards_come_from_the_verifier() -> None:
    batch = collect_rollouts(
        CallableAgent(say_the_word), word_env, num_tasks=4, group_size=3, seed=7
    )
    assert batch.mode == "text" and len(batch) == 12 and batch.group_size == 3
    for k, group in enumerate(batch.groups()):
        assert [e.group_id for e in group] == [k] * 3
        assert len({e.task_id for e in group}) == 1 and len({e.seed for e in group}) == 1
        assert len({str(e.observation) for e in group}) == 1
    assert batch.rewards == [1.0] * 12
    assert all(
        e.terminated and not e.env_truncated and e.valid and e.verdicts[0]["status"] == "correct"
        for e in batch
    )
    again = collect_rollouts(
        CallableAgent(lambda o: "wrong"), word_env, num_tasks=4, group_size=3, seed=7
    )
    assert [e.task_id for e in again] == [e.task_id for e in batch]  # same seeds, same tasks
    assert again.rewards == [0.0] * 12 and again.episodes[0].verdicts[0]["status"] == "wrong"


def test_task_ids_pick_tasks() -> None:
    batch = collect_rollouts(
        CallableAgent(say_the_word),
        word_env,
        num_tasks=2,
        group_size=2,
        task_ids=["word/3", "word/0"],
    )
    assert [e.task_id for e in batch] == ["word/3", "word/3", "word/0", "word/0"]
    assert batch.episodes[0].observation == f"Say the word {WORDS[3]}."


def test_single_turn_token_records(qwen2_agent: HFAgent) -> None:
    batch = collect_rollouts(
        qwen2_agent, word_env, num_tasks=3, group_size=2, seed=1, max_new_tokens=8, temperature=1.0
    )
    assert batch.mode == "tokens"
    for episode in batch:
        n = episode.prompt_length
        assert episode.token_ids[:n] == qwen2_agent.encode(episode.observation)
        assert episode.loss_mask == [0] * n + [1] * (len(episode.token_ids) - n)
        assert episode.logprobs[:n] == [0.0] * n and all(lp <= 0 for lp in episode.logprobs[n:])
        assert episode.num_generated_tokens == len(episode.token_ids) - n == sum(episode.loss_mask)
        assert episode.num_turns == 1 and len(episode.turn_rewards) == 1
    again = collect_rollouts(
        qwen2_agent, word_env, num_tasks=3, group_size=2, seed=1, max_new_tokens=8
    )
    assert [e.token_ids for e in again] == [
        e.token_ids for e in batch
    ]  # the seed seeds sampling too
    other = collect_rollouts(
        qwen2_agent,
        word_env,
        num_tasks=3,
        group_size=2,
        seed=1,
        max_new_tokens=8,
        sampling={"seed": 99},
    )
    assert [e.token_ids for e in other] != [e.token_ids for e in batch]
    timings = batch.timings
    assert timings["generate_s"] > 0 and timings["wall_s"] >= timings["generate_s"]
    assert set(timings) >= {
        "generate_s",
        "verify_s",
        "reset_s",
        "tokenize_s",
        "wall_s",
        "generated_tokens_per_s",
    }


def runs(mask: list[int]) -> list[tuple[int, int, int]]:
    """Maximal runs of equal mask values as (value, start, end)."""
    out, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            out.append((mask[start], start, i))
            start = i
    return out


def recording_agent(agent: HFAgent, calls: list) -> None:
    original = agent.generate_tokens

    def generate_tokens(prompts, **kwargs):
        out = original(prompts, **kwargs)
        calls.extend(out)
        return out

    agent.generate_tokens = generate_tokens


@pytest.mark.parametrize("chat", [False, True])
def test_multi_turn_stream_is_sampled_tokens_plus_environment_tokens(
    qwen2_path, chat: bool
) -> None:
    agent = HFAgent(qwen2_path, device="cpu")
    calls: list = []
    recording_agent(agent, calls)
    envs: list[Recording] = []

    def make() -> Recording:
        envs.append(Recording(word_env(chat=chat, max_turns=3)))
        return envs[-1]

    eos = agent.tokenizer.convert_tokens_to_ids("<|im_end|>")
    with forced_tokens(
        agent, {3: {0: eos}}
    ):  # the first row of each call stops on EOS, others run out
        batch = collect_rollouts(
            agent,
            make,
            num_tasks=2,
            group_size=2,
            seed=3,
            max_new_tokens=6,
            generation_batch_size=3,
        )

    decode = functools.partial(agent.tokenizer.decode, skip_special_tokens=False)
    transcripts = {id(e): t for env in envs for t in env.episodes for e in [t]}
    assert len(transcripts) == 4
    used = set()
    for episode in batch:
        assert episode.num_turns == 3 and episode.env_truncated and not episode.terminated
        segments = runs(episode.loss_mask)
        assert [value for value, _, _ in segments] == [0, 1, 0, 1, 0, 1]
        # Every sampled segment is exactly one generation, conditioned on exactly the stream before it.
        sampled = []
        for value, start, end in segments:
            if value == 1:
                (generation,) = [
                    g
                    for g in calls
                    if g.prompt_ids == episode.token_ids[:start]
                    and g.token_ids == episode.token_ids[start:end]
                ]
                assert episode.logprobs[start:end] == generation.logprobs
                sampled.append(generation)
            else:
                assert episode.logprobs[start:end] == [0.0] * (end - start)
        assert (
            sum(episode.loss_mask)
            == sum(g.num_tokens for g in sampled)
            == episode.num_generated_tokens
        )
        assert episode.completions == [g.text for g in sampled]

        # The environment's side of the stream decodes to what the environment returned.
        (transcript,) = [
            t
            for t in transcripts.values()
            if t[0] == episode.observation
            and id(t) not in used
            and [a for a, _ in t[1:]] == episode.completions
        ]
        used.add(id(transcript))
        observations = [transcript[0]] + [obs for _, obs in transcript[1:]]
        env_segments = [(s, e) for value, s, e in segments if value == 0]
        if not chat:
            assert decode(episode.token_ids[slice(*env_segments[0])]) == observations[0]
            for turn in (1, 2):
                previous, action = observations[turn - 1], episode.completions[turn - 1]
                new_text = observations[turn][len(previous) + len(action) :]
                assert decode(episode.token_ids[slice(*env_segments[turn])]) == new_text
                assert "Not quite (attempt" in new_text
            # The whole stream: prompt + sampled text + new environment text + ...
            expected = observations[0]
            for turn, generation in enumerate(sampled):
                expected += decode(generation.token_ids)
                if turn < 2:
                    expected += observations[turn + 1][
                        len(observations[turn]) + len(episode.completions[turn]) :
                    ]
            assert decode(episode.token_ids) == expected
        else:
            assert decode(episode.token_ids[slice(*env_segments[0])]) == render_chat(
                agent.tokenizer, observations[0], add_generation_prompt=True
            )
            for turn in (1, 2):
                env_text = decode(episode.token_ids[slice(*env_segments[turn])])
                feedback = observations[turn][-1]["content"]
                assert env_text.endswith(
                    f"<|im_start|>user\n{feedback}<|im_end|>\n<|im_start|>assistant\n"
                )
                closing = env_text[
                    : -len(f"<|im_start|>user\n{feedback}<|im_end|>\n<|im_start|>assistant\n")
                ]
                assert closing == (
                    "\n" if sampled[turn - 1].token_ids[-1] == eos else "<|im_end|>\n"
                )
            # With every turn closed, the stream reads as the template's rendering of the dialogue
            # (unless a special token was sampled mid-answer: the stream keeps it, the text not).
            final = observations[2] + [{"role": "assistant", "content": episode.completions[2]}]
            rendered = render_chat(agent.tokenizer, final, add_generation_prompt=False)
            text = decode(episode.token_ids)
            special = set(agent.tokenizer.added_tokens_decoder)
            if not any(t in special for g in sampled for t in g.token_ids[:-1]):
                assert rendered.startswith(text) and rendered[len(text) :] in ("\n", "<|im_end|>\n")
    assert any(g.token_ids[-1] == eos for g in calls) and any(g.truncated for g in calls)


def test_verification_overlaps_the_next_generation_batch() -> None:
    generation_log: list[tuple[float, float]] = []

    def slow_policy(observations):
        start = time.perf_counter()
        time.sleep(0.15)
        generation_log.append((start, time.perf_counter()))
        return ["x"] * len(observations)

    Slow.log = []
    batch = collect_rollouts(
        CallableAgent(slow_policy, batched=True),
        lambda: Slow(word_env(), 0.15),
        num_tasks=2,
        group_size=2,
        generation_batch_size=2,
    )
    assert len(generation_log) == 2 and len(Slow.log) == 4
    overlapping = [(g, s) for g in generation_log for s in Slow.log if s[0] < g[1] and g[0] < s[1]]
    assert overlapping, "no environment step ran while the agent was generating"
    assert (
        batch.timings["wall_s"] < batch.timings["generate_s"] + 0.6
    )  # steps did not all run after generation


def test_multi_turn_episodes_end_at_success_or_turn_limit() -> None:
    attempts: dict[str, int] = {}

    def learns(observation: Any) -> str:
        key = say_the_word(observation)
        attempts[key] = attempts.get(key, 0) + 1
        return say_the_word(observation) if attempts[key] >= 2 else "no idea"

    make = functools.partial(word_env, max_turns=3)
    batch = collect_rollouts(
        CallableAgent(learns), make, num_tasks=3, task_ids=["word/0", "word/1", "word/2"]
    )
    for episode in batch:
        assert episode.turn_rewards == [0.0, 1.0] and episode.reward == 1.0
        assert episode.terminated and not episode.env_truncated and episode.num_turns == 2
        assert [v["status"] for v in episode.verdicts] == ["wrong", "correct"]


def test_environment_failures_raise_or_are_recorded() -> None:
    make = lambda: Faulty(word_env(), "boom")  # noqa: E731
    with pytest.raises(RolloutError, match="the grader crashed"):
        collect_rollouts(CallableAgent(lambda o: "boom"), make, num_tasks=2)
    batch = collect_rollouts(
        CallableAgent(lambda o: "boom" if "apple" in o else "ok"),
        make,
        num_tasks=6,
        seed=0,
        task_ids=[f"word/{i}" for i in range(6)],
        on_error="record",
    )
    bad = [e for e in batch if e.error]
    assert len(bad) == 1 and "grader crashed" in bad[0].error and not bad[0].valid
    assert all(e.valid for e in batch if not e.error)


def test_context_overflow_ends_episodes_truncated(qwen2_path) -> None:
    agent = HFAgent(qwen2_path, device="cpu", max_context=48)
    batch = collect_rollouts(
        agent,
        functools.partial(word_env, max_turns=5),
        num_tasks=1,
        group_size=2,
        max_new_tokens=10,
        temperature=0,
    )
    for episode in batch:
        assert episode.truncated and len(episode.token_ids) <= 48 + 20
        assert not episode.env_truncated and episode.num_turns < 5


def test_vector_env_runs_in_waves_with_shared_tasks(qwen2_agent: HFAgent) -> None:
    for mode in (gym.vector.AutoresetMode.NEXT_STEP, gym.vector.AutoresetMode.DISABLED):
        venv = gym.vector.SyncVectorEnv(
            [functools.partial(word_env, max_turns=2)] * 3, autoreset_mode=mode
        )
        batch = collect_rollouts(
            qwen2_agent, venv, num_tasks=2, group_size=2, seed=5, max_new_tokens=5
        )
        venv.close()
        assert len(batch) == 4
        for group in batch.groups():
            assert len({e.task_id for e in group}) == 1 and group[0].task_id is not None
        for episode in batch:
            assert episode.num_turns == 2 and episode.env_truncated
            assert [v for v, _, _ in runs(episode.loss_mask)] == [0, 1, 0, 1]
            assert episode.verdicts[0]["status"] in ("wrong", "no_answer")
    text = collect_rollouts(
        CallableAgent(say_the_word),
        gym.vector.SyncVectorEnv([word_env] * 2),
        num_tasks=3,
        group_size=1,
    )
    assert text.rewards == [1.0, 1.0, 1.0]


def test_runner_reuses_its_environments() -> None:
    made = []

    def make():
        made.append(word_env())
        return made[-1]

    with RolloutRunner(make) as runner:
        runner.collect(CallableAgent(say_the_word), num_tasks=2, group_size=2)
        runner.collect(CallableAgent(say_the_word), num_tasks=2, group_size=2, seed=10)
    assert len(made) == 4


def test_rollout_arguments_are_checked(qwen2_agent: HFAgent) -> None:
    with pytest.raises(TypeError, match="factory"):
        collect_rollouts(qwen2_agent, word_env(), num_tasks=1)
    with pytest.raises(ValueError, match="group_size"):
        collect_rollouts(qwen2_agent, word_env, num_tasks=1, group_size=0)
    with pytest.raises(ValueError, match="not n"):
        collect_rollouts(qwen2_agent, word_env, num_tasks=1, n=4)
    with pytest.raises(TypeError, match="cannot report tokens"):
        collect_rollouts(CallableAgent(say_the_word), word_env, num_tasks=1, mode="tokens")
    with pytest.raises(ValueError, match="task_ids"):
        collect_rollouts(qwen2_agent, word_env, num_tasks=2, task_ids=["word/1"])


def test_pad_episodes_masks_from_lengths(pad_eos_path) -> None:
    agent = HFAgent(pad_eos_path, device="cpu")
    eos = agent.tokenizer.eos_token_id
    with forced_tokens(agent, {2: eos}):  # every turn ends on EOS, so EOS (= pad) sits mid-stream
        batch = collect_rollouts(
            agent,
            functools.partial(word_env, max_turns=2),
            num_tasks=2,
            group_size=2,
            max_new_tokens=6,
            temperature=0,
        )
    episodes = batch.episodes
    assert all(eos in e.token_ids[e.prompt_length : -1] for e in episodes)
    for side in ("right", "left"):
        t = pad_episodes(episodes, pad_token_id=eos, padding_side=side)
        width = max(len(e.token_ids) for e in episodes)
        assert t["input_ids"].shape == (4, width)
        for row, episode in enumerate(episodes):
            n = len(episode.token_ids)
            span = slice(0, n) if side == "right" else slice(width - n, width)
            assert t["input_ids"][row, span].tolist() == episode.token_ids
            assert t["attention_mask"][row].sum() == n and t["attention_mask"][row, span].all()
            assert t["loss_mask"][row, span].tolist() == [float(m) for m in episode.loss_mask]
            assert torch.allclose(t["old_logprobs"][row, span], torch.tensor(episode.logprobs))
            assert t["position_ids"][row, span].tolist() == list(range(n))
        assert (t["old_logprobs"][t["loss_mask"] == 0] == 0).all()
        assert t["group_ids"].tolist() == [0, 0, 1, 1] and t["prompt_lengths"].tolist() == [
            e.prompt_length for e in episodes
        ]
    with pytest.raises(ValueError, match="max_length"):
        pad_episodes(episodes, max_length=3)
    with pytest.raises(ValueError, match="padding_side"):
        pad_episodes(episodes, padding_side="middle")
    text_batch = collect_rollouts(CallableAgent(say_the_word), word_env, num_tasks=1)
    with pytest.raises(ValueError, match="no tokens"):
        pad_episodes(text_batch.episodes)


def test_old_logprobs_match_a_training_forward_pass(qwen2_agent: HFAgent) -> None:
    """What a trainer will do: pad the batch, run the model once, read the sampled tokens' log-probs."""
    batch = collect_rollouts(
        qwen2_agent,
        functools.partial(word_env, max_turns=2, chat=True),
        num_tasks=2,
        group_size=2,
        max_new_tokens=6,
        temperature=0.8,
    )
    t = pad_episodes(batch.episodes, pad_token_id=qwen2_agent.pad_token_id, padding_side="left")
    with torch.no_grad():
        logits = qwen2_agent.model(
            input_ids=t["input_ids"],
            attention_mask=t["attention_mask"],
            position_ids=t["position_ids"],
        ).logits.float()
    logp = (
        torch.log_softmax(logits[:, :-1] / 0.8, dim=-1)
        .gather(-1, t["input_ids"][:, 1:, None])
        .squeeze(-1)
    )
    mask = t["loss_mask"][:, 1:].bool()
    assert torch.allclose(logp[mask], t["old_logprobs"][:, 1:][mask], atol=1e-3)


def test_process_executor_matches_threads() -> None:
    kwargs = dict(num_tasks=3, group_size=2, seed=4, env_kwargs={"max_turns": 2})
    threads = collect_rollouts(CallableAgent(say_the_word), word_env, **kwargs)
    procs = collect_rollouts(
        CallableAgent(say_the_word), word_env, executor="process", workers=2, **kwargs
    )
    assert [(e.task_id, e.reward, e.num_turns) for e in procs] == [
        (e.task_id, e.reward, e.num_turns) for e in threads
    ]


def test_arithmetic_environment_multi_turn(qwen2_agent: HFAgent) -> None:
    pytest.importorskip("rlvr_envs.verifiers.math", reason="the math verifier has not landed yet")
    batch = collect_rollouts(
        qwen2_agent,
        "rlvr/Arithmetic-v1",
        env_kwargs={"max_turns": 3},
        num_tasks=2,
        group_size=3,
        seed=11,
        max_new_tokens=8,
    )
    for group in batch.groups():
        assert len({e.task_id for e in group}) == 1
        assert len({e.observation for e in group}) == 1
    for episode in batch:
        assert 1 <= episode.num_turns <= 3 and len(episode.verdicts) == episode.num_turns
        assert episode.env_truncated or episode.terminated
        assert sum(episode.loss_mask) == episode.num_generated_tokens
    chat = collect_rollouts(
        qwen2_agent,
        "rlvr/Arithmetic-v1",
        env_kwargs={"chat": True},
        num_tasks=2,
        group_size=2,
        max_new_tokens=8,
    )
    assert all(e.num_turns == 1 and e.terminated for e in chat)


class ShortAgent:
    def act(self, observations, **sampling):
        return ["one"]


def test_an_agent_returning_the_wrong_number_of_answers_is_an_error() -> None:
    with pytest.raises(RolloutError, match="returned 1 answers for 2 observations"):
        collect_rollouts(ShortAgent(), word_env, num_tasks=2)
