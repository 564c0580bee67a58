import copy

import gymnasium as gym
import pytest
from gymnasium.vector.utils import (
    batch_space,
    concatenate,
    create_empty_array,
    create_shared_memory,
    iterate,
    read_from_shared_memory,
    write_to_shared_memory,
)

from rlvr_envs import ChatMessages, UnicodeText

from .helpers import echo_env

TEXTS = ["", "plain ascii", "with spaces and\nnewlines", "Unicode − ° π 中文 😀", "x" * 1000]
CHATS = [
    [{"role": "user", "content": "hi"}],
    [
        {"role": "system", "content": "Be brief. Ünïcödé 😀"},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": ""},
    ],
]


def test_unicode_text_accepts_what_gymnasium_text_rejects():
    space = UnicodeText(max_length=2000)
    assert not gym.spaces.Text(2000).contains("with spaces")
    for text in TEXTS:
        assert space.contains(text)
    assert not space.contains(b"bytes")
    assert not space.contains(None)
    assert not space.contains("x" * 2001)
    assert not UnicodeText(10, min_length=2).contains("a")


def test_unicode_text_sample_is_seeded_and_contained():
    a, b = UnicodeText(100, seed=7), UnicodeText(100, seed=7)
    samples = [a.sample() for _ in range(50)]
    assert samples == [b.sample() for _ in range(50)]
    assert all(a.contains(s) for s in samples)
    assert any(not s.isascii() for s in samples)


def test_unicode_text_rejects_bad_bounds():
    with pytest.raises(ValueError):
        UnicodeText(5, min_length=6)


def test_chat_messages_contains():
    space = ChatMessages(max_messages=3, max_length=100)
    for chat in CHATS:
        assert space.contains(chat)
    assert not space.contains([])
    assert not space.contains([{"role": "robot", "content": "x"}])
    assert not space.contains([{"role": "user", "content": 5}])
    assert not space.contains([{"role": "user"}])
    assert not space.contains([{"role": "user", "content": "x"}] * 4)
    assert not space.contains([{"role": "user", "content": "x" * 101}])
    assert not space.contains("not a list")


def test_chat_messages_sample_is_seeded_and_contained():
    a, b = ChatMessages(seed=3), ChatMessages(seed=3)
    samples = [a.sample() for _ in range(20)]
    assert samples == [b.sample() for _ in range(20)]
    assert all(a.contains(s) for s in samples)


@pytest.mark.parametrize("max_length", [0, 1, 10, 40])
def test_chat_messages_sample_fits_a_small_total_length(max_length):
    space = ChatMessages(max_messages=8, max_length=max_length, seed=0)
    for _ in range(200):  # used to loop forever once the last message was empty
        sample = space.sample()
        assert space.contains(sample)
        assert sum(len(m["content"]) for m in sample) <= max_length


@pytest.mark.parametrize(
    "space, values",
    [(UnicodeText(1000), TEXTS[:4]), (ChatMessages(4, 200), CHATS)],
)
def test_batching_utilities(space, values):
    n = len(values)
    batched = batch_space(space, n)
    assert len(batched) == n
    out = create_empty_array(space, n)
    joined = concatenate(space, values, out)
    assert list(joined) == values
    assert list(iterate(batched, joined)) == values


@pytest.mark.parametrize(
    "space, values",
    [(UnicodeText(1000), TEXTS[:4] + ["lone \udcff surrogate"]), (ChatMessages(4, 200), CHATS)],
)
def test_shared_memory_round_trip_and_live_view(space, values):
    n = len(values)
    memory = create_shared_memory(space, n)
    view = read_from_shared_memory(space, memory, n)
    for i, value in enumerate(values):
        write_to_shared_memory(space, i, value, memory)
    assert list(view) == values
    snapshot = copy.deepcopy(view)
    assert isinstance(snapshot, tuple) and list(snapshot) == values
    write_to_shared_memory(space, 0, values[1], memory)
    assert view[0] == values[1]  # the view is live, as Gymnasium's AsyncVectorEnv expects
    assert snapshot[0] == values[0]  # the copy is not
    assert view[-1] == values[-1] and view[1:3] == tuple(values[1:3])
    with pytest.raises(IndexError):
        view[n]


def test_shared_memory_refuses_values_outside_the_space():
    space = UnicodeText(4)
    memory = create_shared_memory(space, 1)
    with pytest.raises(ValueError, match="does not fit"):
        write_to_shared_memory(space, 0, "too long", memory)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("chat", [False, True])
def test_vector_envs_with_default_arguments(mode, chat):
    """Sync and async vector envs (shared memory on, the default) carry text observations."""
    fns = [lambda: echo_env(chat=chat, max_turns=2) for _ in range(3)]
    vec_cls = gym.vector.SyncVectorEnv if mode == "sync" else gym.vector.AsyncVectorEnv
    envs = vec_cls(fns)
    try:
        obs, infos = envs.reset(seed=[5, 5, 6])
        assert len(obs) == 3
        assert obs[0] == obs[1]  # same seed, same task
        expected = [echo_env(chat=chat, max_turns=2).reset(seed=s)[0] for s in (5, 5, 6)]
        assert list(obs) == expected
        obs2, rewards, terminated, truncated, infos = envs.step(["wrong", "wrong", "wrong"])
        assert list(rewards) == [0.0, 0.0, 0.0]
        assert not terminated.any() and not truncated.any()
        # The second observation grew (feedback turn): shared memory must not be stale.
        for before, after in zip(obs, obs2):
            assert len(after) > len(before)
        assert list(infos["verdict"]["status"]) == ["wrong"] * 3
    finally:
        envs.close()
