# The worker of one interpreter session (see ``sandbox.session``): a zygote that keeps one
# long-lived Python interpreter instead of forking a process per job.
#
# The host sends this file to ``python -I -c`` right after ``_zygote.py``'s source (with
# ``__name__`` set so that the zygote's own ``main()`` does not run), so everything the zygote
# defines is in scope: setup (mounts, uid drop, seccomp, preload, the template that forks job
# processes holding no job data), limits, the job process (a spare forked by the template: the
# interpreter is a job whose program is the read-eval loop below), and the kill-everything and
# tidy-up machinery (scratch directories, System V IPC). It must stay standard library only and
# runnable on Python 3.8+.
#
# Requests (host to worker): ``start`` (fork the interpreter under the session's limits),
# ``exec`` (run code in it, within a wall-clock limit), ``ping``, ``exit``. Per call, the worker
# drains and caps stdout/stderr, waits for the interpreter's reply, then kills every process the
# call started. A call that runs out of time, or an interpreter that dies, takes the session's
# state with it: every process is killed, the scratch directories are wiped, and the next call
# starts a fresh interpreter (its reply says ``fresh``).

import json
import marshal
import os
import select
import signal
import struct
import time
import typing

if typing.TYPE_CHECKING:  # for readers and linters; at run time these come from _zygote.py
    from ._cleanup import descendants
    from ._supervise import make_jobdir
    from ._wire import _FdReader, _write_all, decode_frame, encode_frame
    from ._zygote import Zygote, close_spare, main

SESSION_SCRIPT = ".session.py"
MAX_REPLY_BYTES = 1 << 16

# The interpreter's program: reads code frames on fd 0, runs each in one persistent namespace,
# answers on fd 3. User code is untrusted and runs in this very process, so the host trusts
# nothing it answers beyond a small, size-capped JSON record.
REPL_SOURCE = r"""
import ast, builtins, json, linecache, os, struct, sys, traceback, types


def _read(fd, n):
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            os._exit(0)
        data += chunk
    return data


def _run(code, ns, name):
    try:
        tree = ast.parse(code, name, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        exec(compile(tree, name, "exec", dont_inherit=True), ns)
        if last is not None:
            value = eval(compile(last, name, "eval", dont_inherit=True), ns)
            if value is not None:
                print(repr(value))
        return "ok", None
    except SystemExit as exc:
        return "exit", "SystemExit(%r)" % (exc.code,)
    except BaseException as exc:
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        try:
            if isinstance(exc, SyntaxError) and tb is None:
                traceback.print_exception(type(exc), exc, None, limit=0)
            else:
                traceback.print_exception(type(exc), exc, tb)
        except BaseException:
            pass
        return ("memory" if isinstance(exc, MemoryError) else "error"), type(exc).__name__


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _session():
    ctl_in, ctl_out = os.dup(0), os.dup(3)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.close(3)
    try:
        os.unlink(__file__)
    except OSError:
        pass
    sys.argv = [""]
    user = types.ModuleType("__main__")
    user.__builtins__ = builtins
    sys.modules["__main__"] = user
    streams = (sys.stdout, sys.stderr)
    calls = 0
    while True:
        (size,) = struct.unpack(">I", _read(ctl_in, 4))
        code = _read(ctl_in, size).decode("utf-8", "replace")
        calls += 1
        _reap()
        status, error = _run(code, user.__dict__, "<call %d>" % calls)
        sys.stdout, sys.stderr = streams
        for stream in streams:
            try:
                stream.flush()
            except BaseException:
                pass
        reply = json.dumps({"status": status, "error": error}).encode()
        os.write(ctl_out, struct.pack(">I", len(reply)) + reply)


_session()
"""


