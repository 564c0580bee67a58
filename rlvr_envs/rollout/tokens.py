"""Token-exact prompt and multi-turn continuation encoding with a Hugging Face tokenizer (duck-typed:
nothing here imports transformers).

A multi-turn episode is one token stream: the first prompt's tokens, then for every turn the tokens
the agent sampled followed by the tokens of only what the environment added. Earlier turns are never
re-tokenised: re-applying a chat template to the whole history can give other tokens than were
sampled (a different split of the same text, a turn closed differently), which silently corrupts
log-prob ratios and loss masks in RL training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..agent.protocol import TOOLS_KEY, Message, Observation, split_tools


class TranscriptError(ValueError):
    """An environment's next observation does not extend the previous one append-only."""


def render_chat(tokenizer: Any, messages: Sequence[Message], *, add_generation_prompt: bool) -> str:
    """The chat template applied to ``messages``, as text; tools declared on the first message
    (see :data:`~rlvr_envs.agent.protocol.TOOLS_KEY`) go to the template's ``tools``."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "this tokenizer has no chat template, so chat observations cannot be encoded; "
            "make the environment with chat=False or give the tokenizer a chat_template"
        )
    plain, tools = split_tools(messages)
    if tools is None:
        return tokenizer.apply_chat_template(
            plain, add_generation_prompt=add_generation_prompt, tokenize=False
        )
    if not renders_tools(tokenizer):
        raise ValueError(
            "this tokenizer's chat template ignores tools, so the model would never see them; "
            "make the tool environment with chat=False (tools described in the prompt text) or "
            "give the tokenizer a tool-capable chat template"
        )
    return tokenizer.apply_chat_template(
        plain, tools=tools, add_generation_prompt=add_generation_prompt, tokenize=False
    )


_RENDERS_TOOLS: dict[str, bool] = {}


def renders_tools(tokenizer: Any) -> bool:
    """True when the tokenizer's chat template writes the tools it is given into the prompt."""
    template = tokenizer.chat_template
    key = template if isinstance(template, str) else repr(template)
    if key not in _RENDERS_TOOLS:
        probe = {
            "type": "function",
            "function": {
                "name": "probe_tool_7c1e",
                "description": "a probe",
                "parameters": {"type": "object", "properties": {}, "required": []},
            },
        }
        messages = [{"role": "user", "content": "hello"}]
        try:
            text = tokenizer.apply_chat_template(messages, tools=[probe], tokenize=False)
        except Exception:  # a template may reject the tools argument outright
            text = ""
        _RENDERS_TOOLS[key] = "probe_tool_7c1e" in text
    return _RENDERS_TOOLS[key]


def encode_text(tokenizer: Any, text: str, *, special: bool = False) -> list[int]:
    """Token ids of ``text``; ``special`` adds the tokenizer's BOS/EOS decorations."""
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def encode_observation(tokenizer: Any, observation: Observation) -> list[int]:
    """Prompt token ids: plain text with the tokenizer's BOS, or messages through the chat template."""
    if isinstance(observation, str):
        return encode_text(tokenizer, observation, special=True)
    # The rendered template already holds BOS where the model wants it.
    return encode_text(tokenizer, render_chat(tokenizer, observation, add_generation_prompt=True))


def continuation_text(
    tokenizer: Any,
    previous: Observation,
    action: str,
    sampled_ids: Sequence[int],
    new: Observation,
) -> str:
    """The text the environment added after the sampled tokens, to be tokenised on its own.

    Text mode: the new observation must start with ``previous + action``; the rest is new.
    Chat mode: the new message list must be ``previous + [assistant action] + new messages``; the
    result is whatever the chat template puts after the sampled tokens to close the assistant turn
    (``"\\n"`` after ``<|im_end|>``, or the whole closing tag when generation was cut short), then
    the rendering of the new messages and the next generation prompt.
    """
    if isinstance(previous, str):
        if not isinstance(new, str):
            raise TranscriptError("a text observation was followed by a chat observation")
        head = previous + action
        if not new.startswith(head):
            raise TranscriptError(
                "the new observation does not start with the previous observation followed by the "
                "action verbatim; token-exact multi-turn rollouts need an append-only transcript"
            )
        return new[len(head) :]
    if isinstance(new, str):
        raise TranscriptError("a chat observation was followed by a text observation")
    return _chat_continuation(tokenizer, list(previous), action, sampled_ids, list(new))


