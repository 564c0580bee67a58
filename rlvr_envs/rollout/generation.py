"""The agent's side of a rollout: one call per generation batch, seeds, and per-input failures.

Text mode calls ``act`` (or ``generate`` when the agent reports tokens, for exact token counts);
token mode calls ``generate_tokens`` on each episode's token stream. Seeds follow the rollout's
``seeding``:

- ``"call"``: one seed per agent call, derived from the base seed and the call number (what a
  trainer wants: a batch is sampled with one generator, fast);
- ``"sample"``: one seed per sample (``sample_seed``, shifted for each later turn), given to agents
  whose method names a ``seeds`` parameter; then a sample never depends on its batch-mates, so a
  resumed or re-batched evaluation draws the same samples. Other agents get the batch's first seed.

An agent error about one input (``ValueError`` / ``TypeError``: a prompt over the context, a
rejected request, a malformed answer) is retried one observation at a time and, with
``on_error="record"``, recorded against that episode only. Anything else (a dead server, a bad
key, a bug) stops the rollout; a resumable caller reruns it later.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping
from typing import Any

from ..agent.callable import Completion
from ..agent.protocol import SamplingParams
from .episode import Episode
from .pools import RolloutError

logger = logging.getLogger(__name__)

SEEDINGS = ("call", "sample")
ON_ERROR = ("raise", "record")
_TURN_SEED_STRIDE = 7919  # later turns of a sample get seed + stride * turn


def approximate_tokens(text: str) -> int:
    """About one token per four UTF-8 bytes: the usual rate of English BPE vocabularies."""
    size = len(text.encode("utf-8", "surrogatepass"))
    return (size + 3) // 4


def is_per_input_error(error: BaseException) -> bool:
    """True for agent errors about one input, which are recorded rather than stopping a run."""
    return isinstance(error, (ValueError, TypeError))


def _names_seeds(method: Any) -> bool:
    try:
        return "seeds" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


class AgentCaller:
    """Calls the agent for batches of ``(episode, observation)`` and returns one result each."""

    def __init__(
        self,
        agent: Any,
        *,
        mode: str,
        sampling: Mapping[str, Any],
        seeding: str,
        base_seed: int,
        on_error: str,
    ) -> None:
        for name, value, allowed in (
            ("seeding", seeding, SEEDINGS),
            ("on_error", on_error, ON_ERROR),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        self.agent, self.mode, self.seeding, self.on_error = agent, mode, seeding, on_error
        params = SamplingParams.build(sampling)
        if params.n != 1:
            raise ValueError("use group_size for several samples per task, not n")
        # Only what the caller set is passed on, so an agent's own defaults stay in force.
        given = {SamplingParams.alias(k) for k in sampling} - {"n", "seed"}
        self.sampling = {k: getattr(params, k) for k in sorted(given)}
        self.base_seed = params.seed if params.seed is not None else base_seed
        self.tokenizer = getattr(agent, "tokenizer", None)
        if mode == "tokens":
            self.method = agent.generate_tokens
        elif callable(getattr(agent, "generate", None)) and self.tokenizer is not None:
            self.method = agent.generate  # Generation records carry exact token counts
        else:
            self.method = agent.act
        self.takes_seeds = _names_seeds(self.method)
        self.calls = 0
        self.generate_s = 0.0
        self._warned = False

    def generate(self, batch: list[tuple[Episode, Any]]) -> list[Any]:
        """One result per episode: a Generation (tokens), a completion text, or the exception
        the agent raised for that input (``on_error="record"``)."""
        start = time.perf_counter()
        results = self._call(batch)
        elapsed = time.perf_counter() - start
        self.generate_s += elapsed
        for episode, _ in batch:
            episode.generate_s += elapsed / len(batch)
        return results

    def _seeds(self, batch: list[tuple[Episode, Any]]) -> list[int]:
        if self.seeding == "call":
            seed = (self.base_seed * 1_000_003 + self.calls) % (2**63)
            return [seed] * len(batch)
        seeds = []
        for episode, _ in batch:
            base = episode.sample_seed
            if base is None:
                base = (self.base_seed * 1_000_003 + episode.index) % (2**31)
            seeds.append(base + _TURN_SEED_STRIDE * episode.num_turns)
        return seeds

    def _invoke(self, batch: list[tuple[Episode, Any]]) -> list[Any]:
        self.calls += 1
        seeds = self._seeds(batch)
        kwargs = {**self.sampling, "seed": seeds[0]}
        if self.seeding == "sample" and self.takes_seeds:
            kwargs["seeds"] = seeds
        if self.mode == "tokens":
            inputs = [episode.token_ids for episode, _ in batch]
        else:
            inputs = [observation for _, observation in batch]
        answers = list(self.method(inputs, **kwargs))
        if len(answers) != len(batch):
            raise RolloutError(
                f"the agent returned {len(answers)} answers for {len(batch)} observations"
            )
        if self.mode == "tokens":
            return answers
        return [self._text(answer) for answer in answers]

    def _text(self, answer: Any) -> Any:
        if not isinstance(answer, str) and isinstance(getattr(answer, "text", None), str):
            return Completion(answer.text, getattr(answer, "num_tokens", None))
        if isinstance(answer, str):
            return answer
        error = TypeError(f"the agent returned a {type(answer).__name__}, not a str")
        if self.on_error == "raise":
            raise error
        return error

    def _call(self, batch: list[tuple[Episode, Any]]) -> list[Any]:
        try:
            return self._invoke(batch)
        except Exception as error:
            if self.on_error == "raise" or not is_per_input_error(error):
                raise
            if len(batch) == 1:
                if not self._warned:
                    logger.warning("the agent failed on an observation: %r", error)
                    self._warned = True
                return [error]
        # Retry one observation at a time so that one bad prompt does not fail its batch-mates.
        return [result for item in batch for result in self._call([item])]

    def count_tokens(self, completion: str) -> tuple[int, str]:
        """Tokens in a text-mode completion, and where the count came from."""
        tokens = getattr(completion, "num_tokens", None)
        if isinstance(tokens, int):
            return tokens, "agent"
        encode = getattr(self.tokenizer, "encode", None)
        if callable(encode):
            try:
                return len(encode(str(completion), add_special_tokens=False)), "tokenizer"
            except TypeError:
                return len(encode(str(completion))), "tokenizer"
        return approximate_tokens(str(completion)), "approximate"


_SOURCE_RANK = {"none": -1, "approximate": 0, "tokenizer": 1, "agent": 2}


def weakest_source(current: str, new: str) -> str:
    """The less exact of two token-count sources (an episode is as exact as its worst turn)."""
    if current == "none":
        return new
    return min(current, new, key=lambda s: _SOURCE_RANK.get(s, 0))
