"""Build a tiny random-weight causal LM with a freshly trained BPE tokenizer and a chat template.

Nothing is downloaded: the tokenizer is trained on a small corpus with ``tokenizers`` and the model
is built from a config, then both are saved with ``save_pretrained`` so they load through the same
``from_pretrained`` path as a user's checkpoint. Used by the tests, the trainer's offline default
run and the GPU benchmarks.

Two architectures with two chat formats:

- ``qwen2``: ChatML (``<|im_start|>role\\n...<|im_end|>\\n``), tool-capable in the Qwen2.5 style
  (``apply_chat_template(..., tools=...)``, ``tool_calls``, ``tool`` messages); the tokenizer's eos
  is ``<|im_end|>``, pad is ``<|endoftext|>`` and the generation config stops on both.
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

# ChatML in the style of Qwen2.5, tool-capable: with ``tools`` the system turn lists their schemas
# and says how to call them; an assistant turn writes each of its ``tool_calls`` as
# ``<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>``; consecutive ``tool`` messages
# share one user turn of ``<tool_response>`` blocks. Without tools it renders plain ChatML.
QWEN2_CHAT_TEMPLATE = (
    "{%- set first_system = messages and messages[0]['role'] == 'system' %}"
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if first_system %}{{- messages[0]['content'] + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n\\nYou can call these tools (JSON signatures between <tools> and </tools>):"
    "\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nTo call a tool, write its name and arguments as JSON between"
    ' <tool_call> and </tool_call>:\\n<tool_call>\\n{"name": <tool name>, "arguments":'
    " <arguments object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if loop.first and first_system and tools %}"
    "{%- elif message['role'] == 'assistant' and message.get('tool_calls') %}"
    "{{- '<|im_start|>assistant' }}"
    "{%- if message['content'] %}{{- '\\n' + message['content'] }}{%- endif %}"
    "{%- for call in message['tool_calls'] %}"
    "{%- set call = call['function'] if call['function'] is defined else call %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' + call['name'] + '\", \"arguments\": ' }}"
    "{%- if call['arguments'] is string %}{{- call['arguments'] }}"
    "{%- else %}{{- call['arguments'] | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message['role'] == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1]['role'] != 'tool' %}"
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message['content'] + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}"
    "{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# How transformers' ``parse_response`` (and TRL's tool loop) reads an assistant turn of the
# template above back into ``content`` and ``tool_calls``.
QWEN2_RESPONSE_TEMPLATE = {
    "defaults": {"role": "assistant"},
    "start_anchor": "<|im_start|>assistant\n",
    "fields": {
        "tool_calls": {
            "open": "<tool_call>",
            "close_pattern": r"</tool_call>\s*",
            "repeats": True,
            "content": "json",
            "transform": {"type": "function", "function": "{content}"},
        },
        "content": {"close_pattern": r"<\|im_end\|>\s*", "content": "text"},
    },
}

TOOL_TOKENS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
# Text in the tool-call format, so BPE merges form over it (with ``tools=True``).
TOOL_CORPUS: tuple[str, ...] = (
    '<tool_call>\n{"name": "calculator", "arguments": {"expression": "12 * 34 + 5"}}\n</tool_call>',
    '<tool_call>\n{"name": "python", "arguments": {"code": "print(12 * 34)"}}\n</tool_call>',
    "<tool_response>\n413\n</tool_response>",
)


def tool_corpus() -> list[str]:
    """:data:`TOOL_CORPUS` and the system turn the template writes for each built-in tool, so
    that a tiny model's tokenizer spends few tokens on the tool descriptions it reads."""
    import json

    import jinja2

    from rlvr_envs.tools import get_tool

    # As transformers renders chat templates: its ``tojson`` keeps key order and non-ASCII text.
    environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    environment.filters["tojson"] = lambda value, **_: json.dumps(value, ensure_ascii=False)
    template = environment.from_string(QWEN2_CHAT_TEMPLATE)
    texts = list(TOOL_CORPUS)
    for name in ("calculator", "python", "run_tests"):
        texts.append(template.render(messages=[], tools=[get_tool(name).schema]))
    return texts


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
    tools: bool = False,
) -> Any:
    """Train a byte-level BPE tokenizer and wrap it as a transformers fast tokenizer.

    ``tools`` adds tool-call text to the corpus and the Hermes tags as single tokens.
    """
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
    if tools:
        texts += tool_corpus()

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
    if tools:
        wrapped.add_tokens(list(TOOL_TOKENS))  # plain (not special) tokens: decoding keeps them
    if arch == "qwen2":
        wrapped.response_template = QWEN2_RESPONSE_TEMPLATE
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
    tools: bool = False,
    seed: int = 0,
    **config_overrides: Any,
) -> Path:
    """Build, initialise (seeded) and save a tiny model and its tokenizer to ``out_dir``.

    ``tools``: a tokenizer with the tool-call tags as tokens (see :func:`train_tokenizer`).
    """
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
        chat_format,
        corpus=corpus,
        vocab_size=vocab_size,
        pad_equals_eos=pad_equals_eos,
        tools=tools,
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
