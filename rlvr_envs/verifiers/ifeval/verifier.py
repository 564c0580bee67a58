"""The environment-side IFEval verifier: ``verifier(completion, task) -> Verdict``."""

from __future__ import annotations

from collections.abc import Mapping

from ...tasks import Task
from ...verdict import Status, Verdict
from .registry import InstructionError
from .request import RequestCheck
from .training import check_combine, verify_for_training
from .verify import check_options, task_instructions, verify


class IFEvalVerifier:
    """Checks a task whose answer lists IFEval instructions (IFEval's row layout).

    By default it scores as IFEval does (evaluation: the instructions only). With
    ``for_training=True`` it uses :func:`~.training.verify_for_training`: non-answers earn 0 and
    the request must be done, by the task's ``answer["request"]`` check when it has one, else by
    a relevance check of the request text (``metadata["request"]``, else the prompt); the two are
    combined by ``combine`` ("gate" or "product").
    """

    def __init__(
        self,
        *,
        mode: str = "strict",
        reward: str = "prompt",
        for_training: bool = False,
        combine: str = "gate",
    ) -> None:
        check_options(mode, reward)
        check_combine(combine)
        self.mode = mode
        self.reward = reward
        self.for_training = bool(for_training)
        self.combine = combine

    def __call__(self, completion: str, task: Task) -> Verdict:
        try:
            ids, kwargs_list = task_instructions(task)
        except InstructionError as error:
            return Verdict.make(Status.ERROR, str(error))
        request_text = task.metadata.get("request")
        if not self.for_training:
            prompt = request_text or task.prompt
            return verify(completion, ids, kwargs_list, prompt, self.mode, reward=self.reward)
        written = task.answer.get("request")
        try:
            check = RequestCheck.from_dict(written) if isinstance(written, Mapping) else None
        except (TypeError, ValueError) as error:
            return Verdict.make(Status.ERROR, f"task {task.id!r}: bad request check: {error}")
        return verify_for_training(
            completion,
            ids,
            kwargs_list,
            task.prompt,
            request=check,
            request_text=request_text,
            mode=self.mode,
            reward=self.reward,
            combine=self.combine,
        )

    def __repr__(self) -> str:
        training = f", for_training=True, combine={self.combine!r}" if self.for_training else ""
        return f"IFEvalVerifier(mode={self.mode!r}, reward={self.reward!r}{training})"
