"""Watching one running job from the worker: stdin in, output out and capped, the wall clock.

Standard library only, Python 3.8+: this file is part of the worker's source (see ``_zygote``).
"""

import os
import select
import time

try:  # in the worker's concatenated source these are already defined
    from ._wire import _write_all
except ImportError:
    pass

QUIET_S = 0.005  # see supervise
REPORT_CAP = 4096


def make_jobdir(jobdir, header, blobs, uid):
    """Create the job's directory and place its script and files (owned by ``uid`` if given)."""
    os.mkdir(jobdir, 0o700)
    if uid is not None:
        os.chown(jobdir, uid, uid)
    entries = [(header["script"], blobs[0], 0o644)] if header["kind"] == "python" else []
    first = 2 if header.get("has_stdin") else 1
    for (rel, mode), data in zip(header.get("files", ()), blobs[first:]):
        entries.append((rel, data, mode))
    for rel, data, mode in entries:
        path = os.path.join(jobdir, rel)
        parent = os.path.dirname(path)
        if parent != jobdir and not os.path.isdir(parent):
            os.makedirs(parent, mode=0o755)
            if uid is not None:
                p = parent
                while p != jobdir:
                    os.chown(p, uid, uid)
                    p = os.path.dirname(p)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        try:
            _write_all(fd, data)
            if uid is not None:
                os.fchown(fd, uid, uid)
        finally:
            os.close(fd)


class Watch:
    """The state of one job's supervision: buffers, counts, what stopped it."""

    def __init__(self, lim, out_r, err_r, rep_r):
        self.cap = lim["output_bytes"]
        self.out_r, self.err_r, self.rep_r = out_r, err_r, rep_r
        self.bufs = {out_r: [], err_r: []}
        self.totals = {out_r: 0, err_r: 0}
        self.report = []
        self.timed_out = None
        self.output_limited = False
        self.host_gone = False
        self.open_fds = set()

    def read_into(self, fd):
        """Read what is there; keep at most ``cap`` bytes per stream but count them all."""
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        if fd not in self.bufs:  # the report pipe
            if sum(map(len, self.report)) < REPORT_CAP:
                self.report.append(data)
            return True
        if self.totals[fd] < self.cap:
            self.bufs[fd].append(data[: self.cap - self.totals[fd]])
        self.totals[fd] += len(data)
        return True

    def over_cap(self):
        """True once either stream passed the output limit."""
        return self.totals[self.out_r] > self.cap or self.totals[self.err_r] > self.cap


def supervise(pid, t0, lim, stdin_data, in_w, watch, ctrl_in):
    """Feed stdin, drain output, enforce the wall clock until ``pid`` exits or must be stopped.

    Closes ``in_w`` (the job's stdin) when everything is written or at the latest on return.
    Returns ``(status, rusage)`` of ``pid`` if it exited, else ``(None, None)``; ``watch`` says
    why it was stopped. Output is drained continuously, but only from QUIET_S on: most jobs end
    sooner, and their output then costs no extra wakeup (the 1 MiB pipes hold it meanwhile).
    """
    deadline = t0 + lim["wall_s"]
    poller = select.poll()
    draining = False
    quiet_until = t0 + QUIET_S
    # Only the host going away (the end of its pipe or socket closed) stops the job: the host
    # may send the next jobs while this one runs, and they wait in the pipe.
    poller.register(ctrl_in, getattr(select, "POLLRDHUP", 0x2000))
    try:
        pidfd = os.pidfd_open(pid)
        poller.register(pidfd, select.POLLIN)
    except (AttributeError, OSError):
        pidfd = None
    stdin_view = None
    if in_w is not None and stdin_data:
        os.set_blocking(in_w, False)
        stdin_view = memoryview(stdin_data)
        poller.register(in_w, select.POLLOUT)
    elif in_w is not None:
        os.close(in_w)
        in_w = None
    open_fds = {watch.out_r, watch.err_r}
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                watch.timed_out = "wall"
                break
            if not draining and now >= quiet_until:
                draining = True
                for fd in open_fds:
                    poller.register(fd, select.POLLIN)
            wait_ms = ((deadline if draining else quiet_until) - now) * 1000.0
            if pidfd is None:
                wait_ms = min(wait_ms, 2.0)
            exited = pidfd is None
            for fd, _ in poller.poll(max(1, int(wait_ms + 0.999))):
                if fd in open_fds:
                    if not watch.read_into(fd):
                        poller.unregister(fd)
                        open_fds.discard(fd)
                elif fd == in_w and in_w is not None:
                    stdin_view = _feed(in_w, stdin_view)
                    if stdin_view is None:
                        poller.unregister(in_w)
                        os.close(in_w)
                        in_w = None
                elif fd == pidfd:
                    exited = True
                elif fd == ctrl_in:
                    watch.host_gone = True
            if watch.host_gone:
                break
            if watch.over_cap():
                watch.output_limited = True
                break
            if exited:
                got, st, ru = os.wait4(pid, os.WNOHANG if pidfd is None else 0)
                if got == pid:
                    return st, ru
    finally:
        if pidfd is not None:
            os.close(pidfd)
        if in_w is not None:
            os.close(in_w)
        watch.open_fds = open_fds
    return None, None


def _feed(in_w, view):
    """Write what the pipe takes; None once stdin is done (all written, or the job closed it)."""
    try:
        n = os.write(in_w, view[:65536])
        view = view[n:]
    except (BlockingIOError, InterruptedError):
        return view
    except OSError:  # the job closed its stdin
        return None
    return view if view else None


def drain(watch):
    """After every writer is dead: read what is left in the pipes (bounded by their size)."""
    poller = select.poll()
    open_fds = set(watch.open_fds)
    for fd in open_fds:
        poller.register(fd, select.POLLIN)
    drain_until = time.monotonic() + 1.0
    while open_fds and time.monotonic() < drain_until:
        for fd, _ in poller.poll(50):
            if fd in open_fds and not watch.read_into(fd):
                poller.unregister(fd)
                open_fds.discard(fd)
    # The report pipe is read only now (a few bytes; polling it would cost a wakeup).
    os.set_blocking(watch.rep_r, False)
    while watch.read_into(watch.rep_r):
        pass


def build_reply(watch, status, rusage, wall, extra_cpu):
    """The raw facts about the job, for the host to classify, and its capped output."""
    cpu = rusage.ru_utime + rusage.ru_stime + extra_cpu if rusage is not None else extra_cpu
    cap = watch.cap
    totals = watch.totals
    out_r, err_r = watch.out_r, watch.err_r
    marks = b"".join(watch.report)
    started = marks.startswith(b"S")
    reply = {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "wall_s": wall,
        "cpu_s": cpu,
        "max_rss_kb": rusage.ru_maxrss if rusage is not None else 0,
        "timed_out": watch.timed_out,
        "output_limited": watch.output_limited or watch.over_cap(),
        "memory_error": started and b"M" in marks[1:],
        "stdout_total": totals[out_r],
        "stderr_total": totals[err_r],
        "stdout_truncated": totals[out_r] > cap,
        "stderr_truncated": totals[err_r] > cap,
    }
    if not started:
        # Setup errors count only before the job's own code ran, so a job cannot fake one;
        # the job never started, so the host may run it again elsewhere.
        msg = marks[1:].decode("utf-8", "replace") if marks.startswith(b"E") else ""
        reply["error"] = "job setup failed: " + (msg or f"no report (status {status!r})")
        reply["retry"] = True
    out = [b"".join(watch.bufs[out_r])[:cap], b"".join(watch.bufs[err_r])[:cap]]
    return reply, out
