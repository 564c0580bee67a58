"""The tiny-model builder: offline, saved with save_pretrained, loaded through from_pretrained."""

from __future__ import annotations

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from agents.tiny import build_tiny_model, train_tokenizer


@pytest.mark.parametrize("fixture, arch", [("qwen2_path", "qwen2"), ("llama_path", "llama")])
def test_saved_model_loads_like_a_user_checkpoint(request, fixture: str, arch: str) -> None:
    path = request.getfixturevalue(fixture)
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == arch
    assert sum(p.numel() for p in model.parameters()) < 500_000
    assert model.config.vocab_size == len(tokenizer)
    eos = GenerationConfig.from_pretrained(path).eos_token_id
    assert isinstance(eos, list) and len(eos) == 2 and tokenizer.eos_token_id in eos
    text = "héllo wörld 12+35=47 中文 😀\n\tdef f(x):  return x"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert "hi" in rendered and rendered.endswith("\n")
    # The trained tokenizer is exactly what loads back (AutoTokenizer may rebuild a model class).
    trained = train_tokenizer(arch)
    assert trained(text)["input_ids"] == tokenizer(text)["input_ids"]


def test_builder_is_seeded_and_configurable(tmp_path) -> None:
    settings = dict(
        seed=1, hidden_size=32, num_layers=1, corpus=["abc abc abd"] * 5, vocab_size=300
    )
    a, b = (
        build_tiny_model(tmp_path / "a", **settings),
        build_tiny_model(tmp_path / "b", **settings),
    )
    ma, mb = AutoModelForCausalLM.from_pretrained(a), AutoModelForCausalLM.from_pretrained(b)
    assert ma.config.hidden_size == 32 and ma.config.num_hidden_layers == 1
    assert all((pa == pb).all() for pa, pb in zip(ma.parameters(), mb.parameters()))
    with pytest.raises(ValueError, match="unknown arch"):
        train_tokenizer("gpt9")
    with pytest.raises(ValueError, match="empty"):
        train_tokenizer(corpus=[])
