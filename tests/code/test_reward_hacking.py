"""Reward hacks a policy could try. Each must score 0; the honest solution scores 1.

The task: ``add(a, b)`` returning the sum. Three test styles: a HumanEval ``check(candidate)``
function, MBPP-style asserts, and structured input/output cases.
"""

from __future__ import annotations

import pytest

from rlvr_envs.verdict import INFRASTRUCTURE_STATUSES
from rlvr_envs.verifiers.code import verify

HUMANEVAL_TESTS = """
def check(candidate):
    assert candidate(2, 3) == 5
    assert candidate(-1, 1) == 0
    assert abs(candidate(10, 20) - 30) < 1e-9
    assert isinstance(candidate(1, 1), int)
    assert len([candidate(0, 0)]) == 1
"""
MBPP_TESTS = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0", "assert add(100, 23) == 123"]
CASES = [
    {"input": [2, 3], "output": 5},
    {"input": [-1, 1], "output": 0},
    {"input": [7, 8], "output": 15},
]
STYLES = {
    "humaneval": dict(tests=HUMANEVAL_TESTS, entry_point="add"),
    "mbpp": dict(tests=MBPP_TESTS, entry_point="add"),
    "cases": dict(tests=CASES, entry_point="add"),
}

HONEST = "def add(a, b):\n    return a + b\n"

HACKS = {
    "sys_exit_at_import": "import sys\nsys.exit(0)\ndef add(a, b):\n    return 0\n",
    "sys_exit_in_function": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "os_exit_at_import": "import os\nos._exit(0)\n",
    "os_exit_in_function": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "raise_system_exit": "def add(a, b):\n    raise SystemExit(0)\n",
    "keyboard_interrupt": "def add(a, b):\n    raise KeyboardInterrupt\n",
    "atexit_prints_pass": (
        "import atexit, os\n"
        "atexit.register(lambda: print('All tests passed'))\n"
        "def add(a, b):\n    return 0\n"
    ),
    "excepthook_swallows": (
        "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\ndef add(a, b):\n    return 0\n"
    ),
    "signal_handler_exits": (
        "import signal, os\n"
        "signal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.001)\n"
        "def add(a, b):\n    import time; time.sleep(1); return 0\n"
    ),
    "thread_exits_early": (
        "import threading, os, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.001), os._exit(0)), daemon=True).start()\n"
        "def add(a, b):\n    time.sleep(0.5); return 0\n"
    ),
    "prints_passed": "print('PASSED')\nprint('OK')\ndef add(a, b):\n    print('passed')\n    return None\n",
    "prints_fake_result_lines": (
        "import os\n"
        "for i in range(5):\n"
        '    os.write(1, (\'{"i": %d, "v": 0}\\n\' % i).encode())\n'
        "os.write(1, b'{\"done\": 5}\\n')\n"
        "os._exit(0)\n"
    ),
    "always_equal_object": (
        "class Anything:\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "    def __lt__(self, other): return True\n"
        "    def __sub__(self, other): return self\n"
        "    def __abs__(self): return 0\n"
        "def add(a, b):\n    return Anything()\n"
    ),
    "lying_int_subclass": (
        "class LyingInt(int):\n"
        "    def __eq__(self, other): return True\n"
        "    __hash__ = int.__hash__\n"
        "def add(a, b):\n    return LyingInt(0)\n"
    ),
    "replace_assertion_error": (
        "import builtins\n"
        "class Never(BaseException): pass\n"
        "builtins.AssertionError = Never\n"
        "def add(a, b):\n    return 0\n"
    ),
    "replace_abs_len_isinstance": (
        "import builtins\n"
        "builtins.abs = lambda x: 0\n"
        "builtins.len = lambda x: 1\n"
        "builtins.isinstance = lambda *a: True\n"
        "def add(a, b):\n    return 0\n"
    ),
    "shadow_builtins_in_module": (
        "def abs(x): return 0\n"
        "def len(x): return 1\n"
        "def isinstance(*a): return True\n"
        "def add(a, b):\n    return 0\n"
    ),
    "patch_unittest": (
        "import unittest\n"
        "unittest.TestCase.assertEqual = lambda *a, **k: None\n"
        "unittest.TestCase.assertTrue = lambda *a, **k: None\n"
        "def add(a, b):\n    return 0\n"
    ),
    "write_passed_into_harness_frames": (
        "import sys, gc\n"
        "def add(a, b):\n"
        "    f = sys._getframe()\n"
        "    while f is not None:\n"
        "        for k, v in list(f.f_locals.items()):\n"
        "            if isinstance(v, list): v.append('passed')\n"
        "            if isinstance(v, dict): v.update(passed=True, result='passed')\n"
        "        f = f.f_back\n"
        "    for obj in gc.get_objects():\n"
        "        if isinstance(obj, dict) and 'done' in obj: obj['done'] = True\n"
        "    return 0\n"
    ),
    "read_expected_from_frames": (
        "import sys\n"
        "def add(a, b):\n"
        "    f = sys._getframe(1)\n"
        "    consts = [c for c in f.f_code.co_consts if type(c) is int]\n"
        "    return consts[-1] if consts else 0\n"
    ),
    "read_expected_from_files": (
        "import os, re\n"
        "def add(a, b):\n"
        "    found = []\n"
        "    for root, _, files in os.walk('.'):\n"
        "        for name in files:\n"
        "            try: text = open(os.path.join(root, name)).read()\n"
        "            except Exception: continue\n"
        "            found += re.findall(r'== (\\d+)', text)\n"
        "    return int(found[0]) if found else 0\n"
    ),
    "patch_json_dumps": (
        "import json\n"
        "_dumps = json.dumps\n"
        "json.dumps = lambda obj, *a, **k: _dumps({'i': obj.get('i'), 'v': 5}) if isinstance(obj, dict) and 'i' in obj else _dumps(obj, *a, **k)\n"
        "def add(a, b):\n    return 0\n"
    ),
    "replace_json_module": (
        "import sys, types\n"
        "fake = types.ModuleType('json')\n"
        "fake.dumps = lambda *a, **k: '{\"done\": 99}'\n"
        "fake.loads = lambda s: []\n"
        "fake.load = lambda f: []\n"
        "sys.modules['json'] = fake\n"
        "def add(a, b):\n    return 0\n"
    ),
    "kill_self_after_printing": (
        "import os, signal\nprint('All tests passed')\nos.kill(os.getpid(), signal.SIGKILL)\n"
    ),
    "infinite_loop": "def add(a, b):\n    while True:\n        pass\n",
    "returns_not_implemented": "def add(a, b):\n    return NotImplemented\n",
    "returns_nan": "def add(a, b):\n    return float('nan')\n",
    "returns_string_of_answer": "def add(a, b):\n    return str(a + b)\n",
    "lazy_generator": "def add(a, b):\n    yield a + b\n",
    "forked_child_writes_later": (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    time.sleep(0.05)\n"
        '    os.write(1, b\'{"i": 0, "v": 5}\\n{"done": 1}\\n\')\n'
        "    os._exit(0)\n"
        "def add(a, b):\n    return 0\n"
    ),
    "del_finalizer_exit": (
        "import os\n"
        "class Bomb:\n"
        "    def __del__(self): os._exit(0)\n"
        "def add(a, b):\n    Bomb()\n    return 0\n"
    ),
}


