"""rlvr_envs.integrations.trl.environment_factory: TRL's environment contract, and TRL's own
GRPOTrainer training through it for two steps on CPU with the tiny tool-capable model."""

from __future__ import annotations

import inspect
import os
import re

import pytest

from rlvr_envs.integrations.trl import ToolEnvironment, environment_factory
from rlvr_envs.tools import ToolContext, ToolFault

ENV_ARGS = {"level": 6, "sandbox": "local"}


@pytest.fixture(scope="module")
def env_class():
    return environment_factory("rlvr/Arithmetic-v1", tools=["calculator", "python"], **ENV_ARGS)


def test_the_class_follows_trls_contract(env_class) -> None:
    from transformers.utils import get_json_schema

    assert issubclass(env_class, ToolEnvironment)
    env = env_class()  # a no-argument constructor
    # What TRL offers the model: the public functions of the class, minus reset and get_reward.
    public = [
        n for n, _ in inspect.getmembers(env_class, inspect.isfunction) if not n.startswith("_")
    ]
    assert sorted(set(public) - {"reset", "get_reward"}) == [
        "calculator",
        "python",
        "submit_answer",
    ]
    schema = get_json_schema(env.calculator)["function"]
    assert schema["parameters"]["required"] == ["expression"]
    assert schema["parameters"]["properties"]["expression"]["type"] == "string"
    assert get_json_schema(env.submit_answer)["function"]["parameters"]["required"] == ["answer"]
    rows = env_class.rows(3, seed=2)
    assert (
        set(rows[0]) == {"prompt", "task_id"}
        and "submit_answer" in rows[0]["prompt"][-1]["content"]
    )
    assert env.reset(**rows[0]) is None  # the row's prompt already holds the task
    expression = re.search(r"What is (.+?)\?", rows[0]["prompt"][-1]["content"]).group(1)
    result = env.calculator(expression=expression)
    assert env.get_reward() == 0.0  # nothing submitted yet
    assert env.submit_answer(answer=f"\\boxed{{{result}}}") == "Answer submitted."
    assert env.submit_answer(answer="\\boxed{0}").startswith("error: an answer was already")
    assert env.get_reward() == 1.0
    assert env.python(code="v = 5\nv * 2") == "10" and env.python(code="v") == "5"
    env.reset(**rows[1])  # a new episode: a new session, nothing of the last one
    assert "NameError" in env.python(code="v")
    env.submit_answer(answer=f"\\boxed{{{expression}}}")  # another task's expression: wrong
    assert env.get_reward() == 0.0
    text = env.reset(prompt=[{"role": "user", "content": ""}])  # the environment owns the data
    assert text.startswith("What is ") and "submit_answer" in text
    assert "missing required argument" in env.calculator()
    env._close()


def test_a_sandbox_fault_leaves_the_reward_out(env_class, monkeypatch) -> None:
    env = env_class()
    env.reset(**env_class.rows(1)[0])

    def broken(self):
        raise ToolFault("no sandbox")

    monkeypatch.setattr(ToolContext, "session", broken)
    assert "unavailable" in env.python(code="1")
    assert env.get_reward() is None  # TRL leaves None rewards out rather than scoring them 0
    env._close()


def test_tool_names_may_not_shadow_the_contract() -> None:
    def reset(x: str) -> str:
        """Shadow.

        Args:
            x: x.
        """
        return x

    with pytest.raises(ValueError, match="clash"):
        environment_factory("rlvr/Arithmetic-v1", tools=[reset])


class ScriptedLogits:
    """A logits processor that makes the model write a scripted completion: call the calculator
    on the question, then submit its result (even rows) or a wrong answer (odd rows)."""

    def __init__(self, tokenizer) -> None:
        self.tok = tokenizer
        self.start = tokenizer.convert_tokens_to_ids("<|im_start|>")
        header = tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
        self.header = len(header)

    def completion(self, prompt: str, row: int) -> str:
        results = re.findall(r"<tool_response>\n(.*?)\n</tool_response>", prompt)
        if results:
            answer = results[-1] if row % 2 == 0 else "0"
            call = {"name": "submit_answer", "arguments": {"answer": f"\\boxed{{{answer}}}"}}
        else:
            expression = re.findall(r"What is (.+?)\?", prompt)[-1]
            call = {"name": "calculator", "arguments": {"expression": expression}}
        import json

        return f"<tool_call>\n{json.dumps(call)}\n</tool_call>"

    def __call__(self, input_ids, scores):
        import torch

        for row in range(input_ids.shape[0]):
            ids = input_ids[row].tolist()
            start = len(ids) - 1 - ids[::-1].index(self.start)
            generated = ids[start + self.header :]  # after "<|im_start|>assistant\n"
            prompt = self.tok.decode(ids[: start + self.header])
            target = self.tok(self.completion(prompt, row), add_special_tokens=False)["input_ids"]
            target += [self.tok.eos_token_id]
            token = (
                target[len(generated)] if len(generated) < len(target) else self.tok.eos_token_id
            )
            scores[row] = torch.full_like(scores[row], -float("inf"))
            scores[row, token] = 0.0
        return scores


@pytest.mark.slow
def test_trls_grpo_trainer_trains_two_steps_through_the_environment(tmp_path, env_class) -> None:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from datasets import Dataset
    from transformers import AutoTokenizer, LogitsProcessorList
    from trl import GRPOConfig, GRPOTrainer

    from agents.tiny import build_tiny_model

    path = build_tiny_model(tmp_path / "tiny", tools=True, vocab_size=1024)
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    calc_only = environment_factory("rlvr/Arithmetic-v1", tools=["calculator"], **ENV_ARGS)
    trainer = GRPOTrainer(
        model=str(path),
        processing_class=tok,
        environment_factory=calc_only,
        train_dataset=Dataset.from_list(calc_only.rows(4, seed=0)),
        args=GRPOConfig(
            output_dir=str(tmp_path / "out"),
            max_steps=2,
            per_device_train_batch_size=4,
            num_generations=4,
            max_completion_length=96,
            max_tool_calling_iterations=2,
            logging_steps=1,
            report_to="none",
            use_cpu=True,
            bf16=False,
            save_strategy="no",
            seed=0,
        ),
    )
    generate = trainer.model.generate
    script = LogitsProcessorList([ScriptedLogits(tok)])
    trainer.model.generate = lambda *a, **k: generate(*a, logits_processor=script, **k)
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "reward" in entry]
    print("\nTRL GRPOTrainer through environment_factory:")
    for entry in logs:
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in entry.items()})
    assert len(logs) == 2
    for entry in logs:
        assert entry["tools/call_frequency"] > 0 and entry["tools/failure_frequency"] == 0
        assert entry["rewards/RlvrArithmeticV1/mean"] == pytest.approx(0.5)  # even rows right
        assert entry["reward_std"] > 0 and entry["grad_norm"] > 0
