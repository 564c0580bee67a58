"""What the candidate causes is graded as the candidate's: never ``error`` or ``sandbox_error``.

Training drops samples whose verdict is an infrastructure fault, so a completion that could turn
its wrong answer into one would dodge the penalty. Here the candidate attacks the runner's real
results descriptor, hands the tests objects they cannot replay, stalls or floods the host-side
test passes, and takes its worker down; every verdict must be a candidate status with reward 0,
on every backend, from any thread, within the verifier's time budget.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rlvr_envs import Status
from rlvr_envs.verdict import INFRASTRUCTURE_STATUSES
from rlvr_envs.verifiers.code import verify

MBPP = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0", "assert add(100, 23) == 123"]
CASES = [{"input": [2, 3], "output": 5}, {"input": [-1, 1], "output": 0}]
STYLES = {"mbpp": MBPP, "cases": CASES}

# The runner writes its results to a duplicate of the job's stdout that it keeps open as a text
# stream; the candidate finds that stream through the garbage collector and writes whatever it
# likes to its descriptor.
_FIND_RESULTS = (
    "import gc, io, os\n"
    "def _results_fds():\n"
    "    return sorted({f.fileno() for f in gc.get_objects() if isinstance(f, io.TextIOWrapper)\n"
    "                   and not f.closed and f.writable() and f.fileno() > 2})\n"
    "def _write(data):\n"
    "    for fd in _results_fds():\n"
    "        os.write(fd, data)\n"
)
RESULTS_ATTACKS = {
    "deep_brackets": "_write(b'[' * 100000 + b'\\n')\nos._exit(0)\n",
    "deep_objects": "_write(b'{\"i\": 0, \"v\": ' + b'{\"__tuple\": [' * 3000 + b'\\n')\nos._exit(0)\n",
    "nested_plain_data": (
        "v = 5\nfor _ in range(5000):\n    v = {'__tuple': [v]}\n"
        "import json\n_write(b'{\"imported\": true}\\n')\n"
        "for i in range(3):\n    _write(json.dumps({'i': i, 'v': v}).encode() + b'\\n')\n"
        "_write(b'{\"done\": 3}\\n')\nos._exit(0)\n"
    ),
    "huge_int_digits": (
        "_write(b'{\"imported\": true}\\n')\n"
        "for i in range(3):\n"
        '    _write(b\'{"i": %d, "v": {"__int": "\' % i + b\'7\' * 50000 + b\'"}}\\n\')\n'
        "_write(b'{\"done\": 3}\\n')\nos._exit(0)\n"
    ),
    "unknown_tags": (
        "_write(b'{\"imported\": true}\\n')\n"
        "for i in range(3):\n"
        '    _write(b\'{"i": %d, "v": {"__evil": 1}}\\n\' % i)\n'
        "_write(b'{\"done\": 3}\\n')\nos._exit(0)\n"
    ),
    "unhashable_keys": (
        "_write(b'{\"imported\": true}\\n')\n"
        "for i in range(3):\n"
        '    _write(b\'{"i": %d, "v": {"__dict": [[[1], 2]]}}\\n\' % i)\n'
        "_write(b'{\"done\": 3}\\n')\nos._exit(0)\n"
    ),
    "bad_import_error": "_write(b'{\"import_error\": 5}\\n')\nos._exit(0)\n",
    "bad_record_shapes": (
        '_write(b\'{"imported": true}\\n{"i": 0}\\n{"i": 1, "exc": 3}\\n'
        '{"i": 2, "missing": [1]}\\n{"done": 3}\\n\')\nos._exit(0)\n'
    ),
    "invalid_utf8": "_write(b'\\xff\\xfe{\"imported\": \\xff}\\n' * 10)\nos._exit(0)\n",
    "forged_answers": (
        "_write(b'{\"imported\": true}\\n')\n"
        'for i in range(3):\n    _write(b\'{"i": %d, "v": 0}\\n\' % i)\n'
        "_write(b'{\"done\": 3}\\n')\nos._exit(0)\n"
    ),
    "forged_nan_answers": (
        "_write(b'{\"imported\": true}\\n')\n"
        'for i in range(3):\n    _write(b\'{"i": %d, "v": NaN}\\n\' % i)\n'
        "_write(b'{\"done\": 3}\\n')\nos._exit(0)\n"
    ),
}


def _assert_candidate_verdict(verdict, what) -> None:
    assert verdict.reward == 0.0 and not verdict.correct, (what, verdict)
    assert verdict.status not in INFRASTRUCTURE_STATUSES, (what, verdict)


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("attack", sorted(RESULTS_ATTACKS))
def test_attacks_on_the_real_results_descriptor(attack, style, box):
    code = _FIND_RESULTS + "def add(a, b):\n    return 0\n" + RESULTS_ATTACKS[attack]
    verdict = verify(f"```python\n{code}```", STYLES[style], "add", sandbox=box, timeout_s=2)
    _assert_candidate_verdict(verdict, attack)


def test_results_written_from_inside_a_call_are_still_the_candidates(box):
    code = (
        _FIND_RESULTS + "def add(a, b):\n    _write(b'[' * 100000 + b'\\n')\n    return a + b + 1\n"
    )
    verdict = verify(f"```python\n{code}```", MBPP, "add", sandbox=box, timeout_s=2)
    _assert_candidate_verdict(verdict, "inside a call")


def test_objects_passed_back_to_the_candidate_are_replayed(box):
    """``add(add(1, 2), 3)`` with ``add`` returning its own class: wrong, not an error."""
    code = (
        "class Num:\n"
        "    def __init__(self, v): self.v = v\n"
        "    def __eq__(self, other): return True\n"
        "def add(a, b):\n    return Num(0)\n"
    )
    verdict = verify(
        f"```python\n{code}```", ["assert add(add(1, 2), 3) == 6"], "add", sandbox=box, timeout_s=5
    )
    _assert_candidate_verdict(verdict, "object passed back")
    assert verdict.status is Status.WRONG, verdict


def test_an_object_built_by_one_call_and_used_by_another_is_graded_correctly(box):
    code = (
        "class Stack:\n    def __init__(self): self.items = []\n"
        "def make():\n    return Stack()\n"
        "def push(s, x):\n    s.items.append(x)\n"
        "def pop(s):\n    return s.items.pop()\n"
    )
    tests = ["s = make()", "push(s, 1)", "push(s, 2)", "assert pop(s) == 2", "assert pop(s) == 1"]
    verdict = verify(f"```python\n{code}```", tests, "make", sandbox=box, timeout_s=5)
    assert verdict.correct, verdict


STALLS = {
    # (the solution, the tests, the status the host pass must end in)
    "huge_range": (
        "def count(x):\n    return 10 ** 12\n",
        ["assert sum(range(count(3))) == 3"],
        Status.TIMEOUT,
    ),
    "huge_list": (
        "def size(x):\n    return 3 * 10 ** 8\n",
        ["assert len([0] * size(1)) == 1"],
        Status.MEMORY_LIMIT,
    ),
    "huge_power": (
        "def exp(x):\n    return 10 ** 9\n",
        ["assert 7 ** exp(1) % 10 == 3"],
        Status.TIMEOUT,
    ),
}


@pytest.mark.parametrize("stall", sorted(STALLS))
def test_host_passes_are_bounded_from_any_thread(stall, box):
    code, tests, status = STALLS[stall]
    entry = code.split("(")[0].removeprefix("def ")
    start = time.monotonic()
    with ThreadPoolExecutor(1) as pool:  # never the main thread: no SIGALRM tricks
        verdict = pool.submit(
            verify, f"```python\n{code}```", tests, entry, sandbox=box, timeout_s=1
        ).result(timeout=60)
    assert time.monotonic() - start < 10, verdict
    _assert_candidate_verdict(verdict, stall)
    assert verdict.status is status, verdict


def test_timeout_covers_every_sandbox_round_and_host_pass(local_box):
    """Eight rounds of 0.15 s each (re-running the calls before them) exceed a 1.5 s budget."""
    code = "import time\ndef step(x):\n    time.sleep(0.15)\n    return x + 1\n"
    tests = "x = 0\nwhile step(x) != 8:\n    x += 1\nassert x == 7"
    start = time.monotonic()
    verdict = verify(f"```python\n{code}```", tests, "step", sandbox=local_box, timeout_s=1.5)
    assert verdict.status is Status.TIMEOUT, verdict
    assert time.monotonic() - start < 4


KILLS_ITS_WORKER = (
    "import os, signal\n"
    "def add(a, b):\n"
    "    for name in os.listdir('/proc'):\n"
    "        if name.isdigit() and int(name) != os.getpid():\n"
    "            try:\n"
    "                os.kill(int(name), signal.SIGKILL)\n"
    "            except OSError:\n"
    "                pass\n"
    "    return a + b + 1\n"
)


def test_a_job_that_kills_its_worker_is_the_jobs_fault(box):
    for tests in (MBPP, CASES):
        verdict = verify(
            f"```python\n{KILLS_ITS_WORKER}```", tests, "add", sandbox=box, timeout_s=5
        )
        _assert_candidate_verdict(verdict, "kills its worker")
    honest = verify("```python\ndef add(a, b):\n    return a + b\n```", MBPP, "add", sandbox=box)
    assert honest.correct, honest
