"""Every hyper-parameter of a GRPO run in one dataclass, the offline default run, and the errors.

The defaults of :class:`GRPOConfig` suit a ~0.5B model on one GPU; :data:`DEFAULT_RUN` is what
``rlvr-envs train`` runs with no ``--model``: a tiny policy trained on CPU in about a minute.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any


class ConfigError(ValueError):
    """A configuration that cannot work."""


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the environment's reward never varies)."""


# Where step metrics can go (agents/grpo/reporters.py); metrics.jsonl is always written.
REPORTERS = ("jsonl", "tensorboard", "wandb")


def report_to_list(value: str | Sequence[str]) -> list[str]:
    """Reporter names from a list or a comma-separated string; unknown names rejected."""
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [str(name).strip() for name in names if str(name).strip()]
    unknown = [name for name in names if name not in REPORTERS]
    if unknown:
        raise ConfigError(f"report_to: unknown reporter(s) {unknown}; choose from {REPORTERS}")
    return names


ADAPTER_AFTER_WARMUP = (
    "reference='adapter' uses the model with its LoRA adapter disabled as the KL reference, which "
    "is the model before the supervised warm-up trained the adapter: the KL would pull RL back "
    "past the warm-up. Use reference='copy' (or 'auto', which picks it after a warm-up): a frozen "
    "copy of the weights RL starts from"
)


