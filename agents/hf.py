"""A Hugging Face transformers model as an agent: batched, token-exact generation with log-probs.

Decoding is a small explicit loop over the model's forward pass with a KV cache rather than
``model.generate``, so that what the agent reports is exactly what it did:

- every EOS id (generation config + tokenizer) ends a sample, not only the first one;
- attention masks and positions come from prompt lengths, never from the pad id (pad may equal eos,
  and a multi-turn prompt may contain eos tokens);
- the log-prob of each sampled token is read from the same logits it was sampled from;
- the model runs in eval mode with its KV cache whatever its training state (dropout off, gradient
  checkpointing inactive), and every module's previous mode is restored afterwards;
- prompts are sorted by length and batched (left padding), finished rows leave the batch.
"""

from __future__ import annotations

import inspect
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rlvr_envs.agent import (
    ContextLengthError,
    Generation,
    Observation,
    SamplingParams,
    check_observations,
)
from rlvr_envs.rollout.tokens import encode_observation


@contextmanager
def generation_mode(model: Any) -> Iterator[None]:
    """Eval mode and no autograd for the duration; each module's own mode is restored after."""
    import torch

    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training


def _resolve_device(device: Any) -> Any:
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _resolve_dtype(dtype: Any, device: Any) -> Any:
    import torch

    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, str):
        return getattr(torch, dtype)
    return dtype


def _base_model(model: Any) -> Any:
    get_base = getattr(model, "get_base_model", None)  # a PEFT wrapper
    return get_base() if callable(get_base) else model


