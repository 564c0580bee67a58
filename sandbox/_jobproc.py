"""The job's side of a sandbox worker: a spare process becomes the job, then runs it.

A spare is forked (by the worker's template, see ``_zygote``) before its job exists: it sets up
what every job needs, then blocks until its spec arrives, applies the job's limits and identity,
and runs the program, Python in-process exactly as ``python main.py`` would.

Standard library only, Python 3.8+: this file is part of the worker's source (see ``_zygote``).
"""

import _signal
import fcntl
import marshal
import os
import resource
import signal
import sys

try:  # in the worker's concatenated source these are already defined
    from ._wire import _FdReader
except ImportError:
    pass

REPORT_FD = 3  # in a job: the pipe on which setup and memory errors are reported
SETUP_FAILED_EXIT = 126
_MAX_FD = max(os.sysconf("SC_OPEN_MAX"), 256)


class JobContext:
    """What a spare needs to become a job, prepared once per worker before the template forks."""

    def __init__(self, mode, job_uid, baseline_vm, stdio, net_filter):
        self.mode = mode
        self.job_uid = job_uid
        self.baseline_vm = baseline_vm
        self.stdio = stdio
        self.net_filter = net_filter


def become_job(ctx, out_w, err_w, rep_w, spec_r, in_r):
    """The spare's life: generic setup now, the job's own once its spec comes. Never returns.

    Anything that fails before the job's code runs is reported on the report pipe (fd 3) as a
    setup error, which the job itself cannot fake (see the supervisor).
    """
    try:
        os.setsid()
        # Lift every source above the targets first, so that no dup2 clobbers a later one.
        sources = [fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in (rep_w, out_w, err_w, spec_r, in_r)]
        for src, dst in zip(sources, (REPORT_FD, 1, 2, 4, 5)):
            os.dup2(src, dst, inheritable=dst in (1, 2))
        os.closerange(6, _MAX_FD)
        # The worker ignores SIGINT. ``_signal``, not ``signal``: the latter's wrapper turns the old
        # handler into an enum member, Python code that writes some 40 pages (faults) in a job.
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        spec = marshal.loads(_FdReader(4).read_all())
        os.close(4)
        if spec["stdin"]:
            os.dup2(5, 0)
        else:
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
        os.close(5)
        lim = spec["limits"]
        os.chdir(spec["jobdir"])
        _set_limits(lim, ctx.baseline_vm)
        if ctx.mode == "uid":
            uid = ctx.job_uid
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        if not lim.get("network") and ctx.net_filter is not None:
            ctx.net_filter.install()
        if spec["env"]:
            os.environ.update(spec["env"])
        os.write(REPORT_FD, b"S")
    except BaseException as exc:
        try:
            os.write(REPORT_FD, b"E" + repr(exc).encode("utf-8", "replace")[:1000])
        finally:
            os._exit(SETUP_FAILED_EXIT)
    if spec["kind"] == "exec":
        argv = spec["argv"]
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"{argv[0]}: {exc.strerror}\n".encode())
            os._exit(127)
    script = os.path.join(spec["jobdir"], spec["script"])
    module = _held_module(spec.get("module_main"))
    code = None
    if module is None:
        with open(script, "rb") as f:
            code = f.read()
    _run_python_job(code, script, spec["argv"], spec["jobdir"], module)


def _held_module(entry):
    """The registered worker module ``entry`` names, if this worker holds it at that digest
    (``sandbox.ModuleMain``: its ``main()`` is then the program); else None, and the script runs."""
    if not entry:
        return None
    module = sys.modules.get(entry[0])
    if module is None or getattr(module, "__source_digest__", None) != entry[1]:
        return None
    return module


def _set_limits(lim, baseline_vm):
    cpu = max(1, int(lim["cpu_s"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    for res, value in (
        (resource.RLIMIT_AS, baseline_vm + lim["memory_bytes"]),
        (resource.RLIMIT_NPROC, lim["processes"]),
        (resource.RLIMIT_FSIZE, lim["file_bytes"]),
        (resource.RLIMIT_NOFILE, lim["open_files"]),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(res, (int(value), int(value)))


def job_stdio():
    """The std streams a Python job gets, on fds 0-2, configured as the interpreter would."""
    import io

    def stream(fd, mode, **kw):
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buffered, encoding="utf-8", **kw)

    return (
        stream(0, "r"),
        stream(1, "w"),
        stream(2, "w", errors="backslashreplace", line_buffering=True),
    )


def prepare_template(ctx, script="main.py"):
    """Set, once in the template, the process state a Python job starts from that does not
    depend on the job: each page a job writes costs it a fault, the template's are paid once.

    The std streams, ``sys.argv`` for a job without arguments and an empty ``__main__`` module;
    the job sets its script's path, and its arguments if it has some (see ``_run_python_job``).
    """
    import builtins
    import types

    sys.stdin, sys.stdout, sys.stderr = ctx.stdio
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = ctx.stdio
    sys.argv = [script]
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__cached__ = None
    main.__builtins__ = builtins
    sys.modules["__main__"] = main


def _run_python_job(code, script, argv, jobdir, entry=None):
    """Run ``code`` (or ``entry.main()``, ``entry`` a held worker module) as ``python script``
    would, in this forked process (prepared by ``prepare_template``); never returns."""
    wanted = list(argv) if argv else [os.path.basename(script)]
    if wanted != sys.argv:
        sys.argv = wanted
    sys.path.insert(0, jobdir)
    main = sys.modules["__main__"]
    main.__file__ = script
    exit_code = 0
    interrupted = False
    try:
        if entry is not None:
            entry.main()
        else:
            source = code.decode("utf-8", "surrogatepass")
            exec(compile(source, script, "exec", dont_inherit=True), main.__dict__)
    except SystemExit as exc:
        exit_code = _system_exit_code(exc)
    except BaseException as exc:  # what the interpreter would print, without our frames
        if isinstance(exc, MemoryError):
            try:
                os.write(REPORT_FD, b"M")
            except OSError:
                pass
        interrupted = isinstance(exc, KeyboardInterrupt)
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        try:
            sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        except BaseException:
            pass
        exit_code = 1
    exit_code = _finalize(exit_code)
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(exit_code)


def _system_exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(f"{code}\n")
    except BaseException:
        pass
    return 1


def _finalize(exit_code):
    """The interpreter's own exit sequence: join threads, atexit, flush the std streams."""
    threading = sys.modules.get("threading")
    try:
        if threading is not None and threading.active_count() > 1:
            threading._shutdown()
    except SystemExit as exc:
        exit_code = _system_exit_code(exc)
    except BaseException:
        pass
    atexit = sys.modules.get("atexit")
    if atexit is not None and atexit._ncallbacks():
        try:
            atexit._run_exitfuncs()
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            exit_code = 120
    return exit_code
