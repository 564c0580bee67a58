"""A judge process: runs host passes of trusted tests over the candidate's plain results.

Started by :mod:`.judge` as ``python -I -c <this file> <package dir>``. It loads the harness
modules from the package directory under a private package name (so it does not import
``rlvr_envs`` and stays small and quick to start), then answers requests on stdin/stdout, one
frame each way (4-byte big-endian length, then the request or reply in ``marshal`` form: both
sides are trusted, and the values are plain data, plus the test program's bytecode the first
time it is used). Frames are answered in order, so the host may send several at once. Each pass
runs under an address space limit (a ``MemoryError`` is reported as such) and a CPU time limit
(the kernel ends the process if a pass overruns, should its parent be gone too); the parent
enforces the wall clock.
"""

import importlib
import marshal
import os
import resource
import struct
import sys
import time
import types


def _load(package_dir):
    package = types.ModuleType("rlvr_judge")
    package.__path__ = [package_dir]
    sys.modules["rlvr_judge"] = package
    return importlib.import_module("rlvr_judge.harness")


def _read_exact(n):
    chunks = []
    while n:
        chunk = os.read(0, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _send(obj):
    data = marshal.dumps(obj, 4)
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(1, data) :]


_STATM = os.open("/proc/self/statm", os.O_RDONLY)
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _vm_bytes():
    return int(os.pread(_STATM, 256, 0).split()[0]) * _PAGE


MAX_PROGRAMS = 256  # the host remembers fewer (see ``judge``), so it never omits one dropped here


def _program(harness, programs, request):
    """The request's test program: known here, or rebuilt from the wire form it carries."""
    key = request["key"]
    program = programs.pop(key, None)
    if program is None:
        if "program" not in request:
            return None
        program = harness.TestProgram.from_wire(request["program"])
    programs[key] = program  # most recently used last
    while len(programs) > MAX_PROGRAMS:
        del programs[next(iter(programs))]
    return program


def _run(harness, programs, request):
    try:
        program = _program(harness, programs, request)
    except harness.HarnessError as error:
        return {"harness_error": str(error)}
    if program is None:
        return {"unknown_program": True}
    known = [
        (harness.Call(call_key, payload), record) for call_key, payload, record in request["known"]
    ]
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime + used.ru_stime
    _, hard_as = resource.getrlimit(resource.RLIMIT_AS)
    _, hard_cpu = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_AS, (_vm_bytes() + int(request["memory_bytes"]), hard_as))
    limit = int(cpu + request["cpu_s"]) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard_cpu))
    start = time.perf_counter()
    try:
        outcome = program.run_pass(known, request["globals"])
        reply = {"outcome": outcome.to_dict()}
    except harness.HarnessError as error:
        reply = {"harness_error": str(error)}
    except MemoryError:
        reply = {"memory_error": True}
    except RecursionError as error:
        reply = {"outcome_error": f"RecursionError: {error}"}
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (hard_as, hard_as))
        resource.setrlimit(resource.RLIMIT_CPU, (hard_cpu, hard_cpu))
    reply["elapsed_s"] = time.perf_counter() - start
    return reply


def main():
    """Serve passes until stdin closes."""
    harness = _load(sys.argv[1])
    programs = {}
    _send({"ready": True})
    while True:
        try:
            (size,) = struct.unpack(">I", _read_exact(4))
            request = marshal.loads(_read_exact(size))
        except EOFError:
            os._exit(0)
        try:
            reply = _run(harness, programs, request)
        except MemoryError:
            reply = {"memory_error": True}
        _send(reply)


if __name__ == "__main__":
    main()
