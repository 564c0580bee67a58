"""Runs a ``/run_code`` program, then reports its output and the files asked for (``fetch_files``).

The service runs this file as the job's script when a request names ``fetch_files``: the
program itself is ``__rlvr_program__.py`` in the same directory. Its stdout and stderr go to
files, so after it exits this wrapper can print one JSON line with the exit status, the first
``output_bytes`` of each stream, and each fetched file in base64 (null when missing). Standard
library only: it runs on the sandbox's interpreter.
"""

import base64
import json
import os
import subprocess
import sys


def _head(path, limit):
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    return base64.b64encode(data[:limit]).decode("ascii"), len(data) > limit


def main():
    output_bytes, names = int(sys.argv[1]), json.loads(sys.argv[2])
    with open(".stdout.capture", "wb") as out, open(".stderr.capture", "wb") as err:
        code = subprocess.call([sys.executable, "__rlvr_program__.py"], stdout=out, stderr=err)
    stdout, stdout_cut = _head(".stdout.capture", output_bytes)
    stderr, stderr_cut = _head(".stderr.capture", output_bytes)
    files = {}
    for name in names:
        try:
            with open(name, "rb") as handle:
                files[name] = base64.b64encode(handle.read()).decode("ascii")
        except OSError:
            files[name] = None
    report = {
        "code": code,
        "stdout": stdout,
        "stderr": stderr,
        "stdout_truncated": stdout_cut,
        "stderr_truncated": stderr_cut,
        "files": files,
    }
    os.write(1, (json.dumps(report) + "\n").encode("ascii"))


if __name__ == "__main__":
    main()