class SessionHost(Zygote):
    """Serves one interpreter session on the control channel (see the file's header)."""

    def __init__(self, config, ctrl_in, ctrl_out):
        Zygote.__init__(self, config, ctrl_in, ctrl_out)
        self.interp = None  # the live interpreter's pid, fds and job directory
        self.limits = None
        self.fresh = True  # the next call runs in an interpreter no call has used yet

    def serve(self):
        read = _FdReader(self.ctrl_in)
        while True:
            try:
                header, blobs = decode_frame(read, codec="marshal")
            except EOFError:
                self.shutdown(0)
            op = header.get("op")
            out = []
            if op == "start":
                self.limits = header["limits"]
                error = self.start_interpreter()
                reply = {"started": error is None, "error": error}
            elif op == "exec":
                try:
                    reply, out = self.execute(header, blobs[0] if blobs else b"")
                except Exception as exc:
                    self.stop_interpreter()
                    reply = {"error": f"session worker failed: {exc!r}", "fatal": True}
            elif op == "ping":
                reply = {"pong": True, "alive": self.interp is not None}
            elif op == "exit":
                self.shutdown(0)
            else:
                reply = {"error": f"unknown op {op!r}"}
            _write_all(self.ctrl_out, encode_frame(reply, out))

    # -- the interpreter

    def start_interpreter(self):
        """Have the template fork the interpreter, a job whose program is the read-eval loop;
        None, or why it could not start."""
        if self.limits is None:
            return "the session was not started"
        self.jobs += 1
        spare = None
        if self.template is not None:
            spare = self.template.take_spare(self._next_jobdir_for(self.jobs))
        if spare is None:
            self._lose_template()
            return "the worker cannot fork the interpreter"
        header = {"kind": "python", "script": SESSION_SCRIPT}
        try:
            uid = self.job_uid if self.mode == "uid" else None
            make_jobdir(spare["jobdir"], header, [REPL_SOURCE.encode("utf-8")], uid)
            spec = {
                "kind": "python",
                "argv": None,
                "script": SESSION_SCRIPT,
                "jobdir": spare["jobdir"],
                "limits": self.limits,
                "stdin": True,
                "env": {},
            }
            _write_all(spare["spec"], marshal.dumps(spec, 4))
        except OSError as exc:
            close_spare(spare)
            self.tidy_up(spare["jobdir"])
            return f"could not start the interpreter: {exc}"
        os.close(spare["spec"])
        for key in ("stdin", "out", "err", "rep"):
            os.set_blocking(spare[key], False)
        spare["setup"] = b""  # the one-byte setup report ("S") has not been read yet
        self.interp = spare
        self.fresh = True
        return None

    def stop_interpreter(self, call=None):
        """Kill the interpreter and everything it started, wipe its files; the exit status of
        the interpreter (None if unknown). ``call``'s output still in the pipes is kept."""
        interp, self.interp = self.interp, None
        if interp is None:
            return None
        status = call.status if call is not None else None
        killed, _, main = self._kill_all(interp["pid"] if status is None else None)
        if status is None and main is not None:
            status = main[0]
        if call is not None:
            call.drain()
        for key in ("out", "err", "rep", "stdin"):
            try:
                os.close(interp[key])
            except OSError:
                pass
        self._resume_template()
        if not killed or not self.tidy_up(interp["jobdir"]):
            os._exit(3)  # something of the session survives: the host starts a fresh worker
        return status

    def _resume_template(self):
        """The interpreter shares the template's uid in some backends and may have stopped it."""
        if self.template is not None:
            try:
                os.kill(self.template.pid, signal.SIGCONT)
            except OSError:
                self._lose_template()

    # -- one call

    def execute(self, header, code):
        """Run ``code`` in the interpreter (starting one if needed); (reply, [stdout, stderr])."""
        if self.interp is None:
            error = self.start_interpreter()
            if error is not None:
                return {"error": error}, []
        fresh, self.fresh = self.fresh, False
        call = _Call(self.interp, header["wall_s"], header["output_bytes"])
        outcome = call.run(struct.pack(">I", len(code)) + code, self.ctrl_in)
        if outcome == "host_gone":
            self.shutdown(1)
        reply = {"fresh": fresh}
        if outcome == "replied":
            parsed = _parse_reply(call.reply)
            if parsed is None:
                outcome = "garbled"
            elif not self._kill_strays(self.interp["pid"]):
                outcome = "unkillable"
            else:
                reply.update(parsed)
                call.drain()
        if outcome != "replied":
            reply.update(self._lost(call, outcome))
        reply.update(wall_s=call.wall, stdout_total=call.totals[1], stderr_total=call.totals[2])
        return reply, [b"".join(call.bufs[1]), b"".join(call.bufs[2])]

    def _lost(self, call, outcome):
        """End the interpreter after a call it did not answer properly; how the call ended."""
        status = self.stop_interpreter(call)
        oom = self.oom_files and self._oom_kills() > self.oom_count
        self.oom_count = self._oom_kills()
        facts = {"lost": True}
        if call.setup_error is not None:
            facts["error"] = "session setup failed: " + call.setup_error
        elif outcome == "timeout":
            facts["status"] = "timeout"
        elif outcome == "garbled":
            facts.update(status="crashed", detail="the interpreter broke the session protocol")
        elif outcome == "unkillable":
            facts["error"] = "a process of the call could not be killed"
        else:
            facts.update(_exit_facts(status, oom))
        return facts

    def _kill_strays(self, interp_pid):
        """Kill every process but the interpreter and the template (the call's children,
        orphans); True if done."""
        deadline = time.monotonic() + 5.0
        while True:
            strays = self._strays(interp_pid)
            if not strays:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            while True:  # orphans are ours to reap; the interpreter reaps its own children
                try:
                    pid, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid == interp_pid:  # it died meanwhile: the next call will notice
                    return True
                if self.template is not None and pid == self.template.pid:
                    self._lose_template()
            time.sleep(0.001)

    def _strays(self, interp_pid):
        """Live processes other than the interpreter and the template: usually none, found
        without a /proc scan."""
        keep = {interp_pid}
        if self.template is not None:
            keep.add(self.template.pid)
        try:
            mine = _children(os.getpid())
            theirs = _children(interp_pid)
        except OSError:
            mine, theirs = None, None
        if mine is not None and not theirs and mine <= keep:
            return []
        return [p for p in descendants(os.getpid()) if p not in keep and _alive(p)]


