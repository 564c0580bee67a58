"""Supervised warm-up before RL (the icing before the cherry).

A freshly initialised policy never answers correctly, so RL from it would see reward 0 in every
group and learn nothing. A few steps of next-token training on reference completions (the task
generator's answer or worked solution) give it some reward to start from; RL then does the rest.
The loss covers only the completion tokens, and the prompt tokens are exactly those the agent
will see during RL (the environment's observation through the agent's encoder).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from rlvr_envs.prompts import fill_template
from rlvr_envs.rollout.tokens import encode_text

from .config import ConfigError
from .logs import Progress
from .policy import lr_factor


def warmup_examples(
    env: Any,
    resets: Iterable[dict[str, Any]],
    *,
    completion: str,
    agent: Any,
    keep: Callable[[Any, str], bool] | None = None,
) -> list[tuple[list[int], ...]]:
    """(prompt ids, completion ids + EOS) for each reset: ``completion`` filled from task fields.

    Each item of ``resets`` is the keyword arguments of one ``env.reset`` (a task by
    ``options``, or a ``seed`` for an environment without a task source); the prompt is the
    observation it returns and the target comes from ``env.unwrapped.task``. ``keep(observation,
    task_id)`` may refuse an example (a held-out prompt met through a seed). Equal texts are
    tokenised once.

    ``completion="demonstration"``: the environment's worked episode (a tool environment's
    :meth:`~rlvr_envs.wrappers.ToolUse.demonstration`: a call, then the answer), played as the
    rollout engine records it; examples are then (prompt ids, rest of the stream, loss mask),
    the mask covering only the demonstrated turns, not the tool results.
    """
    eos = agent.tokenizer.eos_token_id
    if eos is None:
        eos = min(agent.eos_token_ids)
    if completion == "demonstration":
        return demonstration_examples(env, resets, agent.tokenizer, int(eos), keep)
    prompts: dict[str, list[int]] = {}
    targets: dict[str, list[int]] = {}
    examples = []
    for reset in resets:
        observation, info = env.reset(**reset)
        task = getattr(env.unwrapped, "task", None)
        if task is None:
            raise ConfigError(
                "a supervised warm-up needs the environment's task after a reset "
                "(env.unwrapped.task) for its reference answer; this environment has none"
            )
        task_id = str(info.get("task_id") or task.id or f"seed:{reset.get('seed')}")
        if keep is not None and not keep(observation, task_id):
            continue
        fields = {"answer": task.answer, "solution": task.solution, "prompt": task.prompt}
        if "{solution}" in completion and not task.solution:
            raise ValueError(
                f"task {task_id!r} has no reference solution; use warmup_completion='{{answer}}'"
            )
        text = fill_template(completion, fields)
        if text not in targets:
            targets[text] = encode_text(agent.tokenizer, text) + [int(eos)]
        if not isinstance(observation, str):
            prompt = agent.encode(observation)
        else:
            if observation not in prompts:
                prompts[observation] = agent.encode(observation)
            prompt = prompts[observation]
        examples.append((prompt, targets[text]))
    if not examples:
        raise ValueError("no warm-up examples")
    return examples


def demonstration_examples(
    env: Any,
    resets: Iterable[dict[str, Any]],
    tokenizer: Any,
    eos: int,
    keep: Callable[[Any, str], bool] | None = None,
) -> list[tuple[list[int], list[int], list[int]]]:
    """(prompt ids, the rest of the stream, its loss mask) of each reset's demonstration."""
    from rlvr_envs.rollout.demonstration import demonstration_stream

    try:
        demonstrate = env.get_wrapper_attr("demonstration")
    except AttributeError:
        raise ValueError(
            "warmup_completion='demonstration' needs an environment that demonstrates its tasks "
            "(a tool environment, e.g. rlvr/Arithmetic-Calculator-v1)"
        ) from None
    examples = []
    for reset in resets:
        observation, info = env.reset(**reset)
        task_id = str(info.get("task_id") or f"seed:{reset.get('seed')}")
        if keep is not None and not keep(observation, task_id):
            continue
        actions = demonstrate()
        if not actions:
            raise ValueError(f"the environment has no demonstration for task {task_id!r}")
        stream = demonstration_stream(
            env,
            tokenizer,
            actions,
            eos_token_id=eos,
            seed=reset.get("seed"),
            options=reset.get("options"),
        )
        cut = stream.prompt_length
        examples.append((stream.token_ids[:cut], stream.token_ids[cut:], stream.loss_mask[cut:]))
    return examples


def warmup_environments(env: Any) -> tuple[list[Any], str]:
    """The environments a warm-up by seeded resets draws from, and their description: for a
    curriculum (:class:`rlvr_envs.wrappers.Curriculum`) its environment at each difficulty value,
    since it would otherwise reset only at the value it starts at; else ``env`` itself."""
    import gymnasium

    from rlvr_envs.wrappers import Curriculum

    inner = env.unwrapped
    if not isinstance(inner, Curriculum):
        return [env], "the environment"
    values = inner.stats.values
    envs = [
        gymnasium.make(inner.env_id, **{inner.param: value}, **inner.env_kwargs) for value in values
    ]
    return envs, f"{inner.env_id} at {inner.param}={values}"


def supervised_warmup(
    model: Any,
    examples: Sequence[tuple[list[int], ...]],
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    pad_token_id: int = 0,
    autocast: Callable[[], Any] = contextlib.nullcontext,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    lr_schedule: str = "constant",
) -> dict[str, float]:
    """``steps`` AdamW steps of cross-entropy on the completion tokens; returns first/last loss.

    An example is (prompt ids, completion ids), or (prompt ids, continuation ids, mask) where
    only continuation tokens with mask 1 are trained on (a demonstrated multi-turn episode).
    ``lr_schedule="linear"``: a ramp over the first 5% of the steps, then linear decay to 0.
    """
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    ramp = steps // 20 if lr_schedule == "linear" else 0
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, steps, ramp=ramp, schedule=lr_schedule)
    )
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(examples), generator=generator).tolist()
    losses: list[float] = []
    started = time.perf_counter()
    model.train()
    cursor = 0
    with Progress(steps, 0, progress, "warm-up step", write=log) as bar:
        for _ in range(steps):
            picked = []
            for _ in range(batch_size):
                if cursor == len(order):
                    order = torch.randperm(len(examples), generator=generator).tolist()
                    cursor = 0
                picked.append(examples[order[cursor]])
                cursor += 1
            width = max(len(p) + len(c) for p, c, *_ in picked)
            ids = torch.full((len(picked), width), pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(picked), width), dtype=torch.long)
            labels = torch.full((len(picked), width), -100, dtype=torch.long)
            for row, (prompt, target, *target_mask) in enumerate(picked):
                sequence = prompt + target
                ids[row, : len(sequence)] = torch.tensor(sequence)
                mask[row, : len(sequence)] = 1
                wanted = target_mask[0] if target_mask else [1] * len(target)
                labels[row, len(prompt) : len(sequence)] = torch.tensor(
                    [t if m else -100 for t, m in zip(target, wanted)]
                )
            with autocast():
                loss = model(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    labels=labels.to(device),
                    use_cache=False,
                ).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            bar.update(loss=f"{losses[-1]:.3f}")
    return {
        "steps": float(steps),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "seconds": time.perf_counter() - started,
    }
