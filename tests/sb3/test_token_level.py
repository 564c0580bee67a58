import string

import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

from rlvr_envs import DatasetSource, Task, TextEnv
from rlvr_envs.wrappers import CharTokenizer, TokenLevel

from ..helpers import echo_env

ASCII = CharTokenizer(string.printable)


def exact_env(**kwargs):
    tasks = [Task(id=f"t{i}", prompt=f"{i}+1=", answer=str(i + 1)) for i in range(5)]
    return TextEnv(DatasetSource(tasks), "exact", template="{prompt}", **kwargs)


def ids(text):
    return [ASCII.token_id(ch) for ch in text]


def test_char_tokenizer_round_trip_and_unknowns():
    tok = CharTokenizer("ab")
    assert tok.encode("abc") == [0, 1, tok.unk_token_id]
    assert tok.decode([0, tok.eos_token_id, 1, 99]) == "ab\ufffd"
    assert tok.vocab_size == 4 and tok.token_id("<eos>") == tok.eos_token_id
    with pytest.raises(ValueError):
        CharTokenizer("aa")
    with pytest.raises(ValueError):
        tok.token_id("z")


def test_tokens_until_eos_then_the_verifier_reward():
    env = TokenLevel(exact_env(), ASCII, max_prompt_tokens=8, max_new_tokens=4)
    obs, _ = env.reset(options={"task_id": "t2"})
    assert obs["length"][0] == 4 and list(obs["tokens"][:4]) == ids("2+1=")
    assert (obs["tokens"][4:] == env.pad_id).all()
    obs, reward, terminated, truncated, info = env.step(ASCII.token_id("3"))
    assert (reward, terminated, truncated, info) == (0.0, False, False, {})
    assert obs["length"][0] == 5 and obs["tokens"][4] == ASCII.token_id("3")
    obs, reward, terminated, truncated, info = env.step(ASCII.eos_token_id)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["completion"] == "3" and info["verdict"]["status"] == "correct"


def test_token_budget_sends_the_completion_without_eos():
    env = TokenLevel(exact_env(), ASCII, max_prompt_tokens=8, max_new_tokens=2)
    env.reset(options={"task_id": "t0"})
    env.step(ASCII.token_id("1"))
    _, reward, terminated, _, info = env.step(ASCII.token_id("0"))
    assert terminated and info["completion"] == "10" and reward == 0.0


def test_immediate_eos_is_an_empty_completion():
    env = TokenLevel(exact_env(), ASCII, max_prompt_tokens=8)
    env.reset(options={"task_id": "t0"})
    _, reward, terminated, _, info = env.step(ASCII.eos_token_id)
    assert terminated and reward == 0.0 and info["verdict"]["status"] == "no_answer"


def test_allowed_tokens_restrict_the_action_space():
    env = TokenLevel(exact_env(), ASCII, max_prompt_tokens=8, allowed_tokens=list("0123456789"))
    assert env.action_space.n == 11  # ten digits and EOS, added automatically
    env.reset(options={"task_id": "t3"})
    env.step(4)  # action 4 is the digit "4"
    _, reward, terminated, _, info = env.step(10)  # the last action is EOS
    assert reward == 1.0 and info["completion"] == "4"
    with pytest.raises(ValueError, match="not in"):
        env.step(11)


def test_shaping_hook_adds_intermediate_rewards():
    env = TokenLevel(
        exact_env(), ASCII, max_prompt_tokens=8, shaping=lambda prefix, token: 0.1 * len(prefix)
    )
    env.reset(options={"task_id": "t1"})
    assert env.step(ASCII.token_id("2"))[1] == pytest.approx(0.1)
    assert env.step(ASCII.eos_token_id)[1] == pytest.approx(1.1)


def test_bad_configurations_are_clear_errors():
    with pytest.raises(ValueError, match="outside the vocabulary"):
        TokenLevel(exact_env(), ASCII, allowed_tokens=[10_000])
    with pytest.raises(ValueError, match=">= 1"):
        TokenLevel(exact_env(), ASCII, max_new_tokens=0)
    with pytest.raises(TypeError, match="tokenizer"):
        TokenLevel(exact_env(), object())
    env = TokenLevel(exact_env(), ASCII, max_prompt_tokens=2)
    with pytest.raises(ValueError, match="max_prompt_tokens"):
        env.reset(seed=0)


def test_multi_turn_appends_only_the_new_observation():
    env = TokenLevel(exact_env(max_turns=2), ASCII, max_prompt_tokens=200, max_new_tokens=3)
    obs, _ = env.reset(options={"task_id": "t0"})
    env.step(ASCII.token_id("7"))
    obs, reward, terminated, truncated, _ = env.step(ASCII.eos_token_id)
    assert reward == 0.0 and not terminated and not truncated
    length = int(obs["length"][0])
    stream = list(obs["tokens"][:length])
    assert stream[:6] == ids("0+1=7") + [ASCII.eos_token_id]
    assert "judged wrong" in ASCII.decode(stream[6:])
    env.step(ASCII.token_id("1"))
    _, reward, terminated, truncated, _ = env.step(ASCII.eos_token_id)
    assert reward == 1.0 and terminated


def test_chat_observations_are_flattened_for_a_char_tokenizer():
    env = TokenLevel(echo_env(chat=True), ASCII, max_prompt_tokens=64)
    obs, _ = env.reset(options={"task_id": "echo/0"})
    n = int(obs["length"][0])
    assert ASCII.decode(obs["tokens"][:n]) == "Repeat exactly: alpha\n"


def test_gymnasium_check_env_on_the_wrapper():
    gym_check_env(TokenLevel(exact_env(), ASCII, max_prompt_tokens=8), skip_render_check=True)


def test_hf_tokenizer(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    model = tokenizers.models.BPE(unk_token="<unk>")
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<unk>", "<eos>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(["0+1=1 1+1=2 2+1=3 3+1=4 4+1=5 Repeat exactly"] * 20, trainer)
    hf = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>"
    )
    env = TokenLevel(
        exact_env(), hf, max_prompt_tokens=16, allowed_tokens=["1", "2", "3", "4", "5"]
    )
    assert env.action_space.n == 6
    obs, _ = env.reset(options={"task_id": "t1"})
    assert hf.decode(list(obs["tokens"][: int(obs["length"][0])])) == "1+1="
    env.step(1)  # "2"
    _, reward, terminated, _, info = env.step(5)  # EOS
    assert terminated and reward == 1.0 and info["completion"] == "2"
    with pytest.raises(ValueError, match="not one"):
        TokenLevel(exact_env(), hf, allowed_tokens=["Repeat exactly 12345"])
