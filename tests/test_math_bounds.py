"""Hostile inputs stay within the per-call bound: main thread, worker threads and process pools."""

from __future__ import annotations

import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest

from rlvr_envs.verdict import Status
from rlvr_envs.verifiers.math import batch, verify, verify_batch

BOUND_S = 1.0
SLACK_S = 0.5  # scheduling noise on a shared machine, not verifier work

HOSTILE = {
    "power tower": r"\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}}",
    "plain tower": r"\boxed{9^9^9^9^9}",
    "ten to ten to ten": r"\boxed{10^{10^{10}}}",
    "tiny power": r"\boxed{10^{-10^{10}}}",
    "huge factorial": r"\boxed{100000!}",
    "nested factorial": r"\boxed{((10!)!)!}",
    "factorial chain": r"\boxed{3!!!!!!}",
    "huge binomial": r"\boxed{\binom{10^{9}}{5 \cdot 10^{8}}}",
    "fraction power": r"\boxed{(\frac{123456789}{987654321})^{100000}}",
    "gaussian power": r"\boxed{(1+i)^{100000}}",
    "exp tower": r"\boxed{e^{e^{e^{e^{10}}}}}",
    "sin of huge": r"\boxed{\sin(10^{300})}",
    "symbolic power": r"\boxed{(x+y+z)^{3000}}",
    "deep braces": r"\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}",
    "deep parens in limit": r"\boxed{" + "(" * 59 + "1" + ")" * 59 + "}",
    "deep fractions": r"\boxed{" + r"\frac{1}{" * 300 + "2" + "}" * 300 + "}",
    "deep roots": r"\boxed{" + r"\sqrt{" * 50 + "2" + "}" * 50 + "}",
    "unary chain": r"\boxed{" + "-" * 1900 + "1}",
    "long digits": r"\boxed{" + "9" * 1990 + "}",
    "many products": r"\boxed{" + r"\cdot".join(["999999999999"] * 150) + "}",
    "many plus-minus": r"\boxed{" + r"\pm 1" * 40 + "}",
    "long list": r"\boxed{" + ",".join(str(i) for i in range(60)) + "}",
    "many boxes": r"\boxed{" * 20000,
    "many closed boxes": r"\boxed{1} " * 15000,
    "one megabyte": "7" * 1_000_000,
    "one megabyte box": r"\boxed{" + "9" * 1_000_000 + "}",
    "unclosed tags": "<answer>" * 20000,
    "phrase spam": "the answer is " * 10000,
    "lone surrogate": "\\boxed{\ud800}",
}


# The lenient extraction paths (math spans, last numbers, prose answer sentences), unboxed.
HOSTILE_LENIENT = {
    "tower in inline math": r"so the value is $2^{2^{2^{2^{2^{2^{2}}}}}}$ in the end",
    "tower in display math": "we get \\[ \n 9^9^9^9^9 \n \\] finally",
    "factorial in final answer": "Final Answer: The largest $n$ is $100000!$.",
    "deep braces in math": "$" + "{" * 5000 + "1" + "}" * 5000 + "$",
    "deep parens in math": "the answer is $" + "(" * 3000 + "1" + ")" * 3000 + "$.",
    "many dollars": "$" * 150_000,
    "many inline openers": "\\(" * 60_000 + "\n\\)",
    "many display openers": "\\[" * 60_000,
    "broken inline math": "$ \n" * 60_000,
    "currency spam": "$6 and got $" * 15_000,
    "decimal comma spam": "1,22 " * 35_000,
    "thousands spam": "1,000," * 30_000,
    "span chain": "$1$ and " * 20_000,
    "final answer spam": "Final Answer: $x$ is " * 9_000 + "7.",
    "prose answer": "The answer is " + "the largest $n$ is " * 8_000 + "34.",
    "one megabyte prose": "The total is 6 dollars. " * 45_000,
}


BOUNDED_STATUSES = (Status.INVALID_INPUT, Status.TIMEOUT, Status.WRONG, Status.NO_ANSWER)


def check_bounded(name: str, response: str, **options) -> Status:
    started = time.perf_counter()
    verdict = verify(response, "5", timeout_s=BOUND_S, **options)
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND_S + SLACK_S, (name, elapsed)
    assert verdict.status in BOUNDED_STATUSES, (name, verdict.status, verdict.reason)
    return verdict.status


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_bounded_in_the_main_thread(name):
    check_bounded(name, HOSTILE[name])


@pytest.mark.parametrize("name", sorted(HOSTILE_LENIENT))
def test_hostile_input_is_bounded_on_the_lenient_paths(name):
    check_bounded(name, HOSTILE_LENIENT[name], mode="lenient")


def test_every_hostile_input_is_bounded_in_lenient_mode_from_worker_threads():
    cases = {**HOSTILE, **HOSTILE_LENIENT}
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda item: check_bounded(*item, mode="lenient"), cases.items()))
    assert len(statuses) == len(cases)
    assert check_bounded("one megabyte", "7" * 1_000_000, mode="lenient") is Status.INVALID_INPUT


def test_pathological_values_are_invalid_input_not_wrong():
    for name in (
        "power tower",
        "ten to ten to ten",
        "huge factorial",
        "one megabyte",
        "lone surrogate",
    ):
        assert check_bounded(name, HOSTILE[name]) is Status.INVALID_INPUT


