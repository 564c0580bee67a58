"""HFAgent: token-exact decoding, log-probs, EOS handling, padding, batching and train-mode safety."""

from __future__ import annotations

import pytest
import torch

from agents import ContextLengthError
from agents.hf import HFAgent

from .conftest import forced_tokens
from .reference import assert_greedy_matches_generate, reference_logprobs

PROMPTS = [
    "What is 2 + 3?",
    "x",
    "Please reason step by step, and put your final answer within \\boxed{}. " * 12,
    "def add(a, b):\n    return a + b\n",
]


def test_greedy_matches_transformers_generate(qwen2_agent: HFAgent) -> None:
    assert_greedy_matches_generate(qwen2_agent, PROMPTS[:2], max_new_tokens=12)


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 0.9)])
def test_sampling_logprobs_match_a_separate_forward_pass(
    qwen2_agent: HFAgent, temperature: float, top_p: float
) -> None:
    generations = qwen2_agent.generate(
        PROMPTS, temperature=temperature, top_p=top_p, max_new_tokens=24, n=2, seed=3
    )
    assert len(generations) == 2 * len(PROMPTS)
    for generation in generations:
        assert len(generation.logprobs) == len(generation.token_ids) > 0
        expected = reference_logprobs(qwen2_agent, generation, temperature)
        assert torch.allclose(torch.tensor(generation.logprobs), expected, atol=1e-3)


def test_greedy_logprobs_are_untempered(qwen2_agent: HFAgent) -> None:
    (generation,) = qwen2_agent.generate([PROMPTS[0]], temperature=0, max_new_tokens=8)
    expected = reference_logprobs(qwen2_agent, generation, 1.0)
    assert torch.allclose(torch.tensor(generation.logprobs), expected, atol=1e-3)


def test_prompts_of_very_different_lengths_batch_like_one_by_one(qwen2_path) -> None:
    batched = HFAgent(qwen2_path, device="cpu", batch_size=64)
    single = HFAgent(qwen2_path, device="cpu", batch_size=1)
    prompts = ["a", "Hello " * 150, "What is 7 * 8?", "z " * 40]
    together = batched.generate(prompts, temperature=0, max_new_tokens=10)
    alone = single.generate(prompts, temperature=0, max_new_tokens=10)
    assert [g.token_ids for g in together] == [g.token_ids for g in alone]
    for a, b in zip(together, alone):
        assert g_close(a.logprobs, b.logprobs)
    # Outputs come back in input order whatever the length-sorted batch order was.
    assert [g.prompt_ids for g in together] == [batched.encode(p) for p in prompts]


def g_close(a: list[float], b: list[float], atol: float = 1e-4) -> bool:
    return torch.allclose(torch.tensor(a), torch.tensor(b), atol=atol)


def test_length_bucketing_plans_small_batches(qwen2_agent: HFAgent) -> None:
    rows = [[1] * n for n in (3, 100, 4, 98, 5)]
    old = qwen2_agent.batch_size
    try:
        qwen2_agent.batch_size = 2
        batches = qwen2_agent._plan_batches(rows, [8] * 5)
    finally:
        qwen2_agent.batch_size = old
    assert batches == [[0, 2], [4, 3], [1]]  # sorted by length, at most two per batch


def test_max_batch_tokens_splits_batches(qwen2_path) -> None:
    agent = HFAgent(qwen2_path, device="cpu", max_batch_tokens=60)
    batches = agent._plan_batches([[1] * 10] * 4, [10] * 4)
    assert batches == [[0, 1, 2], [3]]  # 3 rows x (10 + 10) = 60 tokens fit, 4 do not
    reference = HFAgent(qwen2_path, device="cpu")
    prompts = ["one two three four"] * 4
    assert agent.act(prompts, temperature=0, max_new_tokens=10) == reference.act(
        prompts, temperature=0, max_new_tokens=10
    )


