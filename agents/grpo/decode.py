"""Rollout decoding for the trainer on a GPU: a static KV cache and a CUDA-graph decode step.

:class:`~agents.hf.HFAgent` decodes with a dynamic cache: every token launches the whole model's
kernels from Python, which on a GPU costs about 19 ms per step for a 24-layer model whatever the
batch (launch overhead, not compute). :class:`StaticCacheAgent` is the same agent with another
``_decode``: the KV cache is a preallocated ``StaticCache``, the attention mask a preallocated
4D boolean tensor, and one decode step (embedding to logits) is recorded once into a CUDA graph
and replayed for every token, so a step costs one launch plus the sampling kernels. Sampling,
EOS handling and the :class:`~rlvr_envs.agent.Generation` records follow HFAgent exactly (the tests
compare the two token for token).

The graph reads the model's weights in place, so optimizer steps between rollouts are seen
without recapturing. Rows that finished stop costing compute: every few steps, when the rows
still decoding fit a smaller batch bucket, they move (cache, mask, positions) to that bucket's
decoder and its graph. It is used only where it is known to be right: a CUDA device, SDPA
attention, static cache layers without sliding windows, no stop strings. Anything else, or any
error while capturing, falls back to HFAgent's loop (``fallback_reason`` says why).
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

import torch

from rlvr_envs.agent import Generation, SamplingParams

from ..hf import HFAgent

_BATCH_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024)
_LENGTH_STEP = 64  # cache lengths are rounded up to this, so a few graphs serve every call
_SYNC_EVERY = 8  # decode steps between checks for "every row has finished" (a device sync)


def _bucket(count: int) -> int:
    return next((b for b in _BATCH_BUCKETS if b >= count), count)


class _StaticDecoder:
    """One batch shape's static cache, input buffers and (on CUDA) captured decode step."""

    def __init__(self, agent: HFAgent, batch: int, length: int, graphs: bool) -> None:
        from transformers import StaticCache

        self.agent, self.model, self.graphs = agent, agent.model, graphs
        device = agent.device
        self.cache = StaticCache(config=self.model.config, max_cache_len=length)
        self.ids = torch.zeros((batch, 1), dtype=torch.long, device=device)
        self.positions = torch.zeros((batch, 1), dtype=torch.long, device=device)
        self.mask = torch.zeros((batch, 1, 1, length), dtype=torch.bool, device=device)
        self.length, self.slot = length, 0
        self.graph: Any = None
        self.logits: torch.Tensor | None = None

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> Any:
        kwargs: dict[str, Any] = {self.agent._cache_arg: self.cache, "use_cache": True}
        if self.agent._logits_to_keep:
            kwargs["logits_to_keep"] = 1
        # The caller's autocast, without its weight-cast cache: a graph must not keep pointers
        # to cast copies that the cache frees when the caller's autocast region ends.
        with torch.autocast(
            device_type=ids.device.type,
            dtype=torch.get_autocast_dtype(ids.device.type),
            enabled=torch.is_autocast_enabled(ids.device.type),
            cache_enabled=False,
        ):
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, **kwargs)
        return out.logits[:, -1, :]

    def _rewind(self, steps: int) -> None:
        for layer in self.cache.layers:
            if getattr(layer, "is_initialized", False):
                layer.cumulative_length.sub_(steps)

    def prefill(self, prompts: list[list[int]], pad_id: int) -> torch.Tensor:
        """Run the left-padded prompts through the model; the logits of their last token."""
        device = self.ids.device
        rows, width = len(self.ids), max(len(p) for p in prompts)
        prompts = prompts + [prompts[0]] * (rows - len(prompts))  # bucket padding rows
        for layer in self.cache.layers:  # reuse: stale entries stay masked out
            if getattr(layer, "is_initialized", False):
                layer.cumulative_length.zero_()
        ids = torch.full((rows, width), pad_id, dtype=torch.long)
        starts = torch.tensor([width - len(p) for p in prompts])
        for i, prompt in enumerate(prompts):
            ids[i, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        ids, starts = ids.to(device), starts.to(device)
        query = torch.arange(width, device=device)
        key = torch.arange(self.length, device=device)
        valid_keys = (key[None, :] >= starts[:, None]) & (key[None, :] < width)  # (rows, length)
        mask = (key[None, None, :] <= query[None, :, None]) & valid_keys[:, None, :]
        # A padding query attends to itself only: no fully masked row, so no NaN in the cache.
        padding = query[None, :] < starts[:, None]
        mask |= padding[:, :, None] & (key[None, None, :] == query[None, :, None])
        positions = (query[None, :] - starts[:, None]).clamp(min=0)
        logits = self._forward(ids, mask[:, None], positions).float()
        self.mask.copy_(valid_keys[:, None, None, :])
        self.positions.copy_(positions[:, -1:] + 1)
        self.slot = width
        return logits

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one sampled token per row; the next logits (a fresh float32 tensor)."""
        rows = len(tokens)
        self.ids[:rows, 0] = tokens
        self.mask[:, :, :, self.slot] = True
        if not self.graphs:
            logits = self._forward(self.ids, self.mask, self.positions)
        else:
            if self.graph is None:
                self._capture()
            self.graph.replay()
            logits = self.logits
        self.positions.add_(1)
        self.slot += 1
        return logits[:rows].float()

    def compact(self, target: _StaticDecoder, keep: torch.Tensor) -> _StaticDecoder:
        """Move rows ``keep`` (the ones still decoding) into ``target``, a decoder with fewer
        rows and the same cache length; returns ``target``, ready for :meth:`step`."""
        count = len(keep)
        for source, layer in zip(self.cache.layers, target.cache.layers):
            if not getattr(source, "is_initialized", False):
                continue
            if not getattr(layer, "is_initialized", False):  # allocates from shapes and dtype
                layer.lazy_initialization(
                    source.keys[: len(target.ids), :, :1], source.values[: len(target.ids), :, :1]
                )
            layer.keys[:count].copy_(source.keys.index_select(0, keep))
            layer.values[:count].copy_(source.values.index_select(0, keep))
            layer.cumulative_length.copy_(source.cumulative_length)
        target.mask.zero_()
        target.mask[:count] = self.mask.index_select(0, keep)
        target.positions[:count] = self.positions.index_select(0, keep)
        target.slot = self.slot
        return target

    def _capture(self) -> None:
        # Warm up on a side stream (allocator, kernels), undoing each run's cache advance; the
        # capture itself only records kernels, and the first replay runs them.
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                self._forward(self.ids, self.mask, self.positions)
                self._rewind(1)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.logits = self._forward(self.ids, self.mask, self.positions)
        self.graph = graph


class StaticCacheAgent(HFAgent):
    """:class:`HFAgent` whose decoding uses a static cache and, on CUDA, a CUDA-graph step.

    ``graphs=False`` keeps the static cache but runs the step eagerly (any device; the tests use
    it on CPU). ``max_decoders`` bounds how many batch shapes keep a cache (and a graph) alive.
    """

    def __init__(
        self, *args: Any, graphs: bool = True, max_decoders: int = 6, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.graphs = graphs
        self.max_decoders = max_decoders
        self.fallback_reason: str | None = None
        self.decoded_row_steps = 0  # decode steps x rows computed (padding rows included)
        self._decoders: OrderedDict[tuple[int, int], _StaticDecoder] = OrderedDict()
        attention = getattr(self.model.config, "_attn_implementation", None)
        if attention not in ("sdpa", None):
            self.fallback_reason = f"attention implementation {attention!r} (needs 'sdpa')"
        if self.graphs and self.device.type != "cuda":
            self.fallback_reason = "CUDA graphs need a CUDA device"

    @property
    def decode_mode(self) -> str:
        """``cuda-graphs``, ``static`` (eager static cache) or ``dynamic`` (HFAgent's loop)."""
        if self.fallback_reason is not None:
            return "dynamic"
        return "cuda-graphs" if self.graphs else "static"

    def _decoder(self, batch: int, length: int) -> _StaticDecoder:
        key = (_bucket(batch), -(-length // _LENGTH_STEP) * _LENGTH_STEP)
        decoder = self._decoders.pop(key, None)
        if decoder is None:
            decoder = _StaticDecoder(self, key[0], key[1], self.graphs)
            layers = getattr(decoder.cache, "layers", [])
            if not layers or any(type(layer).__name__ != "StaticLayer" for layer in layers):
                raise NotImplementedError("the model's static cache has sliding or other layers")
            while len(self._decoders) >= self.max_decoders:
                self._decoders.popitem(last=False)
        self._decoders[key] = decoder
        return decoder

    def _decode(
        self, prompts: list[list[int]], limits: list[int], params: SamplingParams, generator: Any
    ) -> list[Generation]:
        if self.fallback_reason is not None or params.stop:
            return super()._decode(prompts, limits, params, generator)
        try:
            return self._static_decode(prompts, limits, params, generator)
        except Exception as error:  # never lose a rollout to the fast path: use HFAgent's loop
            self.fallback_reason = f"{type(error).__name__}: {error}"
            self._decoders.clear()
            warnings.warn(
                f"static-cache decoding failed, using the dynamic loop: {error}", stacklevel=2
            )
            return super()._decode(prompts, limits, params, generator)

    def _static_decode(
        self, prompts: list[list[int]], limits: list[int], params: SamplingParams, generator: Any
    ) -> list[Generation]:
        device = self.device
        count, longest = len(prompts), max(limits)
        decoder = self._decoder(count, max(len(p) for p in prompts) + longest)
        logits = decoder.prefill([list(p) for p in prompts], self.pad_token_id)[:count]
        tokens = torch.full((count, longest), self.pad_token_id, dtype=torch.long, device=device)
        logprobs = torch.zeros((count, longest), dtype=torch.float32, device=device)
        limit = torch.tensor(limits, dtype=torch.long, device=device)
        lengths = limit.clone()
        ended_by = torch.full((count,), -1, dtype=torch.long, device=device)
        eos = torch.tensor(sorted(self.eos_token_ids), dtype=torch.long, device=device)
        rows = torch.arange(count, device=device)  # decoder slot -> row
        running = torch.ones(count, dtype=torch.bool, device=device)
        for step in range(longest):
            chosen, chosen_logp = self._sample(logits, params, generator)
            tokens[rows, step] = chosen
            logprobs[rows, step] = chosen_logp
            is_eos = torch.isin(chosen, eos)
            ending = running & (is_eos | (limit[rows] <= step + 1))
            lengths[rows] = torch.where(ending, step + 1, lengths[rows])
            ended_by[rows] = torch.where(ending & is_eos, chosen, ended_by[rows])
            running = running & ~ending
            if step + 1 == longest:
                break
            if step % _SYNC_EVERY == _SYNC_EVERY - 1:  # one device sync every few steps
                alive = int(running.sum())
                if alive == 0:
                    break
                if _bucket(alive) < len(decoder.ids):
                    # Finished rows stop costing compute: the rows still decoding move to a
                    # smaller batch bucket (its own cache and graph).
                    keep = running.nonzero().squeeze(-1)
                    decoder = decoder.compact(self._decoder(alive, decoder.length), keep)
                    rows, running, chosen = rows[keep], running[keep], chosen[keep]
                    if isinstance(generator, list):
                        generator = [generator[i] for i in keep.tolist()]
            logits = decoder.step(chosen)
            self.decoded_row_steps += len(decoder.ids)
        return self._generations(prompts, tokens, logprobs, lengths, ended_by, stopped={})