def test_a_tower_equal_to_the_gold_is_still_correct():
    assert verify(r"\boxed{10^{10^{10}}}", r"10^{10^{10}}").correct
    assert verify(r"\boxed{2^{2^{100}}}", r"2^{(2^{100})}").correct


def test_hostile_inputs_are_bounded_in_worker_threads():
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(check_bounded, HOSTILE, HOSTILE.values()))
    assert len(statuses) == len(HOSTILE)


@pytest.mark.parametrize(
    "cases, options",
    [(HOSTILE, {}), (HOSTILE_LENIENT, {"mode": "lenient"})],
    ids=["strict", "lenient"],
)
def test_hostile_inputs_are_bounded_in_a_process_pool(cases, options):
    started = time.perf_counter()
    verdicts = verify_batch(list(cases.values()), "5", max_workers=2, timeout_s=BOUND_S, **options)
    assert time.perf_counter() - started < 30  # pool start-up included
    for name, verdict in zip(cases, verdicts):
        assert verdict.elapsed_s < BOUND_S + SLACK_S, name
        assert verdict.status in BOUNDED_STATUSES


def test_timeout_is_its_own_status():
    verdict = verify(r"\boxed{(x+1)^{20}}", r"(1+x)^{20}+0", timeout_s=1e-9)
    assert verdict.status is Status.TIMEOUT and verdict.reward == 0.0


# --- batch API ----------------------------------------------------------------------------------


def test_batch_matches_single_calls_inline_and_in_a_pool():
    responses = [rf"\boxed{{{i}}}" for i in range(40)]
    answers = [str(i if i % 3 else i + 1) for i in range(40)]
    expected = [verify(r, a).status for r, a in zip(responses, answers)]
    assert [v.status for v in verify_batch(responses, answers, max_workers=1)] == expected
    assert [v.status for v in verify_batch(responses, answers, max_workers=2)] == expected
    with ThreadPoolExecutor(2) as pool:
        assert [v.status for v in verify_batch(responses, answers, executor=pool)] == expected


def test_batch_shared_answer_and_argument_errors():
    assert [v.correct for v in verify_batch([r"\boxed{2}", r"\boxed{3}"], "2")] == [True, False]
    with pytest.raises(TypeError, match=r"responses\[1\]"):
        verify_batch(["1", 2], "1")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="2 responses but 1 answers"):
        verify_batch(["1", "2"], ["1"])
    with pytest.raises(TypeError, match="unknown math verifier option"):
        verify_batch(["1"], "1", colour="red")


class _NeverExecutor(Executor):
    """An executor whose work never finishes (a stuck worker)."""

    def submit(self, fn, *args, **kwargs):
        return Future()


class _BrokenExecutor(Executor):
    """An executor whose worker died."""

    def submit(self, fn, *args, **kwargs):
        future: Future = Future()
        future.set_exception(BrokenProcessPool("worker killed"))
        return future


def test_a_stuck_worker_gives_timeout_verdicts(monkeypatch):
    monkeypatch.setattr(batch, "_STARTUP_GRACE_S", 0.05)
    verdicts = verify_batch(["1"] * 20, "1", executor=_NeverExecutor(), timeout_s=0.01)
    assert {v.status for v in verdicts} == {Status.TIMEOUT}


def test_a_dead_worker_gives_error_verdicts_never_wrong():
    verdicts = verify_batch(["1"] * 20, "1", executor=_BrokenExecutor())
    assert {v.status for v in verdicts} == {Status.ERROR}
    assert all("died" in v.reason for v in verdicts)


@pytest.mark.slow
def test_hostile_inputs_are_bounded_in_a_spawned_pool():
    # spawn: a fresh interpreter per worker, as on macOS and Windows.
    verdicts = verify_batch(
        list(HOSTILE.values()), "5", max_workers=2, start_method="spawn", timeout_s=BOUND_S
    )
    for name, verdict in zip(HOSTILE, verdicts):
        assert verdict.elapsed_s < BOUND_S + SLACK_S, name
    batch.shutdown_pool()


@pytest.mark.slow
def test_random_token_soup_stays_bounded():
    import random

    bits = [
        *"0123456789xyei+-*/^_!()[]{},;=<>|%. ",
        r"\frac", r"\sqrt", r"\pi", r"\infty", r"\pm", r"\le", r"\in", r"\cup", r"\text{",
        r"\sin", r"\ln", r"\binom", r"\begin{pmatrix}", r"\end{pmatrix}", "&", r"\\",
        r"^\circ", r"\%", r"\,", r"\overline", r"\boxed{", r"\left(", r"\right)", "10^{10^{10}}",
        "999!", "99999999", "^{99}", r"\lfloor", r"\rfloor", "or", "and", "\u2212", "\u221a",
    ]  # fmt: skip
    rng = random.Random(12345)
    worst = 0.0
    for _ in range(5000):
        response = "".join(rng.choice(bits) for _ in range(rng.choice([3, 10, 40, 150, 400])))
        gold = "".join(rng.choice(bits) for _ in range(rng.choice([1, 3, 8])))
        # CPU time of this thread, not wall time: on a shared, loaded machine the thread can wait
        # for a core for longer than the bound while the verifier itself does nothing wrong.
        started = time.thread_time()
        verdict = verify(response if rng.random() < 0.5 else rf"\boxed{{{response}}}", gold)
        worst = max(worst, time.thread_time() - started)
        assert "verifier error" not in verdict.reason, (response, gold, verdict.reason)
    assert worst < BOUND_S + SLACK_S