def test_every_eos_id_stops_generation(qwen2_agent: HFAgent) -> None:
    im_end, endoftext = (
        qwen2_agent.tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")
    )
    assert {im_end, endoftext} <= qwen2_agent.eos_token_ids
    for eos in (im_end, endoftext):
        with forced_tokens(qwen2_agent, {3: eos}):
            (generation,) = qwen2_agent.generate(["Hi"], temperature=0, max_new_tokens=20)
        assert len(generation.token_ids) == 4 and generation.token_ids[-1] == eos
        assert generation.finish_reason == "stop" and generation.stop_reason == eos
        assert not generation.truncated
        assert generation.text == qwen2_agent.tokenizer.decode(
            generation.token_ids[:-1], skip_special_tokens=True
        )


def test_llama_style_second_eos_id_stops(llama_path) -> None:
    agent = HFAgent(llama_path, device="cpu")
    eot = agent.tokenizer.convert_tokens_to_ids("<|eot_id|>")
    end_of_text = agent.tokenizer.convert_tokens_to_ids("<|end_of_text|>")
    assert agent.eos_token_ids == {eot, end_of_text}
    with forced_tokens(agent, {2: end_of_text}):
        (generation,) = agent.generate(
            [[{"role": "user", "content": "Hi"}]], temperature=0, max_new_tokens=20
        )
    assert generation.token_ids[-1] == end_of_text and len(generation.token_ids) == 3
    # A chat prompt carries exactly one BOS (from the template, none added on top of it).
    assert generation.prompt_ids.count(agent.tokenizer.bos_token_id) == 1
    assert agent.tokenizer.pad_token is None  # padding works without a pad token


def test_rows_finishing_at_different_steps_keep_their_own_lengths(qwen2_agent: HFAgent) -> None:
    eos = qwen2_agent.tokenizer.convert_tokens_to_ids("<|im_end|>")
    prompts = ["same length a", "same length b", "same length c"]
    with forced_tokens(
        qwen2_agent, {1: {0: eos}, 4: {0: eos}}
    ):  # after row 0 leaves, old row 1 is row 0
        generations = qwen2_agent.generate(prompts, temperature=0, max_new_tokens=8)
    assert [len(g.token_ids) for g in generations] == [2, 5, 8]
    assert [g.finish_reason for g in generations] == ["stop", "stop", "length"]
    assert [g.truncated for g in generations] == [False, False, True]
    unforced = qwen2_agent.generate(prompts[2:], temperature=0, max_new_tokens=8)
    assert generations[2].token_ids == unforced[0].token_ids  # pruning the batch changed nothing


def test_pad_equal_to_eos_with_eos_inside_prompts(pad_eos_path) -> None:
    agent = HFAgent(pad_eos_path, device="cpu")
    eos = agent.tokenizer.eos_token_id
    assert agent.pad_token_id == eos
    long_prompt = (
        agent.encode("First turn answer")
        + [eos]
        + agent.encode("\n\nfeedback: wrong, try again\n\n")
    )
    short_prompt = agent.encode("hi") + [eos]
    batched = agent.generate_tokens([long_prompt, short_prompt], temperature=0, max_new_tokens=12)
    for prompt, generation in zip([long_prompt, short_prompt], batched):
        (alone,) = agent.generate_tokens([prompt], temperature=0, max_new_tokens=12)
        assert generation.token_ids == alone.token_ids
        assert g_close(generation.logprobs, alone.logprobs)
        expected = reference_logprobs(agent, generation, 1.0)
        assert torch.allclose(torch.tensor(generation.logprobs), expected, atol=1e-3)


def test_pad_equal_to_eos_rows_finish_at_their_own_eos(pad_eos_path) -> None:
    agent = HFAgent(pad_eos_path, device="cpu")
    eos = agent.tokenizer.eos_token_id
    with forced_tokens(agent, {2: {0: eos}}):
        generations = agent.generate(["aaa", "bbb"], temperature=0, max_new_tokens=6)
    assert [len(g.token_ids) for g in generations] == [3, 6]
    assert generations[0].token_ids[-1] == eos and generations[0].finish_reason == "stop"
    assert generations[1].finish_reason == "length"