@dataclass
class GRPOConfig:
    """Every hyper-parameter of a run; the defaults suit a ~0.5B model on one GPU."""

    # --- what to train, on what
    model: str | None = None  # a hub id or a local path; None builds a tiny policy offline
    env: str = "rlvr/Arithmetic-v1"  # any registered environment id
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    chat: bool | None = None  # chat observations; None: when the tokenizer has a chat template
    output_dir: str = "runs/train"
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1" ...
    precision: str = "auto"  # "bf16-mixed" (fp32 weights, bf16 compute), "bf16", "fp32"; auto
    allow_bf16_weights: bool = False  # precision="bf16" (bf16 weights) only with this set
    num_threads: int | None = None  # torch CPU threads; None leaves torch's choice

    # --- rollouts
    steps: int = 200  # RL steps (one batch of rollouts each)
    batch_size: int = 64  # completions per step: batch_size / group_size tasks
    group_size: int = 8  # completions per task (G)
    max_new_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    generation_batch_size: int | None = None  # completions per agent call (sub-batches are
    # verified while later ones generate: for slow verifiers); None: the whole round at once
    env_workers: int | None = None  # threads (or processes) stepping environments; None: auto
    env_executor: str = "thread"  # "thread", or "process" for verifiers that hold the GIL
    cuda_graphs: bool = True  # on CUDA, decode with a static cache and a CUDA-graph step
    dynamic_sampling: bool = True  # drop groups whose rewards are all equal, sample more (DAPO)
    max_sampling_rounds: int = 3  # rollout rounds per step that refill dropped groups
    mask_truncated: bool = False  # no loss on completions cut at max_new_tokens (DAPO)

    # --- advantages and loss
    baseline: str = "mean"  # "mean" (GRPO), "rloo" (leave-one-out), "none"
    scale_rewards: str = "group"  # "group" (GRPO), "batch", "none" (Dr. GRPO)
    loss_aggregation: str = "token"  # "token" (DAPO), "sequence" (GRPO), "constant" (Dr. GRPO)
    clip_low: float = 0.2  # ratio clipped below at 1 - clip_low ...
    clip_high: float = 0.28  # ... and above at 1 + clip_high (clip-higher, DAPO)
    num_updates: int = 1  # passes over each batch (PPO epochs); the old log-probs stay fixed
    steps_per_batch: int = 1  # optimizer steps per pass (mini-batches)
    micro_batch_size: int = 8  # sequences per forward/backward (gradient accumulation)
    logprob_chunk_size: int = 1024  # completion tokens per chunk through the output layer
    beta: float = 0.0  # weight of the k3 KL penalty to the reference
    reference: str = "auto"  # "adapter" (the LoRA adapter disabled) or "copy" (frozen); auto
    disable_dropout: bool = True  # dropout off, so old / reference / training log-probs agree

    # --- optimizer
    lr: float = 1e-6
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.99)
    max_grad_norm: float = 1.0
    lr_warmup_steps: int = 0  # optimizer steps of linear learning-rate warm-up ...
    lr_schedule: str = "constant"  # ... then "constant", or "linear" decay to 0 at the last step
    gradient_checkpointing: bool = True  # in training forwards only; generation never uses it
    lora_r: int = 0  # 0: full fine-tuning
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: str | list[str] = "all-linear"

    # --- supervised warm-up on reference completions (agents/grpo/warmup.py); 0 steps: none
    warmup_steps: int = 0
    warmup_batch_size: int = 64
    warmup_lr: float = 1e-4
    warmup_lr_schedule: str = "constant"  # or "linear": a short ramp, then decay to 0
    warmup_completion: str = "{solution}"  # the target text: task fields {answer}, {solution}
    # ... or "demonstration": a tool environment's worked episodes (a call, then the answer)
    warmup_examples: int = 0  # distinct warm-up examples at most (re-used); 0: steps x batch

    # --- evaluation, logging, checkpoints
    eval_tasks: int = 200  # held-out tasks, greedy decoding; 0: no evaluation
    eval_seed: int = 1_000_003
    eval_every: int = 0  # also evaluate every N steps (0: before and after only)
    save_every: int = 0  # checkpoint every N steps (the final model is always saved)
    resume: bool = False  # continue from output_dir/checkpoint when there is one
    no_signal_patience: int = 20  # consecutive steps without a learning signal before an error
    save_model: bool = True  # the final model to output_dir/model (merged when LoRA)
    progress: bool = True  # a bar on a terminal, else one line every tenth of the run
    report_to: list[str] = field(default_factory=lambda: ["jsonl"])  # + tensorboard, wandb
    wandb_project: str | None = None
    plot: bool = True
    tiny_model: dict[str, Any] = field(default_factory=dict)  # build_tiny_model() settings

    def check(self) -> None:
        """Raise :class:`ConfigError` with a clear message for settings that cannot work."""
        choices = {
            "baseline": ("mean", "rloo", "none"),
            "scale_rewards": ("group", "batch", "none"),
            "loss_aggregation": ("token", "sequence", "constant"),
            "reference": ("auto", "adapter", "copy"),
            "precision": ("auto", "bf16-mixed", "bf16", "fp32"),
            "lr_schedule": ("constant", "linear"),
            "warmup_lr_schedule": ("constant", "linear"),
            "env_executor": ("thread", "process"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not isinstance(self.group_size, int) or self.group_size < 2:
            raise ConfigError(
                f"group_size must be >= 2, got {self.group_size}: GRPO scores each completion "
                "against the other completions of the same task, so it needs at least two"
            )
        if self.batch_size < 1 or self.batch_size % self.group_size:
            raise ConfigError(
                f"batch_size ({self.batch_size}) must be a positive multiple of group_size "
                f"({self.group_size}): each step samples batch_size / group_size whole groups"
            )
        positive = (
            "steps",
            "max_new_tokens",
            "num_updates",
            "steps_per_batch",
            "micro_batch_size",
            "logprob_chunk_size",
            "max_sampling_rounds",
            "no_signal_patience",
            "warmup_batch_size",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        for name in (
            "warmup_steps",
            "warmup_examples",
            "eval_tasks",
            "eval_every",
            "save_every",
            "lora_r",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if self.steps_per_batch > self.batch_size:
            raise ConfigError(
                f"steps_per_batch ({self.steps_per_batch}) is over batch_size ({self.batch_size})"
            )
        if not 0 <= self.clip_low < 1 or self.clip_high < 0:
            raise ConfigError(
                f"need 0 <= clip_low < 1 and clip_high >= 0, got {self.clip_low}, {self.clip_high}"
            )
        if self.beta < 0 or self.lr <= 0 or self.temperature <= 0:
            raise ConfigError("need beta >= 0, lr > 0 and temperature > 0 (sampling, not greedy)")
        if self.reference == "adapter" and not self.lora_r:
            raise ConfigError("reference='adapter' needs a LoRA adapter (lora_r > 0)")
        if self.reference == "adapter" and self.warmup_steps and self.beta > 0:
            raise ConfigError(ADAPTER_AFTER_WARMUP)
        if self.precision == "bf16" and not self.allow_bf16_weights:
            raise ConfigError(
                "precision='bf16' trains bf16 weights, and updates below bf16's resolution round "
                "away (at lr 1e-6 most weights never change). Use precision='bf16-mixed' (fp32 "
                "weights, bf16 compute), or set allow_bf16_weights=True "
                "(--allow-bf16-weights) to accept it"
            )
        self.report_to = report_to_list(self.report_to)
        for name in ("generation_batch_size", "env_workers"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be None or an integer >= 1, got {value!r}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1, got {self.num_threads}")


# The offline tiny policy's shape, shared by the presets below.
TINY_SHAPE: dict[str, Any] = dict(
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    num_kv_heads=2,
    intermediate_size=256,
    initializer_range=0.02,
)

# The offline default run (`rlvr-envs train` with no --model): a 154k-parameter policy with a
# tokenizer trained on the fly learns two-digit addition and subtraction on CPU in about two
# minutes. Level 2 has 16,200 distinct questions ("What is 47 - 82?"); the 300 held out are never
# shown in the warm-up or RL, so held-out accuracy measures answers to unseen questions. A
# supervised warm-up on the answers (the icing; a constant learning rate) leaves it about a third
# right; RL (the cherry) does the rest.
DEFAULT_RUN: dict[str, Any] = dict(
    model=None,
    env="rlvr/Arithmetic-v1",
    env_kwargs={"level": 2, "template": "{prompt}"},  # "What is 47 - 82?" -> "-35"
    device="cpu",
    num_threads=1,  # a tiny model on a shared 2-core machine runs fastest on one thread
    steps=100,
    batch_size=256,  # 32 tasks x G=8 per step
    group_size=8,
    max_new_tokens=4,  # "-35" or "198", then EOS
    micro_batch_size=256,
    lr=5e-4,
    lr_schedule="linear",
    gradient_checkpointing=False,
    warmup_steps=1000,
    warmup_lr=3e-3,
    warmup_completion="{answer}",
    eval_tasks=300,
    eval_every=25,
    tiny_model=dict(TINY_SHAPE),
)


# The offline tool-use run (`rlvr-envs train --env rlvr/Arithmetic-Calculator-v1` with no --model):
# a tiny policy with a tool-capable chat template learns to answer multi-digit products, which it
# cannot compute itself, by calling the calculator and copying its result. A short supervised
# warm-up on demonstrated episodes teaches the call format; RL does the rest.
TOOL_RUN: dict[str, Any] = dict(
    model=None,
    env="rlvr/Arithmetic-Calculator-v1",
    env_kwargs={},
    chat=True,  # the tiny template renders the tools (apply_chat_template(..., tools=...))
    device="cpu",
    num_threads=1,  # a tiny model on a shared machine: one thread, see DEFAULT_RUN
    steps=60,
    batch_size=64,  # 8 tasks x G=8 per step
    group_size=8,
    max_new_tokens=40,  # per turn: a call is ~30 tokens, an answer ~10
    micro_batch_size=64,
    lr=1e-3,
    lr_schedule="linear",
    gradient_checkpointing=False,
    # Copying the question's digits into the call and the tool's result into the answer takes
    # the tiny model a few hundred steps to learn (held-out accuracy 13% after 360 steps, 32%
    # after 400, 88% after 1000): 400 leave room for RL to show.
    warmup_steps=400,
    warmup_batch_size=32,
    warmup_lr=3e-3,
    warmup_completion="demonstration",
    warmup_examples=8192,
    eval_tasks=100,
    eval_every=20,
    tiny_model=dict(TINY_SHAPE, tools=True, vocab_size=1024),
)
TOOL_RUN_ENVS = ("rlvr/Arithmetic-Calculator-v1", "rlvr/Arithmetic-Python-v1")


def default_run_config(**overrides: Any) -> GRPOConfig:
    """The offline default run's config, with overrides."""
    return GRPOConfig(**{**copy.deepcopy(DEFAULT_RUN), **overrides})


def config_from_dict(values: Mapping[str, Any], base: GRPOConfig | None = None) -> GRPOConfig:
    """A config from ``base`` (or the defaults) with ``values`` applied; unknown names rejected."""
    known = {f.name for f in fields(GRPOConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(known)}")
    current = asdict(base) if base is not None else {}
    current.update(values)
    if isinstance(current.get("adam_betas"), list):
        current["adam_betas"] = tuple(current["adam_betas"])
    return GRPOConfig(**current)


def run_config(values: Mapping[str, Any]) -> GRPOConfig:
    """The config the command line runs: the offline default run unless a model is given."""
    if values.get("model") is None:
        base = default_run_config()
        env = values.get("env", base.env)
        if env in TOOL_RUN_ENVS:
            base = GRPOConfig(**{**copy.deepcopy(TOOL_RUN), "env": env})
        elif env != base.env:  # the default run's environment settings only fit its own
            base.env_kwargs = {}
    else:
        base = GRPOConfig()
    return config_from_dict(values, base)
