"""Continuation encoding: only what the environment added is tokenised, never earlier turns."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from rlvr_envs.rollout.tokens import (
    TranscriptError,
    continuation_text,
    encode_observation,
    render_chat,
)


@pytest.fixture(scope="module")
def qwen_tok(qwen2_path):
    return AutoTokenizer.from_pretrained(qwen2_path)


@pytest.fixture(scope="module")
def llama_tok(llama_path):
    return AutoTokenizer.from_pretrained(llama_path)


def ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def test_text_mode_takes_the_suffix_after_previous_plus_action(qwen_tok) -> None:
    previous, action = "Q: 2+2?\n", "5"
    new = previous + action + "\n\nWrong. Try again.\n\n"
    assert (
        continuation_text(qwen_tok, previous, action, ids(qwen_tok, action), new)
        == "\n\nWrong. Try again.\n\n"
    )
    with pytest.raises(TranscriptError, match="append-only"):
        continuation_text(qwen_tok, previous, action, [], previous + "6\n\nfeedback")
    with pytest.raises(TranscriptError, match="chat observation"):
        continuation_text(qwen_tok, previous, action, [], [{"role": "user", "content": "x"}])


USER = [{"role": "user", "content": "What is 2 + 2?"}]


def chat_turn(action: str, feedback: str = "Wrong, try again.") -> list[dict[str, str]]:
    return USER + [{"role": "assistant", "content": action}, {"role": "user", "content": feedback}]


def test_chatml_after_eos_adds_the_newline_then_the_new_messages(qwen_tok) -> None:
    sampled = ids(qwen_tok, "5<|im_end|>")
    text = continuation_text(qwen_tok, USER, "5", sampled, chat_turn("5"))
    assert text == "\n<|im_start|>user\nWrong, try again.<|im_end|>\n<|im_start|>assistant\n"
    # The stream is then exactly the template's rendering of the whole conversation.
    stream = encode_observation(qwen_tok, USER) + sampled + ids(qwen_tok, text)
    assert qwen_tok.decode(stream) == render_chat(
        qwen_tok, chat_turn("5"), add_generation_prompt=True
    )


def test_chatml_truncated_turn_is_closed_by_environment_tokens(qwen_tok) -> None:
    sampled = ids(qwen_tok, "The answer is")
    text = continuation_text(qwen_tok, USER, "The answer is", sampled, chat_turn("The answer is"))
    assert text.startswith("<|im_end|>\n<|im_start|>user\n")


def test_chatml_stop_string_keeps_sampled_tokens_and_closes_the_turn(qwen_tok) -> None:
    sampled = ids(qwen_tok, "4 </answer>")  # the stop string was sampled; the action excludes it
    text = continuation_text(qwen_tok, USER, "4 ", sampled, chat_turn("4 "))
    assert text.startswith("<|im_end|>\n<|im_start|>user\n")


def test_llama_template_continuation(llama_tok) -> None:
    sampled = ids(llama_tok, "5<|eot_id|>")
    text = continuation_text(llama_tok, USER, "5", sampled, chat_turn("5"))
    assert (
        text
        == "<|start_header_id|>user<|end_header_id|>\n\nWrong, try again.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    stream = encode_observation(llama_tok, USER) + sampled + ids(llama_tok, text)
    assert llama_tok.decode(stream) == render_chat(
        llama_tok, chat_turn("5"), add_generation_prompt=True
    )


def test_chat_transcripts_that_rewrite_history_are_rejected(qwen_tok) -> None:
    with pytest.raises(TranscriptError, match="previous messages"):
        continuation_text(
            qwen_tok, USER, "5", [], [{"role": "user", "content": "changed"}, *chat_turn("5")[1:]]
        )
    with pytest.raises(TranscriptError, match="action verbatim"):
        continuation_text(qwen_tok, USER, "5", [], chat_turn("5 (edited)"))
    with pytest.raises(TranscriptError, match="text observation"):
        continuation_text(qwen_tok, USER, "5", [], "plain text")


def test_chat_needs_a_template(qwen_tok) -> None:
    tok = AutoTokenizer.from_pretrained(qwen_tok.name_or_path)
    tok.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        encode_observation(tok, USER)


def test_history_rewriting_template_falls_back_to_a_neutral_prefix(qwen_tok) -> None:
    """A template that drops the content of earlier assistant turns (as reasoning models do)."""
    tok = AutoTokenizer.from_pretrained(qwen_tok.name_or_path)
    tok.chat_template = (
        "{%- for m in messages %}{%- if m['role'] == 'assistant' and not loop.last %}"
        "{{- '<|im_start|>assistant\\n(earlier)<|im_end|>\\n' }}{%- else %}"
        "{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    )
    sampled = ids(tok, "5<|im_end|>")
    text = continuation_text(tok, USER, "5", sampled, chat_turn("5"))
    assert text == "\n<|im_start|>user\nWrong, try again.<|im_end|>\n<|im_start|>assistant\n"
