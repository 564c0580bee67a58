"""The worker ("zygote") that runs inside a sandbox's isolation boundary.

It starts once per worker slot (as a subprocess, inside bubblewrap, or as a container's PID 1),
preloads common modules, then serves jobs, so a job costs a fork, not an interpreter start. It
enforces every limit itself (rlimits, seccomp, wall clock, output caps), kills every process a job
created before it answers, and reports raw facts only; the host classifies them.

Three kinds of process, so that no job can reach another's data:

- the **supervisor** (this process: PID 1 of the sandbox's namespaces, or a child subreaper)
  receives each job's code, stdin and files, supervises the job and sends its output back; it is
  the parent of every job process, and never forks one;
- the **template**, forked by the supervisor once, right after setup and *before any job data
  exists*: it receives nothing but "fork" requests carrying pipe descriptors, and forks each job
  process so that its parent is the supervisor (``SiblingForker``). A job's memory is therefore a
  copy of a state that never held any job's code, input, files or output, whatever it reads;
- the **job** (first a "spare", forked while the worker is idle), which reads its own spec and
  files and runs.

After each job the supervisor kills what the job left, removes its files and the private scratch
directories, and every System V IPC object of the worker's private IPC namespace (POSIX message
queues are refused by the seccomp filter). A job that kills or stops the template (jobs share
its uid in some backends) gets its own result as usual; the worker then retires and the host
starts a fresh one.

Standard library only, Python 3.8+. The host sends the worker's source (this file after
``_wire``, ``_confine``, ``_cleanup``, ``_jobproc`` and ``_supervise``, see ``WORKER_SOURCE``) to
the interpreter with ``python -I -c``, which may be the interpreter of a container image. The
host also imports these modules for the framing functions, so nothing runs at import time.
"""

import array
import fcntl
import marshal
import os
import signal
import socket
import struct
import sys
import time

try:  # in the worker's concatenated source these are already defined
    from ._cleanup import (
        ChildList,
        SysvIpcWiper,
        descendants,
        empty_scratch_dir,
        namespace_pids,
        remove_tree,
    )
    from ._confine import (
        PR_SET_CHILD_SUBREAPER,
        PR_SET_DUMPABLE,
        SiblingForker,
        _prctl,
        _SeccompProgram,
        build_seccomp_filter,
        release_free_heap,
        setup_private_mounts,
    )
    from ._jobproc import JobContext, become_job, job_stdio, prepare_template
    from ._supervise import Watch, build_reply, drain, make_jobdir, supervise
    from ._wire import (
        MAX_HEADER_BYTES,
        _FdReader,
        _write_all,
        decode_frame,
        dump_json,
        encode_frame,
    )
except ImportError:
    pass

__all__ = ["MAX_HEADER_BYTES", "build_seccomp_filter", "decode_frame", "dump_json", "encode_frame"]

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SPAWN_TIMEOUT_S = 30.0  # for the template to fork a spare
KILL_TIMEOUT_S = 10.0  # for every process of a job to be gone
CLEANUP_BUDGET_S = 10.0  # tidying up after one job; beyond it the worker retires


# ----------------------------------------------------------------------------- the template


def _template_main(sock, ctx):
    """The template's whole life: fork a spare per request until the supervisor goes."""
    _set_oom_score_adj(1000)  # jobs (and the template) go first when memory runs out
    prepare_template(ctx)
    forker = SiblingForker()
    sock.send(forker.method.encode())
    home = None
    while True:
        try:
            msg, ancdata, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(5 * 4))
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        # The message names the spare's work dir: its environment is set here, before the fork,
        # so that the job's process need not (each page it writes costs it a fault), and only
        # when it changes: a worker's jobs share one directory path.
        jobdir = msg[1:].decode("utf-8", "surrogateescape")
        if jobdir != home:
            home = os.environ["HOME"] = jobdir
            if ctx.mode == "plain":
                os.environ["TMPDIR"] = jobdir
        fds = array.array("i")
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        pid = -1
        if len(fds) == 5:
            try:
                pid = forker.fork()
            except OSError:
                pid = -1
            if pid == 0:
                sock.close()
                become_job(ctx, *fds)  # never returns
        for fd in fds:
            os.close(fd)
        try:
            sock.send(struct.pack("=i", pid))
        except OSError:
            os._exit(0)


