"""Run by ``test_unprivileged.py`` as an unprivileged user: the non-root modes, end to end.

Prints one JSON object: per backend that runs here, what a thief found of a victim's data, how
a job that kills its worker was graded, and whether any job process outlived its job.
"""

import json
import os
import secrets
import sys
import time

sys.path.insert(0, sys.argv[1])  # the repository root

import sandbox  # noqa: E402
from tests.sandbox.attacks import PREFIX, THIEF, VICTIM  # noqa: E402

LIMITS = sandbox.Limits(wall_time_s=20, cpu_time_s=20, memory_mb=256, max_processes=4096)
# Kills its own worker (and the worker's other children): here it may; the caller it spares,
# though it could kill that too (which is why auto never picks local without root unasked).
KILLER = """
import os, signal
worker = os.getppid()
for name in filter(str.isdigit, os.listdir("/proc")):
    try:
        ppid = int(open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        continue
    if ppid == worker and int(name) != os.getpid():
        os.kill(int(name), signal.SIGKILL)
os.kill(worker, signal.SIGKILL)
"""
DAEMON = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(30)
    os._exit(0)
print("left a daemon")
"""


def check(name):
    """The facts for one backend."""
    box = sandbox.get_sandbox(name, shared=False, workers=1, limits=LIMITS)
    try:
        token = PREFIX + secrets.token_hex(4)
        victim = box.run_python(
            VICTIM.format(token=token), stdin=token + "-stdin", files={"data.txt": token + "-file"}
        )
        thief = box.run_python(THIEF)
        found = (
            json.loads(thief.stdout)
            if thief.ok
            else {"error": f"{thief.status.value}: {thief.stderr_text[-300:]}"}
        )
        daemon = box.run_python(DAEMON)
        time.sleep(0.2)
        leftovers = sorted(box.job_process_pids())
        # Only processes of this user are within the job's reach; the test runner's are not.
        killer = box.run_python(KILLER)
        after = box.run_python("print(6 * 7)")
        return {
            "mode": box.worker_info()[0]["mode"] if box.worker_info() else None,
            "victim": victim.status.value,
            "found": {k: v for k, v in found.items() if k == token or k == "error"},
            "daemon": daemon.status.value,
            "leftovers": leftovers,
            "killer": killer.status.value,
            "after": [after.status.value, after.stdout_text],
        }
    finally:
        box.close()
        try:
            os.unlink(f"/tmp/{token}-tmpfile")
        except OSError:
            pass


def main():
    """Check every backend that can run for this user."""
    out = {"uid": os.getuid()}
    for name, why in sandbox.available_backends().items():
        out[name] = check(name) if why is None else {"unavailable": why}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