def _children(pid):
    """Child pids of every thread of ``pid`` (``/proc/PID/task/TID/children``)."""
    found = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            found.update(int(p) for p in f.read().split())
    return found


def _alive(pid):
    """False for a zombie or a process that is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"


def _parse_reply(raw):
    """The interpreter's answer, or None when it is not the small JSON record it must be."""
    try:
        reply = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(reply, dict) or reply.get("status") not in ("ok", "error", "memory", "exit"):
        return None
    error = reply.get("error")
    return {"status": reply["status"], "exception": str(error)[:200] if error else None}


def _exit_facts(status, oom):
    """How a dead interpreter ended, for the host to classify."""
    if status is None:
        return {"status": "crashed", "detail": "the interpreter could not be reaped"}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "detail": "the session's CPU time budget is spent"}
        if sig == signal.SIGKILL and oom:
            return {"status": "memory_limit"}
        return {"status": "crashed", "signal": sig}
    return {"status": "crashed", "exit_code": os.WEXITSTATUS(status)}


class _Call:
    """One call's I/O: send the request, drain and cap output, read the reply, watch the clock."""

    def __init__(self, interp, wall_s, cap):
        self.interp = interp
        self.t0 = time.monotonic()
        self.deadline = self.t0 + wall_s
        self.cap = cap
        self.bufs = {1: [], 2: []}
        self.totals = {1: 0, 2: 0}
        self.fds = {interp["out"]: 1, interp["err"]: 2}
        self.reply = b""
        self.status = None
        self.setup_error = None
        self.wall = 0.0

    def run(self, request, ctrl_in):
        """Until the reply, the interpreter's exit, the deadline or the host's hang-up."""
        interp = self.interp
        poller = select.poll()
        for fd in self.fds:
            poller.register(fd, select.POLLIN)
        poller.register(interp["rep"], select.POLLIN)
        poller.register(ctrl_in, select.POLLIN)
        pidfd = _pidfd(interp["pid"])
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        pending = memoryview(request)
        poller.register(interp["stdin"], select.POLLOUT)
        try:
            while True:
                now = time.monotonic()
                if now >= self.deadline:
                    return self._done("timeout")
                wait_ms = (self.deadline - now) * 1000.0
                if pidfd is None:
                    wait_ms = min(wait_ms, 2.0)
                exited = pidfd is None
                for fd, _ in poller.poll(max(1, int(wait_ms + 0.999))):
                    if fd in self.fds:
                        self._read(fd)
                    elif fd == interp["rep"]:
                        if self._read_reply():
                            return self._done("replied")
                    elif fd == interp["stdin"]:
                        pending = self._send(pending)
                        if not pending:
                            poller.unregister(fd)
                    elif fd == pidfd:
                        exited = True
                    elif fd == ctrl_in:
                        return "host_gone"
                if exited:
                    got, status = os.waitpid(interp["pid"], os.WNOHANG)
                    if got == interp["pid"]:
                        self.status = status
                        self._read_reply()
                        return self._done("exited")
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _done(self, outcome):
        self.wall = time.monotonic() - self.t0
        return outcome

    def _send(self, pending):
        try:
            n = os.write(self.interp["stdin"], pending[:65536])
        except (BlockingIOError, InterruptedError):
            return pending
        except OSError:  # the interpreter is gone; its exit is noticed next
            return pending[:0]
        return pending[n:]

    def _read(self, fd):
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:
            return False
        stream = self.fds[fd]
        room = self.cap - self.totals[stream]
        if room > 0:
            self.bufs[stream].append(data[:room])
        self.totals[stream] += len(data)
        return True

    def _read_reply(self):
        """Read the report pipe; True once a whole reply frame is there."""
        interp = self.interp
        while True:
            try:
                data = os.read(interp["rep"], 65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data = b""
            if not data:
                break
            if len(interp["setup"]) == 0 and data:
                interp["setup"], data = data[:1], data[1:]
                if interp["setup"] != b"S":
                    self.setup_error = data.decode("utf-8", "replace")[:500]
                    return False
            self.reply += data
            if len(self.reply) > MAX_REPLY_BYTES:
                self.reply = b"garbled"
                return True
            if len(self.reply) >= 4:
                (size,) = struct.unpack(">I", self.reply[:4])
                if size > MAX_REPLY_BYTES:
                    self.reply = b"garbled"
                    return True
                if len(self.reply) >= 4 + size:
                    self.reply = self.reply[4 : 4 + size]
                    return True
        return False

    def drain(self):
        """Whatever output is already in the pipes (the writers have finished or are dead)."""
        for fd in self.fds:
            while self._read(fd):
                pass


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


if __name__ == "rlvr_session_worker":
    main(SessionHost)