class HFAgent:
    """A causal LM from a local path, a hub id or an already loaded model, with its tokenizer.

    ``agent.model`` and ``agent.tokenizer`` are the live objects: a trainer may update the model's
    weights between calls and toggle its train/eval mode freely.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        device: Any = None,
        dtype: Any = None,
        batch_size: int = 64,
        max_batch_tokens: int | None = None,
        max_context: int | None = None,
        eos_token_ids: Sequence[int] | None = None,
        sampling: SamplingParams | Mapping[str, Any] | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if isinstance(model, (str, os.PathLike)):
            self.name = str(model)
            resolved = _resolve_device(device)
            self.model = AutoModelForCausalLM.from_pretrained(
                self.name, dtype=_resolve_dtype(dtype, resolved), **dict(model_kwargs or {})
            ).to(resolved)
            if tokenizer is None:
                tokenizer = self.name
        else:
            self.name = str(
                getattr(getattr(model, "config", None), "name_or_path", "") or type(model).__name__
            )
            self.model = model
            if device is not None:
                self.model.to(_resolve_device(device))
            if tokenizer is None:
                raise ValueError("HFAgent needs tokenizer= when given a model object")
        if isinstance(tokenizer, (str, os.PathLike)):
            tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))
        self.tokenizer = tokenizer
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.default_sampling = SamplingParams.build(sampling)

        config = self.model.config
        self.max_context = max_context or getattr(config, "max_position_embeddings", None)
        self.vocab_size = int(self.model.get_input_embeddings().num_embeddings)
        self.eos_token_ids = frozenset(
            eos_token_ids if eos_token_ids is not None else self._find_eos_ids()
        )
        if not self.eos_token_ids:
            raise ValueError(
                "no EOS token id in the generation config or tokenizer; pass eos_token_ids="
            )
        pad = getattr(tokenizer, "pad_token_id", None)
        # Only fills padded slots: masks come from lengths, so any valid id works.
        self.pad_token_id = int(pad) if pad is not None else min(self.eos_token_ids)

        params = inspect.signature(type(_base_model(self.model)).forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._logits_to_keep = "logits_to_keep" in params
        self.last_stats: dict[str, float] = {}
        self._torch = torch

    def _find_eos_ids(self) -> set[int]:
        ids: set[int] = set()
        gen_config = getattr(self.model, "generation_config", None)
        for source in (
            getattr(gen_config, "eos_token_id", None),
            getattr(self.tokenizer, "eos_token_id", None),
        ):
            if isinstance(source, int):
                ids.add(source)
            elif source is not None:
                ids.update(int(i) for i in source)
        return ids

    @property
    def device(self) -> Any:
        """Where the model's parameters live."""
        return next(self.model.parameters()).device

    def __repr__(self) -> str:
        return f"HFAgent({self.name!r}, device={self.device}, dtype={next(self.model.parameters()).dtype})"

    # --- the agent protocol -------------------------------------------------------------------

    def act(
        self,
        observations: Sequence[Observation],
        *,
        seeds: Sequence[int] | None = None,
        **sampling: Any,
    ) -> list[str]:
        """Completion texts, observation-major with ``n`` samples each (``seeds``: one per sample)."""
        return [g.text for g in self.generate(observations, seeds=seeds, **sampling)]

    def encode(self, observation: Observation) -> list[int]:
        """Prompt token ids for one observation (chat template for message lists)."""
        return encode_observation(self.tokenizer, observation)

    def generate(
        self,
        observations: Sequence[Observation],
        *,
        seeds: Sequence[int] | None = None,
        **sampling: Any,
    ) -> list[Generation]:
        """Token-exact generations for observations."""
        batch = check_observations(observations)
        return self.generate_tokens([self.encode(obs) for obs in batch], seeds=seeds, **sampling)

    def generate_tokens(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        seeds: Sequence[int] | None = None,
        **sampling: Any,
    ) -> list[Generation]:
        """Token-exact generations continuing tokenised prompts (observation-major with ``n``).

        With ``seeds`` (one per sample) every sample draws from its own generator, so it does not
        depend on the other samples of the call; else one generator seeded by ``seed`` serves the
        whole call (faster).
        """
        params = SamplingParams.build(self.default_sampling, **sampling)
        rows: list[list[int]] = []
        limits: list[int] = []
        for index, prompt in enumerate(prompts):
            ids = self._check_prompt(index, prompt)
            limit = params.max_new_tokens
            if self.max_context is not None:
                limit = min(limit, self.max_context - len(ids))
            rows.extend([ids] * params.n)
            limits.extend([limit] * params.n)
        if not rows:
            return []
        generator = self._generators(params, seeds, len(rows))
        results: list[Generation | None] = [None] * len(rows)
        started = time.perf_counter()
        with generation_mode(self.model):
            for batch in self._plan_batches(rows, limits):
                outputs = self._decode(
                    [rows[i] for i in batch],
                    [limits[i] for i in batch],
                    params,
                    [generator[i] for i in batch] if isinstance(generator, list) else generator,
                )
                for i, generation in zip(batch, outputs):
                    results[i] = generation
        elapsed = time.perf_counter() - started
        generated = sum(g.num_tokens for g in results if g is not None)
        self.last_stats = {
            "generate_s": elapsed,
            "prompt_tokens": float(sum(len(r) for r in rows)),
            "generated_tokens": float(generated),
            "tokens_per_s": generated / elapsed if elapsed > 0 else 0.0,
        }
        return results  # type: ignore[return-value]

    # --- internals ----------------------------------------------------------------------------

    def _generators(self, params: SamplingParams, seeds: Sequence[int] | None, rows: int) -> Any:
        """One generator for the call, or one per sample when ``seeds`` gives one per sample."""
        torch = self._torch
        if seeds is None:
            seed = params.seed if params.seed is not None else random.getrandbits(63)
            return torch.Generator(device=self.device).manual_seed(seed)
        if len(seeds) != rows:
            raise ValueError(f"got {len(seeds)} seeds for {rows} completions")
        return [torch.Generator(device=self.device).manual_seed(int(s)) for s in seeds]

    def _check_prompt(self, index: int, prompt: Sequence[int]) -> list[int]:
        if isinstance(prompt, (str, bytes)) or not isinstance(prompt, Sequence):
            raise TypeError(
                f"prompt {index} must be a list of token ids, got {type(prompt).__name__}"
            )
        ids = [int(t) for t in prompt]
        if not ids:
            raise ValueError(f"prompt {index} is empty; a prompt needs at least one token")
        bad = [t for t in ids if not 0 <= t < self.vocab_size]
        if bad:
            raise ValueError(
                f"prompt {index} has token ids outside the vocabulary [0, {self.vocab_size}): {bad[:5]}"
            )
        if self.max_context is not None and len(ids) >= self.max_context:
            raise ContextLengthError(
                f"prompt {index} has {len(ids)} tokens; the model's context is {self.max_context} "
                "tokens, which leaves no room to generate"
            )
        return ids

    def _plan_batches(self, rows: list[list[int]], limits: list[int]) -> list[list[int]]:
        """Group row indices by prompt length so little padding is computed."""
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        batches: list[list[int]] = []
        current: list[int] = []
        longest = most_new = 0
        for i in order:
            width = max(longest, len(rows[i])) + max(most_new, limits[i])
            too_many_tokens = (
                self.max_batch_tokens is not None
                and (len(current) + 1) * width > self.max_batch_tokens
            )
            if current and (len(current) >= self.batch_size or too_many_tokens):
                batches.append(current)
                current, longest, most_new = [], 0, 0
            current.append(i)
            longest, most_new = max(longest, len(rows[i])), max(most_new, limits[i])
        if current:
            batches.append(current)
        return batches

    def _forward(self, input_ids: Any, mask: Any, positions: Any, cache: Any) -> Any:
        kwargs: dict[str, Any] = {self._cache_arg: cache, "use_cache": True}
        if self._logits_to_keep:
            kwargs["logits_to_keep"] = 1
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, **kwargs)
        return out.logits[:, -1, :].float()

    def _sample(self, logits: Any, params: SamplingParams, generator: Any) -> tuple[Any, Any]:
        torch = self._torch
        if params.greedy:
            logp = torch.log_softmax(logits, dim=-1)
            chosen = logp.argmax(dim=-1)
        else:
            logp = torch.log_softmax(logits / params.temperature, dim=-1)
            filtered = logp
            if params.top_k and params.top_k < filtered.shape[-1]:
                kth = torch.topk(filtered, params.top_k, dim=-1).values[:, -1:]
                filtered = filtered.masked_fill(filtered < kth, float("-inf"))
            if params.top_p < 1.0:
                ordered, index = torch.sort(filtered, dim=-1, descending=True)
                probs = ordered.exp()
                # Drop a token when the mass before it already reaches top_p (the first one stays).
                drop = (probs.cumsum(dim=-1) - probs) >= params.top_p
                ordered = ordered.masked_fill(drop, float("-inf"))
                filtered = torch.full_like(filtered, float("-inf")).scatter(-1, index, ordered)
            probs = torch.softmax(filtered, dim=-1)
            if isinstance(generator, list):  # one generator per row
                chosen = torch.cat(
                    [torch.multinomial(p[None], 1, generator=g) for p, g in zip(probs, generator)]
                ).squeeze(-1)
            else:
                chosen = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        return chosen, logp.gather(-1, chosen[:, None]).squeeze(-1)

    def _decode(
        self, prompts: list[list[int]], limits: list[int], params: SamplingParams, generator: Any
    ) -> list[Generation]:
        from transformers import DynamicCache

        torch = self._torch
        device = self.device
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, prompt in enumerate(prompts):
            ids[i, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[i, width - len(prompt) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(dim=-1) - 1).clamp(min=0)
        cache = DynamicCache(config=self.model.config)
        logits = self._forward(ids, mask, positions, cache)
        next_positions = positions[:, -1:] + 1

        # Sampled tokens and log-probs stay on the device, indexed by row; the loop syncs once per
        # step (how many rows still run). Finished rows leave the batch (and the cache) once they
        # are an eighth of it; until then they decode junk that nobody reads.
        count, longest = len(prompts), max(limits)
        tokens = torch.full((count, longest), self.pad_token_id, dtype=torch.long, device=device)
        logprobs = torch.zeros((count, longest), dtype=torch.float32, device=device)
        lengths = torch.tensor(limits, dtype=torch.long, device=device)
        ended_by = torch.full((count,), -1, dtype=torch.long, device=device)  # the EOS id, if any
        eos = torch.tensor(sorted(self.eos_token_ids), dtype=torch.long, device=device)
        rows = torch.arange(count, device=device)  # batch slot -> row
        running = torch.ones(count, dtype=torch.bool, device=device)
        slot_limits = lengths.clone()
        stopped: dict[int, str] = {}
        history: list[list[int]] = [[] for _ in prompts]
        window = 2 * max((len(s.encode()) for s in params.stop), default=0) + 4
        step = 0
        while True:
            chosen, chosen_logp = self._sample(logits, params, generator)
            tokens[rows, step] = chosen
            logprobs[rows, step] = chosen_logp
            is_eos = torch.isin(chosen, eos)
            ending = running & (is_eos | (slot_limits <= step + 1))
            if params.stop:
                ending |= self._stop_hits(
                    chosen, rows, running, history, window, params.stop, stopped
                )
            lengths[rows] = torch.where(ending, step + 1, lengths[rows])
            ended_by[rows] = torch.where(ending & is_eos, chosen, ended_by[rows])
            running = running & ~ending
            still = int(running.sum())
            if still == 0:
                break
            if (len(rows) - still) * 8 >= len(rows):
                keep = running.nonzero().squeeze(-1)
                cache.batch_select_indices(keep)
                mask, next_positions, chosen = mask[keep], next_positions[keep], chosen[keep]
                if isinstance(generator, list):
                    generator = [generator[i] for i in keep.tolist()]
                rows, running, slot_limits = rows[keep], running[keep], slot_limits[keep]
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
            logits = self._forward(chosen[:, None], mask, next_positions, cache)
            next_positions = next_positions + 1
            step += 1

        return self._generations(prompts, tokens, logprobs, lengths, ended_by, stopped)

    def _generations(
        self,
        prompts: Sequence[Sequence[int]],
        tokens: Any,
        logprobs: Any,
        lengths: Any,
        ended_by: Any,
        stopped: Mapping[int, str],
    ) -> list[Generation]:
        """Generation records from the decode tensors (``ended_by`` is the EOS id, or -1)."""
        token_rows, logp_rows = tokens.tolist(), logprobs.tolist()
        results = []
        for row, (prompt, length, eos_id) in enumerate(
            zip(prompts, lengths.tolist(), ended_by.tolist())
        ):
            sampled = token_rows[row][:length]
            if eos_id >= 0:
                reason, stopped_by = "stop", eos_id
                text = self.tokenizer.decode(sampled[:-1], skip_special_tokens=True)
            else:
                stopped_by = stopped.get(row)
                reason = "stop" if stopped_by is not None else "length"
                text = self.tokenizer.decode(sampled, skip_special_tokens=True)
                if stopped_by is not None and (cut := text.find(stopped_by)) >= 0:
                    text = text[:cut]
            results.append(
                Generation(
                    text=text,
                    prompt_ids=list(prompt),
                    token_ids=sampled,
                    logprobs=logp_rows[row][:length],
                    truncated=reason == "length",
                    finish_reason=reason,
                    stop_reason=stopped_by,
                )
            )
        return results

    def _stop_hits(
        self,
        chosen: Any,
        rows: Any,
        running: Any,
        history: list[list[int]],
        window: int,
        stops: tuple[str, ...],
        stopped: dict[int, str],
    ) -> Any:
        """Rows whose text now contains a stop string (decoding only each row's recent tokens)."""
        hits = []
        for token, row, alive in zip(chosen.tolist(), rows.tolist(), running.tolist()):
            hit = False
            if alive:
                history[row].append(token)
                if token not in self.eos_token_ids:
                    found = self._stop_string(history[row][-window:], stops)
                    if found is not None:
                        stopped[row] = found
                        hit = True
            hits.append(hit)
        return self._torch.tensor(hits, dtype=self._torch.bool, device=chosen.device)

    def _stop_string(self, tail: list[int], stops: tuple[str, ...]) -> str | None:
        text = self.tokenizer.decode(tail, skip_special_tokens=False)
        for stop in stops:
            if stop in text:
                return stop
        return None