def test_generation_in_train_mode_with_gradient_checkpointing(qwen2_path) -> None:
    agent = HFAgent(qwen2_path, device="cpu")
    prompts = ["What is 2 + 3?", "Hello there"]
    expected = agent.generate(prompts, temperature=0, max_new_tokens=10)

    model = agent.model
    for module in model.modules():  # large dropout: decoding in train mode would change tokens
        if hasattr(module, "attention_dropout"):
            module.attention_dropout = 0.9
    enable = (
        getattr(model, "activation_checkpointing_enable", None)
        or model.gradient_checkpointing_enable
    )
    enable()
    model.config.use_cache = False  # what trainers set alongside checkpointing
    model.train()
    frozen = model.model.embed_tokens
    frozen.eval()  # a submodule the trainer keeps in eval mode stays so

    lengths: list[int] = []
    handle = model.register_forward_pre_hook(
        lambda module, args, kwargs: lengths.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    try:
        got = agent.generate(prompts, temperature=0, max_new_tokens=10)
    finally:
        handle.remove()
    assert [g.token_ids for g in got] == [g.token_ids for g in expected]
    assert lengths[0] > 1 and set(lengths[1:]) == {
        1
    }  # one prefill, then one token per step: the cache is used
    assert model.training and model.model.layers[0].training
    assert not frozen.training

    # Training still works afterwards: the generated tokens feed a backward pass.
    ids = torch.tensor([got[0].prompt_ids + got[0].token_ids])
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert model.model.layers[0].mlp.up_proj.weight.grad is not None


def test_stop_strings_cut_the_text_but_keep_the_tokens(qwen2_agent: HFAgent) -> None:
    decode = qwen2_agent.tokenizer.decode
    (full,) = qwen2_agent.generate([PROMPTS[0]], temperature=0, max_new_tokens=30)
    text = decode(full.token_ids, skip_special_tokens=False)
    # A stop string first seen in the text of a token past the third one.
    stop = next(
        piece
        for k in range(3, len(full.token_ids))
        if (piece := decode(full.token_ids[k : k + 1])).strip()
        and "\ufffd" not in piece
        and text.find(piece) == len(decode(full.token_ids[:k]))
    )
    (cut,) = qwen2_agent.generate([PROMPTS[0]], temperature=0, max_new_tokens=30, stop=[stop])
    assert cut.finish_reason == "stop" and cut.stop_reason == stop and not cut.truncated
    assert cut.token_ids == full.token_ids[: len(cut.token_ids)]
    assert stop in qwen2_agent.tokenizer.decode(cut.token_ids, skip_special_tokens=False)
    assert stop not in qwen2_agent.tokenizer.decode(cut.token_ids[:-1], skip_special_tokens=False)
    assert cut.text == text[: text.find(stop)]


def test_seeds_and_sample_order(qwen2_agent: HFAgent) -> None:
    a = qwen2_agent.generate(PROMPTS[:2], n=3, seed=11, max_new_tokens=12)
    b = qwen2_agent.generate(PROMPTS[:2], n=3, seed=11, max_new_tokens=12)
    c = qwen2_agent.generate(PROMPTS[:2], n=3, seed=12, max_new_tokens=12)
    assert [g.token_ids for g in a] == [g.token_ids for g in b]
    assert [g.token_ids for g in a] != [g.token_ids for g in c]
    first = qwen2_agent.encode(PROMPTS[0])
    assert [g.prompt_ids == first for g in a] == [True] * 3 + [False] * 3  # observation-major
    assert len({tuple(g.token_ids) for g in a[:3]}) > 1  # samples of one prompt differ


def test_top_k_one_is_greedy(qwen2_agent: HFAgent) -> None:
    greedy = qwen2_agent.act(PROMPTS[:2], temperature=0, max_new_tokens=10)
    assert (
        qwen2_agent.act(PROMPTS[:2], temperature=0.8, top_k=1, max_new_tokens=10, seed=1) == greedy
    )


def test_context_limits(qwen2_path) -> None:
    agent = HFAgent(qwen2_path, device="cpu", max_context=40)
    with pytest.raises(ContextLengthError, match="context is 40"):
        agent.generate_tokens([[5] * 40], max_new_tokens=4)
    (generation,) = agent.generate_tokens([[5] * 37], temperature=0, max_new_tokens=10)
    assert (
        len(generation.token_ids) == 3
        and generation.truncated
        and generation.finish_reason == "length"
    )


def test_bad_inputs_fail_clearly(qwen2_agent: HFAgent) -> None:
    with pytest.raises(TypeError, match="wrap a single prompt"):
        qwen2_agent.act("a bare string")
    with pytest.raises(TypeError, match="single message"):
        qwen2_agent.act([{"role": "user", "content": "hi"}])
    with pytest.raises(ValueError, match="empty"):
        qwen2_agent.generate_tokens([[]])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        qwen2_agent.generate_tokens([[1, 10**6]])
    with pytest.raises(ValueError, match="temperature"):
        qwen2_agent.act(["hi"], temperature=-1)
    with pytest.raises(TypeError, match="unknown sampling parameter"):
        qwen2_agent.act(["hi"], beam_width=3)
    assert qwen2_agent.act([]) == []


def test_model_object_and_stats(qwen2_agent: HFAgent) -> None:
    agent = HFAgent(qwen2_agent.model, qwen2_agent.tokenizer)
    assert agent.model is qwen2_agent.model and agent.tokenizer is qwen2_agent.tokenizer
    agent.act(["hi"], max_new_tokens=5, temperature=0)
    assert agent.last_stats["generated_tokens"] >= 1
    with pytest.raises(ValueError, match="tokenizer="):
        HFAgent(qwen2_agent.model)


def test_peft_lora_model(qwen2_path) -> None:
    peft = pytest.importorskip("peft")
    base = HFAgent(qwen2_path, device="cpu")
    lora = peft.get_peft_model(
        base.model,
        peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    agent = HFAgent(lora, base.tokenizer)
    generations = agent.generate(PROMPTS[:2], temperature=0.9, max_new_tokens=8, seed=0)
    for generation in generations:
        expected = reference_logprobs(agent, generation, 0.9)
        assert torch.allclose(torch.tensor(generation.logprobs), expected, atol=1e-3)


def test_finished_rows_waiting_to_leave_the_batch_do_not_disturb_others(
    qwen2_agent: HFAgent,
) -> None:
    eos = qwen2_agent.tokenizer.convert_tokens_to_ids("<|im_end|>")
    prompts = [
        f"prompt number {i}" for i in range(10)
    ]  # one finished row of ten stays in the batch
    free = qwen2_agent.generate(prompts, temperature=0, max_new_tokens=8)
    with forced_tokens(qwen2_agent, {1: {0: eos}}):
        forced = qwen2_agent.generate(prompts, temperature=0, max_new_tokens=8)
    order = sorted(range(10), key=lambda i: len(forced[i].prompt_ids))  # row 0 of the batch
    first = order[0]
    assert forced[first].token_ids == free[first].token_ids[:1] + [eos]
    assert [g.token_ids for i, g in enumerate(forced) if i != first] == [
        g.token_ids for i, g in enumerate(free) if i != first
    ]


def test_one_seed_per_sample_does_not_depend_on_the_batch(qwen2_agent) -> None:
    prompt = "Say something."
    seeds = [101, 102, 103, 104, 105, 106, 107, 108]
    alone = [
        qwen2_agent.generate([prompt], seeds=[s], max_new_tokens=6)[0].token_ids for s in seeds
    ]
    assert len(set(map(tuple, alone))) > 1  # the seeds give different samples
    eos = qwen2_agent.tokenizer.convert_tokens_to_ids("<|im_end|>")
    # Two rows end at once, so the batch shrinks mid-decode: the others keep their generators.
    with forced_tokens(qwen2_agent, {1: {0: eos, 1: eos}}):
        together = qwen2_agent.generate([prompt] * 8, seeds=seeds, max_new_tokens=6)
    assert [g.token_ids for g in together[2:]] == alone[2:]
    with_n = qwen2_agent.generate([prompt], n=2, seeds=seeds[:2], max_new_tokens=6)
    assert [g.token_ids for g in with_n] == alone[:2]
    with pytest.raises(ValueError, match="got 1 seeds for 2 completions"):
        qwen2_agent.generate([prompt], n=2, seeds=[1], max_new_tokens=2)