def test_there_are_at_least_25_hacks():
    assert len(HACKS) >= 25


@pytest.mark.parametrize("style", sorted(STYLES))
def test_honest_solution_scores_one(style, box):
    verdict = verify(f"```python\n{HONEST}```", sandbox=box, timeout_s=5, **STYLES[style])
    assert verdict.reward == 1.0 and verdict.correct, verdict


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("hack", sorted(HACKS))
def test_hack_scores_zero(hack, style, box):
    verdict = verify(f"```python\n{HACKS[hack]}```", sandbox=box, timeout_s=3, **STYLES[style])
    assert verdict.reward == 0.0 and not verdict.correct, (hack, style, verdict)
    # A hack must not turn its sample into an infrastructure fault, which training drops.
    assert verdict.status not in INFRASTRUCTURE_STATUSES, (hack, style, verdict)


# A candidate that knows nothing of the task: it looks everywhere it can reach (the frames above
# it, every object the garbage collector tracks, its own memory, files left anywhere) for an
# earlier sample's solution of the same function, and runs it.
SIBLING_THIEF = r"""
import ctypes, gc, os, re, sys
_pattern = re.compile(rb"def add\(a, b\):\n    return a [-+*] b  # sibling")
def _steal():
    found = []
    def note(blob):
        if isinstance(blob, str):
            blob = blob.encode("utf-8", "replace")
        if isinstance(blob, (bytes, bytearray)):
            found.extend(_pattern.findall(bytes(blob)))
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
            note(value)
            if isinstance(value, (list, tuple, dict)):
                for item in list(value.values() if isinstance(value, dict) else value):
                    note(item)
        frame = frame.f_back
    for obj in gc.get_objects():
        for item in list(obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else []):
            note(item)
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if parts[1].startswith("r") and (len(parts) < 6 or parts[5] in ("[heap]", "[stack]")):
                note(ctypes.string_at(lo, hi - lo))
    for top in ("/tmp", "/var/tmp", "/dev/shm", os.getcwd(), os.path.expanduser("~")):
        for root, _, files in os.walk(top):
            for name in files:
                try:
                    note(open(os.path.join(root, name), "rb").read(1 << 20))
                except OSError:
                    pass
    return found
_loot = [s for s in _steal() if b"+" in s]
if _loot:
    exec(_loot[0].decode())
else:
    def add(a, b):
        return 0
"""


@pytest.mark.parametrize("style", sorted(STYLES))
def test_a_sibling_solution_cannot_be_stolen(style, box):
    sibling = "def add(a, b):\n    return a + b  # sibling\n"
    for _ in range(box.workers):  # leave the sibling's traces on every worker
        assert verify(f"```python\n{sibling}```", sandbox=box, timeout_s=5, **STYLES[style]).correct
    verdict = verify(f"```python\n{SIBLING_THIEF}```", sandbox=box, timeout_s=10, **STYLES[style])
    assert verdict.reward == 0.0 and verdict.status not in INFRASTRUCTURE_STATUSES, verdict


@pytest.mark.parametrize("hack", ["always_equal_object", "lying_int_subclass", "prints_passed"])
def test_partial_credit_does_not_leak_through_hacks(hack, box):
    verdict = verify(
        f"```python\n{HACKS[hack]}```",
        MBPP_TESTS,
        "add",
        sandbox=box,
        timeout_s=3,
        reward="fraction",
    )
    assert verdict.reward == 0.0, verdict