class Template:
    """The supervisor's handle on its template process."""

    def __init__(self, ctx, close_in_child):
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                parent_end.close()
                for fd in close_in_child:
                    os.close(fd)
                _template_main(child_end, ctx)
            finally:
                os._exit(1)
        child_end.close()
        self.pid = pid
        self.sock = parent_end
        self.pending = None  # the supervisor's ends of the spare being forked
        self.method = self._receive(SPAWN_TIMEOUT_S).decode("ascii", "replace")

    def _receive(self, timeout):
        self.sock.settimeout(timeout)
        data = self.sock.recv(64)
        if not data:
            raise EOFError("the template is gone")
        return data

    def request_spare(self, jobdir):
        """Ask for the next job's process; the answer is read when the job comes."""
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        for fd in (out_r, err_r):
            try:
                fcntl.fcntl(fd, F_SETPIPE_SZ, 1 << 20)
            except OSError:
                pass  # over the per-user pipe budget: the default size works too
        rep_r, rep_w = os.pipe2(os.O_CLOEXEC)
        spec_r, spec_w = os.pipe2(os.O_CLOEXEC)
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
        theirs = (out_w, err_w, rep_w, spec_r, in_r)
        try:
            self.sock.sendmsg(
                [b"f" + jobdir.encode("utf-8", "surrogateescape")],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", theirs))],
            )
        finally:
            for fd in theirs:
                os.close(fd)
        self.pending = {
            "out": out_r,
            "err": err_r,
            "rep": rep_r,
            "spec": spec_w,
            "stdin": in_w,
            "jobdir": jobdir,
        }

    def settle(self):
        """Wait for the template's answer about the pending spare; its pid, or None."""
        if self.pending is None:
            return None
        if "pid" not in self.pending:
            try:
                (pid,) = struct.unpack("=i", self._receive(SPAWN_TIMEOUT_S)[:4])
            except (OSError, EOFError, struct.error):
                pid = -1
            self.pending["pid"] = pid if pid > 0 else None
        return self.pending["pid"]

    def take_spare(self, jobdir):
        """The spare asked for (requesting one for ``jobdir`` if none was), or None."""
        if self.pending is None:
            self.request_spare(jobdir)
        pid = self.settle()
        spare, self.pending = self.pending, None
        if pid is None:
            close_spare(spare)
            return None
        return spare

    def close(self):
        """Close our end of the socket (the template exits when it sees that)."""
        try:
            self.sock.close()
        except OSError:
            pass


def close_spare(spare):
    """Close the supervisor's ends of a spare's pipes; kill and reap the spare if it exists."""
    for key in ("out", "err", "rep", "spec", "stdin"):
        try:
            os.close(spare[key])
        except OSError:
            pass
    if spare.get("pid"):
        try:
            os.kill(spare["pid"], signal.SIGKILL)
            os.waitpid(spare["pid"], 0)
        except OSError:
            pass


# ----------------------------------------------------------------------------- the supervisor