def _chat_continuation(
    tokenizer: Any,
    previous: list[Message],
    action: str,
    sampled_ids: Sequence[int],
    new: list[Message],
) -> str:
    n = len(previous)
    if [dict(m) for m in new[:n]] != [dict(m) for m in previous]:
        raise TranscriptError("the new chat observation does not start with the previous messages")
    reply = new[n] if len(new) > n else {}
    # The action verbatim, or (a turn with tool calls) its text outside the calls plus the calls.
    if reply.get("role") != "assistant" or (
        reply.get("content") != action and not reply.get("tool_calls")
    ):
        raise TranscriptError(
            "the new chat observation must continue with an assistant message holding the action "
            "verbatim (or its text and tool calls)"
        )
    with_action = previous + [dict(reply)]
    prompt_text = render_chat(tokenizer, previous, add_generation_prompt=True)
    turn_text = render_chat(tokenizer, with_action, add_generation_prompt=False)
    full_text = render_chat(tokenizer, new, add_generation_prompt=True)
    if not turn_text.startswith(prompt_text):
        raise TranscriptError(
            "the chat template renders the assistant turn in a way that does not extend the prompt"
        )
    turn = turn_text[len(prompt_text) :]  # the assistant turn as the template writes it
    sampled = tokenizer.decode(list(sampled_ids), skip_special_tokens=False)
    if turn.startswith(sampled):
        bridge = turn[len(sampled) :]
    elif turn.startswith(action):
        # Generation ended on a stop string or an unusual EOS: those sampled tokens stay in the
        # stream, and the template's own closing of the turn follows them.
        bridge = turn[len(action) :]
    elif reply.get("tool_calls"):
        # The template writes the calls its own way (spacing, key order): what was sampled stays,
        # followed by whatever of the template's turn closing it did not sample itself.
        bridge = _turn_closing(tokenizer, previous, prompt_text, sampled)
    else:
        raise TranscriptError(
            "the chat template does not render the action verbatim in the assistant turn"
        )
    if full_text.startswith(turn_text):
        return bridge + full_text[len(turn_text) :]
    # Templates that rewrite history (e.g. drop reasoning from earlier turns) are not append-only:
    # render the new messages after a neutral prefix and keep the difference. A lone user message
    # suits most templates; templates that insist on alternating roles get a full exchange.
    added = [dict(m) for m in new[n + 1 :]]
    _, tools = split_tools(previous)
    if tools is not None and added:  # the neutral prefix must declare the same tools
        added[0].setdefault(TOOLS_KEY, tools)
    for base in (
        [{"role": "user", "content": "."}],
        [{"role": "user", "content": "."}, {"role": "assistant", "content": "."}],
    ):
        try:
            base_text = render_chat(tokenizer, base, add_generation_prompt=False)
            tail_text = render_chat(tokenizer, base + added, add_generation_prompt=True)
        except Exception:  # a template may reject a role order (jinja raise_exception)
            continue
        if tail_text.startswith(base_text):
            return bridge + tail_text[len(base_text) :]
    raise TranscriptError(
        "the chat template is not append-only; cannot encode only the new messages"
    )


_PROBE_CONTENT = "\x00probe\x00"


def _turn_closing(tokenizer: Any, previous: list[Message], prompt_text: str, sampled: str) -> str:
    """What the template writes after an assistant turn's content (``"<|im_end|>\\n"``), minus
    the part the sampled text already ends with (the EOS token, usually)."""
    probe = render_chat(
        tokenizer,
        previous + [{"role": "assistant", "content": _PROBE_CONTENT}],
        add_generation_prompt=False,
    )
    turn = probe[len(prompt_text) :] if probe.startswith(prompt_text) else ""
    if not turn.startswith(_PROBE_CONTENT):
        raise TranscriptError("the chat template does not write assistant content verbatim")
    closing = turn[len(_PROBE_CONTENT) :]
    for k in range(len(closing), 0, -1):
        if sampled.endswith(closing[:k]):
            return closing[k:]
    return closing
