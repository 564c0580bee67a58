"""A scripted token agent for the tool tests: it calls the calculator on the question, then
answers with the tool's result, token-exactly (and it can sit behind agents.serve)."""

from __future__ import annotations

import re

from rlvr_envs.agent import Generation
from rlvr_envs.envs.tools import tool_call_text
from rlvr_envs.rollout.tokens import encode_observation, encode_text

_QUESTION = re.compile(r"What is (.+?)\?")
_RESULT = re.compile(r"<tool_response>\n(.*?)\n</tool_response>", re.DOTALL)


class ScriptedToolAgent:
    """Calls the calculator on the question, then answers with the tool's result (tokens)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.eos = tokenizer.eos_token_id

    def action(self, prompt: str) -> str:
        results = _RESULT.findall(prompt)
        if results:
            return f"The result is \\boxed{{{results[-1]}}}"
        expression = _QUESTION.findall(prompt)[-1]
        return "Let me compute.\n" + tool_call_text("calculator", {"expression": expression})

    def generate_tokens(self, prompts, **sampling):
        out = []
        for prompt in prompts:
            text = self.action(self.tokenizer.decode(prompt))
            ids = encode_text(self.tokenizer, text) + [self.eos]
            out.append(Generation(text, list(prompt), ids, [-0.25] * len(ids), False))
        return out

    name = "scripted-tools"
    max_context = None

    def encode(self, observation) -> list[int]:
        return encode_observation(self.tokenizer, observation)