class Zygote:
    """Serves jobs on the control channel until it closes; see the module docstring.

    Page faults dominate the cost of a fork-per-job design (every page either side writes after
    a fork is copied or re-mapped), so per-job work is kept off the job's path: the seccomp
    filter and the std streams are prepared once, before the template is forked; the next job's
    process is forked while the worker is idle, and tidying up happens after the reply.
    """

    def __init__(self, config, ctrl_in, ctrl_out):
        self.cfg = config
        self.ctrl_in = ctrl_in
        self.ctrl_out = ctrl_out
        self.mode = config["mode"]  # "pid1", "uid" or "plain"
        self.job_uid = config.get("job_uid")
        self.work_root = config["work_root"]
        self.wipe = [d for d in config.get("wipe", ()) if os.path.isdir(d)]
        self.job_net_filter = None  # stacked per job when the zygote itself allows network
        self.seccomp_state = "off"
        self.baseline_vm = 0
        self.jobs = 0
        self.oom_files = []
        self.oom_count = 0
        self.template = None
        self.template_lost = False
        self.current_jobdir = None
        self.jobdir = None  # every job's (see _next_jobdir)
        self.children = None
        self.ipc = None

    # -- startup

    def setup(self):
        """Privileged setup first, then drop, preload, seccomp, template; facts for the host."""
        cfg = self.cfg
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if cfg.get("mounts"):
            setup_private_mounts(cfg["mounts"])
        if cfg.get("drop_to") is not None:
            uid = cfg["drop_to"]
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        if self.mode != "pid1":
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
        # Non-dumpable: a job running under the same uid can neither ptrace this process nor
        # open its /proc files (memory, file descriptors, environment).
        _prctl(PR_SET_DUMPABLE, 0)
        os.makedirs(self.work_root, exist_ok=True)
        os.environ.clear()
        os.environ.update(cfg.get("env", {}))
        self.oom_files = [
            p
            for p in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
            if os.access(p, os.R_OK)
        ]
        self.oom_count = self._oom_kills()
        for name in cfg.get("preload", ()):
            try:
                __import__(name)
            except Exception:
                pass
        held = _load_worker_modules(cfg.get("modules") or {})
        # The interpreter builds its AST node types (a few hundred KiB of objects) the first time
        # anything is compiled: done here once, not in every job that compiles its program.
        compile("", "<template>", "exec")
        stdio = job_stdio()
        if cfg.get("seccomp", True):
            self._setup_seccomp(bool(cfg.get("network")))
        with open("/proc/self/statm") as f:
            self.baseline_vm = int(f.read().split()[0]) * PAGE_SIZE
        self.children = ChildList()
        # Only a private IPC namespace may be wiped; elsewhere the seccomp filter refuses them.
        self.ipc = SysvIpcWiper() if self.mode != "plain" else None
        ctx = JobContext(self.mode, self.job_uid, self.baseline_vm, stdio, self.job_net_filter)
        import gc

        gc.collect()
        gc.freeze()  # the collector then leaves preloaded objects (and their pages) alone
        # Setup freed more heap than it kept (compiling, importing); the template would carry
        # those pages into every fork, and every job's exit would unmap them again.
        release_free_heap()
        self.template = Template(ctx, (self.ctrl_in, self.ctrl_out))
        return {
            "seccomp": self.seccomp_state,
            "pid": os.getpid(),
            "uid": os.getuid(),
            "python": sys.version.split()[0],
            "baseline_vm": self.baseline_vm,
            "rss": _rss_bytes(),
            "mode": self.mode,
            "template": self.template.pid,
            "fork": self.template.method,
            "modules": held,
        }

    def _setup_seccomp(self, network):
        """Filter this process (jobs inherit it); stack a socket filter per job if needed."""
        sysv = self.mode == "plain"
        try:
            blocking = build_seccomp_filter(block_network=True, block_sysv_ipc=sysv)
            if blocking is None:
                raise OSError(f"unsupported architecture {os.uname().machine}")
            if network:
                self.job_net_filter = _SeccompProgram(blocking)
                open_ = build_seccomp_filter(block_network=False, block_sysv_ipc=sysv)
                _SeccompProgram(open_).install()
            else:
                _SeccompProgram(blocking).install()
            self.seccomp_state = "ok"
        except Exception as exc:  # reported to the host, which decides if it can live without
            self.job_net_filter = None
            self.seccomp_state = f"unavailable: {exc}"

    # -- serving

    def serve(self):
        """Answer frames until the host goes; the first spare is forked after the first frame.

        The host may move the template into a cgroup between "ready" and its first frame, so
        that every job process starts inside it.
        """
        read = _FdReader(self.ctrl_in)
        while True:
            try:
                header, blobs = decode_frame(read, codec="marshal")
            except EOFError:
                self.shutdown(0)
            op = header.get("op")
            jobdir = None
            if op == "run":
                reply, out, jobdir = self.run_job(header, blobs)
            elif op == "ping":
                template = self.template.pid if self.template else None
                spare = self.template.settle() if self.template else None
                reply = {"pong": True, "jobs": self.jobs, "template": template, "spare": spare}
                out = []
            elif op == "exit":
                self.shutdown(0)
            else:
                reply, out = {"error": f"unknown op {op!r}"}, []
            header = blobs = None
            _write_all(self.ctrl_out, encode_frame(reply, out))
            reply = out = None
            # Every process of the job is dead by now; tidying up can wait until after the reply.
            if not self.tidy_up(jobdir):
                os._exit(3)  # a job left more than can be removed in time: start afresh
            if self.template is not None and self.template.pending is None:
                try:
                    self.template.request_spare(self._next_jobdir())
                except OSError:
                    self._lose_template()

    def shutdown(self, code):
        """Kill the template and every job process, tidy up, exit with ``code``."""
        if self.template is not None:
            pid = self.template.pid
            self.template.close()
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self._kill_all()
        self.tidy_up(None)
        os._exit(code)

    def _lose_template(self):
        if self.template is not None:
            if self.template.pending is not None:
                close_spare(self.template.pending)
            self.template.close()
        self.template = None
        self.template_lost = True

    # -- one job

    def _next_jobdir(self):
        """Every job of this worker works in one directory, made afresh for it (the last job's
        is gone by then, see ``tidy_up``): the template then sets the jobs' ``HOME`` once, not
        before every fork (``setenv`` writes a few dozen pages, each a fault)."""
        if self.jobdir is None:
            self.jobdir = os.path.join(self.work_root, f"job-{os.getpid()}")
        return self.jobdir

    def _next_jobdir_for(self, number):
        return os.path.join(self.work_root, f"job-{os.getpid()}-{number}")

    def run_job(self, header, blobs):
        """Run one job; returns (reply, output blobs, its work dir or None). Never raises."""
        self.jobs += 1
        self.current_jobdir = None
        try:
            reply, out = self._run_job(header, blobs)
        except Exception as exc:
            self._kill_all()
            reply, out = {"error": f"worker failed: {exc!r}", "fatal": True}, []
        return reply, out, self.current_jobdir

    def _run_job(self, header, blobs):
        lim = header["limits"]
        spare = None
        if self.template is not None:
            spare = self.template.take_spare(self._next_jobdir())
        if spare is None:
            self._lose_template()
            return {"error": "the worker cannot fork jobs", "fatal": True, "retry": True}, []
        jobdir = self.current_jobdir = spare["jobdir"]
        try:
            make_jobdir(jobdir, header, blobs, self.job_uid if self.mode == "uid" else None)
        except OSError as exc:
            close_spare(spare)
            return {"error": f"could not place the job's files: {exc}"}, []
        stdin_data = blobs[1] if header.get("has_stdin") else None
        spec = {
            "kind": header["kind"],
            "argv": header.get("argv"),
            "script": header["script"],
            "jobdir": jobdir,
            "limits": lim,
            "stdin": stdin_data is not None,
            "env": header.get("env") or {},
            "module_main": header.get("module_main"),
        }
        t0 = time.monotonic()
        try:
            _write_all(spare["spec"], marshal.dumps(spec, 4))
        except OSError:
            pass  # it died: the job reports a setup failure below
        os.close(spare["spec"])
        in_w = spare["stdin"]
        if stdin_data is None:
            os.close(in_w)
            in_w = None
        watch = Watch(lim, spare["out"], spare["err"], spare["rep"])
        try:
            reply, out = self._watch(spare["pid"], t0, lim, stdin_data, in_w, watch)
        finally:
            for fd in (watch.out_r, watch.err_r, watch.rep_r):
                os.close(fd)
        if reply.get("signal") == signal.SIGKILL and self.oom_files:
            count = self._oom_kills()
            if count > self.oom_count:
                reply["oom_killed"] = True
            self.oom_count = count
        if self.template_lost:
            reply["fatal"] = True  # the job's result stands; the worker retires after it
        return reply, out

    def _watch(self, pid, t0, lim, stdin_data, in_w, watch):
        status, rusage = supervise(pid, t0, lim, stdin_data, in_w, watch, self.ctrl_in)
        wall = time.monotonic() - t0
        killed_ok, extra_cpu, main = self._kill_all(pid if status is None else None)
        if status is None and main is not None:
            status, rusage = main
        if watch.host_gone:
            self.shutdown(1)
        drain(watch)  # every writer is dead now
        if self.template is not None:
            try:  # a job sharing its uid may have stopped it
                os.kill(self.template.pid, signal.SIGCONT)
            except OSError:
                self._lose_template()
        if status is None:
            return {"error": "could not reap the job's main process", "fatal": True}, []
        reply, out = build_reply(watch, status, rusage, wall, extra_cpu)
        if not killed_ok:
            reply["error"] = "could not kill every process of the job"
            reply["fatal"] = True  # the host replaces this worker (and its namespaces)
        return reply, out

    # -- after a job

    def _kill_all(self, main_pid=None):
        """Kill and reap every process of the job (everything but the template).

        Returns ``(ok, cpu seconds of the reaped, (status, rusage) of main_pid or None)``. Every
        descendant of a job is our child or grandchild (we are PID 1 or a child subreaper, and
        the template gives its forks to us), so "no child but the template" means nothing of the
        job survives.
        """
        main = None
        if main_pid is not None:
            try:
                os.killpg(main_pid, signal.SIGKILL)
            except OSError:
                pass
        cpu = 0.0
        deadline = time.monotonic() + KILL_TIMEOUT_S
        delay = 0.0002
        template = self.template.pid if self.template is not None else None
        while True:
            try:
                while True:
                    pid, st, ru = os.wait4(-1, os.WNOHANG)
                    if pid == 0:
                        break
                    if pid == main_pid:
                        main = (st, ru)
                    elif pid == template:
                        self._lose_template()
                        template = None
                    else:
                        cpu += ru.ru_utime + ru.ru_stime
            except ChildProcessError:
                pass
            left = self.children.pids() - {template}
            if not left and (main_pid is None or main is not None):
                return True, cpu, main
            if time.monotonic() > deadline:
                return False, cpu, main
            self._signal_everything(template)
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def _signal_everything(self, template):
        if self.mode == "pid1":
            # Every process of our PID namespace but us and the template belongs to the job.
            victims = namespace_pids() - {os.getpid(), template}
        elif self.mode == "uid":
            # Every job process runs under job_uid (the template stays root): kill(-1) from that
            # uid reaches all of them, in one pass that a concurrent fork cannot escape.
            pid = os.fork()
            if pid == 0:
                try:
                    os.setresuid(self.job_uid, self.job_uid, self.job_uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            return
        else:
            victims = set(descendants(os.getpid())) - {template}
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def tidy_up(self, jobdir):
        """Remove the job's directory, whatever it left in the scratch dirs, and its IPC objects.

        Returns False when that took longer than the budget (the worker then retires).
        """
        deadline = time.monotonic() + CLEANUP_BUDGET_S
        if jobdir is not None:
            try:  # the common case: the job left only its script
                for name in os.listdir(jobdir):
                    os.unlink(os.path.join(jobdir, name))
                os.rmdir(jobdir)
            except OSError:
                if not remove_tree(jobdir, deadline):
                    return False
        for top in self.wipe:
            if not empty_scratch_dir(top, deadline):
                return False
        if self.ipc is not None:
            self.ipc.wipe()
        return True

    def _oom_kills(self):
        total = 0
        for path in self.oom_files:
            try:
                with open(path) as f:
                    for line in f:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            total += int(value)
            except (OSError, ValueError):
                pass
        return total


def _load_worker_modules(modules):
    """Compile the host's registered modules into ``sys.modules`` and run their warm-up hooks
    (see ``worker_modules``); ``{name: digest}`` of those loaded."""
    import types

    held = {}
    for name, (source, digest) in modules.items():
        module = types.ModuleType(name)
        module.__source_digest__ = digest
        try:
            exec(compile(source, f"<{name}>", "exec"), module.__dict__)
        except Exception:
            continue  # a job that needs it loads it itself
        sys.modules[name] = module
        held[name] = digest
        warm = getattr(module, "__worker_warm__", None)
        if callable(warm):
            try:
                warm()
            except Exception:
                pass  # only jobs' speed depends on it
    return held


def _set_oom_score_adj(value):
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError:
        pass


def _rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


# ----------------------------------------------------------------------------- entry point


def main(server=None):
    """Take the control channel off stdio, read the configuration, set up, then serve.

    With ``--connect PATH`` the control channel is a unix socket the host listens on (Docker:
    this keeps the daemon out of the per-job path); otherwise it is stdin/stdout. ``server`` is
    the class that serves (default: ``Zygote``; ``sandbox.session`` passes a subclass).
    """
    if "--connect" in sys.argv:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(sys.argv[sys.argv.index("--connect") + 1])
        ctrl_in = sock.detach()
        ctrl_out = os.dup(ctrl_in)
    else:
        ctrl_in = os.dup(0)
        ctrl_out = os.dup(1)
    for fd in (ctrl_in, ctrl_out):
        os.set_inheritable(fd, False)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    try:
        config, _ = decode_frame(_FdReader(ctrl_in), codec="marshal")
    except EOFError:
        os._exit(0)
    zygote = (server or Zygote)(config, ctrl_in, ctrl_out)
    try:
        info = zygote.setup()
    except BaseException as exc:
        _write_all(ctrl_out, encode_frame({"error": f"worker setup failed: {exc!r}"}))
        os._exit(1)
    _write_all(ctrl_out, encode_frame({"ready": True, "info": info}))
    zygote.serve()


if __name__ == "__main__":
    main()
