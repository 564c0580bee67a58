"""Build a tiny random-weight causal LM with a freshly trained BPE tokenizer and a chat template.

Nothing is downloaded: the tokenizer is trained on a small corpus with ``tokenizers`` and the model
is built from a config, then both are saved with ``save_pretrained`` so they load through the same
``from_pretrained`` path as a user's checkpoint. Used by the tests, the trainer's offline default
run and the GPU benchmarks.

Two architectures with two chat formats:

- ``qwen2``: ChatML (``<|im_start|>role\\n...<|im_end|>\\n``); the tokenizer's eos is ``<|im_end|>``,
  pad is ``<|endoftext|>`` and the generation config stops on both.
- ``llama``: Llama-3 style headers (``<|start_header_id|>role<|end_header_id|>\\n\\n...<|eot_id|>``);
  a BOS token is prepended to plain text, there is no pad token, and the generation config stops on
  ``<|end_of_text|>`` and ``<|eot_id|>``.

``granite`` and ``cohere`` build those architectures with the ``llama`` tokenizer and chat format:
both change the logits after the output layer (Granite divides them by ``logits_scaling``, Cohere
multiplies them by ``logit_scale``), which the trainer's log-probs must reproduce.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

QWEN2_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

LLAMA_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)

_SPECIAL_TOKENS = {
    "qwen2": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    "llama": [
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eot_id|>",
    ],
}

_QWEN2_PRETOKENIZE = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# A small mixed corpus (prose, arithmetic, code, chat words) so that merges form over the kinds of
# text the environments produce. Any text still encodes: the byte alphabet is always present.
DEFAULT_CORPUS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "What is 12 + 35? The answer is 47. #### 47",
    "Compute 7 * 8 - 3. First 7 * 8 = 56, then 56 - 3 = 53. The final answer is \\boxed{53}.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(i)\n",
    "Your answer is wrong. Try again.",
    "Correct! Well done.",
    "system user assistant tool",
    "You are a helpful assistant.",
    "<answer>42</answer> <think>Let me think about it.</think>",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 100 1000",
    "+ - * / = ( ) [ ] { } < > , . ; : ! ? ' \" \\ # $ % & | ~ ^ _",
)


# arch -> (config class, model class) in transformers
_ARCHITECTURES = {
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"),
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "granite": ("GraniteConfig", "GraniteForCausalLM"),
    "cohere": ("CohereConfig", "CohereForCausalLM"),
}


def train_tokenizer(
    arch: str = "qwen2",
    *,
    corpus: Iterable[str] | None = None,
    vocab_size: int = 512,
    pad_equals_eos: bool = False,
) -> Any:
    """Train a byte-level BPE tokenizer and wrap it as a transformers fast tokenizer."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    if arch not in _SPECIAL_TOKENS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(_SPECIAL_TOKENS)}")
    specials = _SPECIAL_TOKENS[arch]
    texts = list(corpus) if corpus is not None else list(DEFAULT_CORPUS)
    if not texts:
        raise ValueError("the tokenizer corpus is empty")

    tokenizer = Tokenizer(models.BPE())
    if arch == "qwen2":
        # The same normaliser and pre-tokeniser as transformers' ``Qwen2Tokenizer``, which
        # ``AutoTokenizer`` rebuilds for a ``qwen2`` checkpoint: what is trained is what loads.
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_QWEN2_PRETOKENIZE), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts * 4, trainer=trainer)

    if arch == "qwen2":
        eos, pad, bos = "<|im_end|>", "<|endoftext|>", None
        template = QWEN2_CHAT_TEMPLATE
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    else:
        eos, pad, bos = "<|eot_id|>", None, "<|begin_of_text|>"
        template = LLAMA_CHAT_TEMPLATE
        bos_id = tokenizer.token_to_id(bos)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
        )
    if pad_equals_eos:
        pad = eos
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        chat_template=template,
        clean_up_tokenization_spaces=False,
        model_max_length=1 << 20,
    )
    return wrapped


def build_tiny_model(
    out_dir: str | Path,
    *,
    arch: str = "qwen2",
    corpus: Iterable[str] | None = None,
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 2048,
    initializer_range: float = 0.1,
    pad_equals_eos: bool = False,
    seed: int = 0,
    **config_overrides: Any,
) -> Path:
    """Build, initialise (seeded) and save a tiny model and its tokenizer to ``out_dir``."""
    import torch
    import transformers
    from transformers import GenerationConfig

    if arch not in _ARCHITECTURES:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(_ARCHITECTURES)}")
    config_name, model_name = _ARCHITECTURES[arch]
    config_cls, model_cls = getattr(transformers, config_name), getattr(transformers, model_name)
    chat_format = "qwen2" if arch == "qwen2" else "llama"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(
        chat_format, corpus=corpus, vocab_size=vocab_size, pad_equals_eos=pad_equals_eos
    )

    if chat_format == "qwen2":
        eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
        bos_id = None
    else:
        eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|end_of_text|>", "<|eot_id|>")]
        bos_id = tokenizer.bos_token_id
    pad_id = tokenizer.pad_token_id
    settings: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_kv_heads,
        "intermediate_size": intermediate_size,
        "max_position_embeddings": max_position_embeddings,
        "initializer_range": initializer_range,
        "tie_word_embeddings": True,
        "bos_token_id": bos_id,
        "eos_token_id": eos_ids[0] if chat_format == "qwen2" else eos_ids,
        "pad_token_id": pad_id,
    }
    settings.update(config_overrides)
    config = config_cls(**settings)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    model.generation_config = GenerationConfig(
        bos_token_id=bos_id, eos_token_id=eos_ids, pad_token_id=pad_id, do_sample=False
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
