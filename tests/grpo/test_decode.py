"""StaticCacheAgent decodes exactly like HFAgent (here on CPU, with the static step run eagerly)."""

from __future__ import annotations

import pytest
import torch

PROMPTS = ["What is 2 + 3?", "x", "Please reason step by step. " * 6, "def add(a, b):", "7 + 8 ="]


@pytest.fixture(scope="module")
def agents(tiny_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.grpo.decode import StaticCacheAgent
    from agents.hf import HFAgent

    model = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32)
    with torch.no_grad():  # a livelier distribution than the tiny init's
        for p in model.parameters():
            p.mul_(8.0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    return HFAgent(model, tokenizer), StaticCacheAgent(model, tokenizer, graphs=False)


def _same(expected, got, atol=1e-4):
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        assert g.token_ids == e.token_ids
        assert g.text == e.text and g.truncated == e.truncated
        assert g.finish_reason == e.finish_reason and g.stop_reason == e.stop_reason
        assert torch.allclose(torch.tensor(g.logprobs), torch.tensor(e.logprobs), atol=atol)


@pytest.mark.parametrize(
    "sampling",
    [dict(temperature=0), dict(temperature=1.0, seed=3, n=3), dict(seeds=list(range(10, 15)))],
)
def test_same_generations_as_hfagent(agents, sampling):
    dynamic, static = agents
    assert static.decode_mode == "static"
    expected = dynamic.generate(PROMPTS, max_new_tokens=12, **sampling)
    got = static.generate(PROMPTS, max_new_tokens=12, **sampling)
    _same(expected, got)
    assert static.fallback_reason is None


def test_eos_stops_rows_and_decoders_are_reused(agents):
    dynamic, static = agents
    eos = sorted(dynamic.eos_token_ids)[0]
    head = dynamic.model.get_output_embeddings()

    def hook(module, inputs, output):  # every row emits EOS at its 3rd token
        hook.calls += 1
        if hook.calls % 3 == 0:
            output = output.clone()
            output[:, -1, eos] += 1e4
        return output

    for agent in (dynamic, static):
        hook.calls = 0
        handle = head.register_forward_hook(hook)
        try:
            generations = agent.generate(PROMPTS[:3], max_new_tokens=10, temperature=0)
        finally:
            handle.remove()
        assert all(g.num_tokens == 3 and g.stop_reason == eos for g in generations)
        assert all(not g.truncated for g in generations)
    before = len(static._decoders)
    static.generate(PROMPTS[1:4], max_new_tokens=10, temperature=0)
    assert len(static._decoders) == before  # same bucket: the cache is reused


def test_stop_strings_use_the_dynamic_loop(agents):
    dynamic, static = agents
    expected = dynamic.generate(PROMPTS[:2], max_new_tokens=8, temperature=0, stop=["is"])
    _same(expected, static.generate(PROMPTS[:2], max_new_tokens=8, temperature=0, stop=["is"]))


def test_graphs_fall_back_off_cuda(tiny_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.grpo.decode import StaticCacheAgent

    model = AutoModelForCausalLM.from_pretrained(tiny_path, dtype=torch.float32)
    agent = StaticCacheAgent(model, AutoTokenizer.from_pretrained(tiny_path), graphs=True)
    if agent.device.type != "cuda":
        assert agent.decode_mode == "dynamic" and "CUDA" in agent.fallback_reason
        assert len(agent.generate(["hi"], max_new_tokens=3, temperature=0)[0].token_ids) <= 3


def test_finished_rows_stop_costing_compute(agents):
    """Rows that end early move out of the static batch: fewer row-steps decoded, and the
    generations stay those of HFAgent (greedy, and seeded per sample)."""
    check_finished_rows_leave_the_batch(*agents)


def check_finished_rows_leave_the_batch(dynamic, static, atol=1e-4):
    """18 of 20 rows may add only 5 tokens (their prompts fill the context), 2 add up to 40."""
    long_prompt, short_prompt = PROMPTS[2], PROMPTS[1]
    prompts = [long_prompt] * 18 + [short_prompt] * 2  # 20 rows: a bucket of 32
    context = len(dynamic.encode(long_prompt)) + 5  # long prompts may add 5 tokens, short 40
    results = {}
    for name, agent in (("dynamic", dynamic), ("static", static)):
        for seeded in (False, True):
            sampling = dict(seeds=list(range(100, 120))) if seeded else dict(temperature=0)
            before, saved = static.decoded_row_steps, agent.max_context
            agent.max_context = context
            try:
                out = agent.generate(prompts, max_new_tokens=40, **sampling)
            finally:
                agent.max_context = saved
            results[name, seeded] = (out, static.decoded_row_steps - before)
    for seeded in (False, True):
        expected, _ = results["dynamic", seeded]
        got, row_steps = results["static", seeded]
        _same(expected, got, atol)
        assert all(g.num_tokens <= 5 for g in got[:18])
        longest = max(g.num_tokens for g in got[18:])
        assert longest > 16, longest  # the short prompts decode on ...
        # ... in a bucket of 8 from the first sync after the others stop, not in the bucket of 32
        assert row_steps <= 32 * 8 + 8 * (longest - 8), row_steps
    assert static.fallback_reason is None
