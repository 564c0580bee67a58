"""The worker ("zygote") that runs inside a sandbox's isolation boundary.

It starts once per worker slot (as a subprocess, inside bubblewrap, or as a container's PID 1),
preloads common modules, then forks once per job, so a job costs a fork, not an interpreter start.
It enforces every limit itself (rlimits, seccomp, wall clock, output caps), kills every process a
job created before it answers, and reports raw facts only; the host classifies them.

This file must stay self-contained (standard library only, Python 3.8+): the host sends its source
to the interpreter with ``python -I -c``, which may be the interpreter of a container image. The
host also imports it for the framing functions, so nothing runs at import time.

Wire format: a 4-byte big-endian header length, the header, then the blobs whose sizes the
header lists under ``"blobs"``. Requests (host to worker) encode the header with ``marshal``;
replies use JSON, which the host parses without trusting the worker. Both choices are about page
faults: after each fork, every page the worker writes costs a fault, and ``marshal`` and the small
JSON writer below touch far fewer pages than the ``json`` module.
"""

import errno
import fcntl
import json
import marshal
import os
import re
import resource
import select
import signal
import struct
import sys
import time

MAX_HEADER_BYTES = 1 << 20
QUIET_S = 0.005  # see _supervise_fds
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
REPORT_FD = 3  # in a job: the pipe on which setup and memory errors are reported
SETUP_FAILED_EXIT = 126
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# ----------------------------------------------------------------------------- framing


def encode_frame(header, blobs=(), codec="json"):
    """One wire frame: length-prefixed header (``codec``: json or marshal), then raw blobs."""
    blobs = list(blobs)
    header = dict(header)
    header["blobs"] = [len(b) for b in blobs]
    if codec == "marshal":
        raw = marshal.dumps(header, 4)
    else:
        raw = dump_json(header).encode("utf-8")
    return b"".join([struct.pack(">I", len(raw)), raw, *blobs])


def decode_frame(read_exact, max_blob=None, codec="json"):
    """Read one frame with ``read_exact(n) -> bytes``; returns ``(header, blobs)``."""
    (size,) = struct.unpack(">I", read_exact(4))
    if size > MAX_HEADER_BYTES:
        raise ValueError(f"frame header of {size} bytes is too large")
    raw = read_exact(size)
    header = marshal.loads(raw) if codec == "marshal" else json.loads(raw.decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("frame header is not a mapping")
    sizes = header.pop("blobs", [])
    if not isinstance(sizes, list) or not all(isinstance(n, int) and n >= 0 for n in sizes):
        raise ValueError("bad blob sizes in frame header")
    if max_blob is not None and any(n > max_blob for n in sizes):
        raise ValueError(f"frame blob larger than {max_blob} bytes")
    return header, [read_exact(n) if n else b"" for n in sizes]


_PLAIN = frozenset(
    " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"
)


def dump_json(obj):
    """JSON text for None, bools, numbers, strings, lists and str-keyed dicts."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, int):
        return str(int(obj))
    if isinstance(obj, float):
        return repr(obj) if obj == obj and obj not in (float("inf"), float("-inf")) else "null"
    if isinstance(obj, str):
        if _PLAIN.issuperset(obj):
            return '"' + obj + '"'
        return json.dumps(obj)  # rare: error messages with quotes or non-ASCII
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dump_json(v) for v in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ",".join(dump_json(str(k)) + ":" + dump_json(v) for k, v in obj.items()) + "}"
    raise TypeError(f"cannot encode {type(obj).__name__}")


class _FdReader:
    """Blocking exact reads on a file descriptor; EOFError when the peer is gone."""

    def __init__(self, fd):
        self.fd = fd

    def read_all(self):
        chunks = []
        while True:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def __call__(self, n):
        chunks = []
        while n:
            chunk = os.read(self.fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError("control channel closed")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ----------------------------------------------------------------------------- libc helpers

_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        import ctypes

        _LIBC = ctypes.CDLL(None, use_errno=True)
    return _LIBC


def _check(ret, what):
    if ret != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option, arg2=0):
    import ctypes

    _check(
        _libc().prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(arg2),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        ),
        f"prctl({option})",
    )


PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1,
    2,
    4,
    32,
    4096,
    16384,
    1 << 18,
)


def _mount(source, target, fstype, flags, data=None):
    def enc(s):
        return None if s is None else s.encode()

    _check(
        _libc().mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
        f"mount {target}",
    )


# ----------------------------------------------------------------------------- seccomp

# Per architecture: audit arch, syscall numbers. Jobs never need these; most widen the kernel's
# attack surface (namespaces, io_uring, bpf) or reach other processes (ptrace and friends).
_ARCHES = {
    "x86_64": dict(
        arch=0xC000003E,
        x32=True,
        socket=41,
        clone=56,
        clone3=435,
        deny=[272, 308, 425, 426, 427, 101, 310, 311, 438, 321, 298, 323, 248, 249, 250],
    ),
    "aarch64": dict(
        arch=0xC00000B7,
        x32=False,
        socket=198,
        clone=220,
        clone3=435,
        deny=[97, 268, 425, 426, 427, 117, 270, 271, 438, 280, 241, 282, 217, 218, 219],
    ),
}
_CLONE_NS_FLAGS = 0x7E020080  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET,TIME}
_RET_ALLOW, _RET_KILL, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_AF_UNIX = 1


def build_seccomp_filter(block_network, machine=None):
    """A classic-BPF seccomp program (bytes), or None on an unsupported architecture."""
    spec = _ARCHES.get(machine or os.uname().machine)
    if spec is None:
        return None
    ins, labels = [], {}

    def op(code, k=0, jt=0, jf=0):
        ins.append([code, jt, jf, k])

    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    op(ld, 4)  # seccomp_data.arch
    op(jeq, spec["arch"], 0, "kill")
    op(ld, 0)  # seccomp_data.nr
    if spec["x32"]:
        op(jge, 0x40000000, "enosys", 0)
    for nr in spec["deny"]:
        op(jeq, nr, "eperm", 0)
    op(jeq, spec["clone3"], "enosys", 0)  # flags live in memory; libc falls back to clone
    op(jeq, spec["clone"], "clone", 0)
    if block_network:
        op(jeq, spec["socket"], "socket", 0)
    op(ret, _RET_ALLOW)
    labels["clone"] = len(ins)
    op(ld, 16)  # low half of args[0] (little-endian)
    op(jset, _CLONE_NS_FLAGS, "eperm", "allow")
    if block_network:
        labels["socket"] = len(ins)
        op(ld, 16)
        op(jeq, _AF_UNIX, "allow", "eacces")
    for name, value in (
        ("allow", _RET_ALLOW),
        ("eperm", _RET_ERRNO | errno.EPERM),
        ("eacces", _RET_ERRNO | errno.EACCES),
        ("enosys", _RET_ERRNO | errno.ENOSYS),
        ("kill", _RET_KILL),
    ):
        labels[name] = len(ins)
        op(ret, value)
    out = []
    for i, (code, jt, jf, k) in enumerate(ins):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out.append(struct.pack("=HBBI", code, jt, jf, k))
    return b"".join(out)


class _SeccompProgram:
    """A seccomp filter prepared before fork, so installing it in a job is one prctl call."""

    def __init__(self, code):
        import ctypes

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        self._buf = ctypes.create_string_buffer(code, len(code))
        self._prog = SockFprog(len(code) // 8, ctypes.addressof(self._buf))
        self._addr = ctypes.addressof(self._prog)

    def install(self):
        import ctypes

        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _check(
            _libc().prctl(
                ctypes.c_int(PR_SET_SECCOMP),
                ctypes.c_ulong(2),
                ctypes.c_ulong(self._addr),
                ctypes.c_ulong(0),
                ctypes.c_ulong(0),
            ),
            "seccomp",
        )


_ST_TO_MS = (
    (os.ST_NOSUID, 2),
    (os.ST_NODEV, 4),
    (os.ST_NOEXEC, 8),
    (os.ST_NOATIME, 1024),
    (os.ST_NODIRATIME, 2048),
    (os.ST_RELATIME, 1 << 21),
)
_LEAVE_ALONE = ("/proc", "/sys", "/dev")


def _remount_readonly(keep_writable):
    """Make every mount of this (private) namespace read-only, keeping its other flags.

    /proc, /sys and /dev stay as they are (device files do not care, and an unprivileged job
    cannot write the rest), as do the private scratch mounts.
    """
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    seen = set()
    for raw in points:
        path = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), raw)  # "\\040"
        if path in seen or path in keep_writable:
            continue
        seen.add(path)
        if any(path == top or path.startswith(top + "/") for top in _LEAVE_ALONE):
            continue
        try:
            st = os.statvfs(path)
        except OSError:
            continue  # covered by a later mount, or gone
        if st.f_flag & os.ST_RDONLY:
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for st_flag, ms_flag in _ST_TO_MS:
            if st.f_flag & st_flag:
                flags |= ms_flag
        _mount(None, path, None, flags)


# ----------------------------------------------------------------------------- the zygote


class Zygote:
    """Serves jobs on the control channel until it closes; see the module docstring.

    Page faults dominate the cost of a fork-per-job design (every page either side writes after
    a fork is copied or re-mapped), so per-job work is kept off the job's path: the seccomp
    filter, the environment and the std streams are prepared once in the zygote, the next job's
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
        self.stdio = None
        self.spare = None

    # -- startup

    def setup(self):
        """Privileged setup first, then drop, preload, seccomp; returns facts for the host."""
        cfg = self.cfg
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if cfg.get("mounts"):
            self._setup_mounts(cfg["mounts"])
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
        self.stdio = _job_stdio()
        if cfg.get("seccomp", True):
            self._setup_seccomp(bool(cfg.get("network")))
        with open("/proc/self/statm") as f:
            self.baseline_vm = int(f.read().split()[0]) * PAGE_SIZE
        import gc

        gc.collect()
        gc.freeze()  # the collector then leaves preloaded objects (and their pages) alone
        return {
            "seccomp": self.seccomp_state,
            "pid": os.getpid(),
            "uid": os.getuid(),
            "python": sys.version.split()[0],
            "baseline_vm": self.baseline_vm,
            "mode": self.mode,
        }

    def _setup_seccomp(self, network):
        """Filter this process (jobs inherit it); stack a socket filter per job if needed."""
        try:
            blocking = build_seccomp_filter(block_network=True)
            if blocking is None:
                raise OSError(f"unsupported architecture {os.uname().machine}")
            if network:
                self.job_net_filter = _SeccompProgram(blocking)
                _SeccompProgram(build_seccomp_filter(block_network=False)).install()
            else:
                _SeccompProgram(blocking).install()
            self.seccomp_state = "ok"
        except Exception as exc:  # reported to the host, which decides if it can live without
            self.job_net_filter = None
            self.seccomp_state = f"unavailable: {exc}"

    def _setup_mounts(self, spec):
        """Private mount namespace: size-limited private scratch dirs, interpreter re-exposed.

        Used by the local backend as root: jobs run under an unprivileged uid, which may not be
        able to traverse the directory the interpreter lives in (e.g. ``/root/.pyenv``).
        """
        _check(_libc().unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        expose = [p for p in spec.get("expose", ()) if os.path.isdir(p)]
        covers = sorted(set(spec.get("cover", ())), key=len)
        fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in expose}
        for top in covers:
            _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        for path, fd in fds.items():
            if any(path == c or path.startswith(c.rstrip("/") + "/") for c in covers):
                os.makedirs(path, mode=0o755, exist_ok=True)
                _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
                _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
            os.close(fd)
        scratch = []
        for path, size in spec.get("tmpfs", {}).items():
            if os.path.isdir(path) and not os.path.islink(path):
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
                scratch.append(path)
        if spec.get("readonly_host"):
            _remount_readonly(keep_writable=scratch)
        sys.path_importer_cache.clear()

    # -- serving

    def serve(self):
        read = _FdReader(self.ctrl_in)
        while True:
            if self.spare is None:
                self._fork_spare()
            try:
                header, blobs = decode_frame(read, codec="marshal")
            except EOFError:
                self.shutdown(0)
            op = header.get("op")
            jobdir = None
            if op == "run":
                try:
                    reply, out, jobdir = self.run_job(header, blobs)
                except Exception as exc:
                    self._discard_spare()
                    self._kill_all()
                    reply, out = {"error": f"worker failed: {exc!r}", "fatal": True}, []
            elif op == "ping":
                spare = self.spare["pid"] if self.spare else None
                reply, out = {"pong": True, "jobs": self.jobs, "spare": spare}, []
            elif op == "exit":
                self.shutdown(0)
            else:
                reply, out = {"error": f"unknown op {op!r}"}, []
            _write_all(self.ctrl_out, encode_frame(reply, out))
            # Every process of the job is dead by now; tidying up can wait until after the reply.
            self._wipe(jobdir)

    def shutdown(self, code):
        self._discard_spare()
        self._kill_all()
        self._wipe(None)
        os._exit(code)

    # -- one job

    def _fork_spare(self):
        """Fork the next job's process ahead of time, while idle (see ``_spare``)."""
        jobdir = os.path.join(self.work_root, f"job-{os.getpid()}-{self.jobs + 1}")
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
        os.environ["HOME"] = jobdir
        if self.mode == "plain":
            os.environ["TMPDIR"] = jobdir
        pid = os.fork()
        if pid == 0:
            self._spare(out_w, err_w, rep_w, spec_r, in_r)
        for fd in (out_w, err_w, rep_w, spec_r, in_r):
            os.close(fd)
        self.spare = {
            "pid": pid,
            "jobdir": jobdir,
            "out": out_r,
            "err": err_r,
            "rep": rep_r,
            "spec": spec_w,
            "stdin": in_w,
        }

    def _discard_spare(self):
        spare, self.spare = self.spare, None
        if spare is None:
            return
        for key in ("out", "err", "rep", "spec", "stdin"):
            os.close(spare[key])
        try:
            os.kill(spare["pid"], signal.SIGKILL)
            os.waitpid(spare["pid"], 0)
        except OSError:
            pass

    def run_job(self, header, blobs):
        """Run one job on the spare process; returns (reply, output blobs, job dir)."""
        self.jobs += 1
        lim = header["limits"]
        spare = self.spare
        if spare is None or not spare["jobdir"].endswith(f"-{self.jobs}"):
            self._discard_spare()
            self._fork_spare()
            spare = self.spare
        self.spare = None
        jobdir = spare["jobdir"]
        try:
            self._make_jobdir(jobdir, header, blobs)
        except OSError as exc:
            self.spare = spare
            self._discard_spare()
            return {"error": f"could not place the job's files: {exc}"}, [], jobdir
        stdin_data = blobs[1] if header.get("has_stdin") else None
        spec = {
            "kind": header["kind"],
            "argv": header.get("argv"),
            "script": header["script"],
            "jobdir": jobdir,
            "limits": lim,
            "stdin": stdin_data is not None,
            "env": header.get("env") or {},
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
        reply, out = self._supervise(
            spare["pid"], t0, lim, stdin_data, in_w, spare["out"], spare["err"], spare["rep"]
        )
        if reply.get("signal") == signal.SIGKILL and self.oom_files:
            count = self._oom_kills()
            if count > self.oom_count:
                reply["oom_killed"] = True
            self.oom_count = count
        return reply, out, jobdir

    def _make_jobdir(self, jobdir, header, blobs):
        os.mkdir(jobdir, 0o700)
        uid = self.job_uid if self.mode == "uid" else None
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

    def _supervise(self, pid, t0, lim, stdin_data, in_w, out_r, err_r, rep_r):
        """Feed stdin, drain and cap output, enforce the wall clock; closes the fds it is given."""
        try:
            return self._supervise_fds(pid, t0, lim, stdin_data, in_w, out_r, err_r, rep_r)
        finally:
            for fd in (out_r, err_r, rep_r):
                os.close(fd)
            if in_w is not None and self._stdin_open:
                os.close(in_w)

    def _supervise_fds(self, pid, t0, lim, stdin_data, in_w, out_r, err_r, rep_r):
        cap = lim["output_bytes"]
        deadline = t0 + lim["wall_s"]
        bufs = {out_r: [], err_r: []}
        totals = {out_r: 0, err_r: 0}
        report = []
        poller = select.poll()
        # Output is drained continuously, but only from QUIET_S on: most jobs end sooner, and
        # their output then costs no extra wakeup (the 1 MiB pipes hold it meanwhile).
        draining = False
        quiet_until = t0 + QUIET_S
        poller.register(self.ctrl_in, select.POLLIN)
        try:
            pidfd = os.pidfd_open(pid)
            poller.register(pidfd, select.POLLIN)
        except (AttributeError, OSError):
            pidfd = None
        stdin_view = None
        self._stdin_open = in_w is not None
        if in_w is not None:
            os.set_blocking(in_w, False)
            stdin_view = memoryview(stdin_data)
            if stdin_view:
                poller.register(in_w, select.POLLOUT)
            else:
                os.close(in_w)
                self._stdin_open = False
        open_fds = {out_r, err_r}
        status = rusage = None
        timed_out = None
        output_limited = False
        host_gone = False
        try:
            while status is None:
                now = time.monotonic()
                if now >= deadline:
                    timed_out = "wall"
                    break
                if not draining and now >= quiet_until:
                    draining = True
                    for fd in open_fds:
                        poller.register(fd, select.POLLIN)
                wait_ms = ((deadline if draining else quiet_until) - now) * 1000.0
                if pidfd is None:
                    wait_ms = min(wait_ms, 2.0)
                events = poller.poll(max(1, int(wait_ms + 0.999)))
                exited = pidfd is None
                for fd, _ in events:
                    if fd in open_fds:
                        if not self._read_into(fd, bufs, totals, report, cap):
                            poller.unregister(fd)
                            open_fds.discard(fd)
                    elif fd == in_w and self._stdin_open:
                        try:
                            n = os.write(in_w, stdin_view[:65536])
                            stdin_view = stdin_view[n:]
                            done = not stdin_view
                        except (BlockingIOError, InterruptedError):
                            done = False
                        except OSError:  # the job closed its stdin
                            done = True
                        if done:
                            poller.unregister(in_w)
                            os.close(in_w)
                            self._stdin_open = False
                    elif fd == pidfd:
                        exited = True
                    elif fd == self.ctrl_in:
                        host_gone = True
                if host_gone:
                    break
                if totals[out_r] > cap or totals[err_r] > cap:
                    output_limited = True
                    break
                if exited:
                    got, st, ru = os.wait4(pid, os.WNOHANG if pidfd is None else 0)
                    if got == pid:
                        status, rusage = st, ru
            wall = time.monotonic() - t0
            killed_ok, extra_cpu, main = self._kill_all(pid if status is None else None)
            if status is None and main is not None:
                status, rusage = main
            # Every writer is dead now: what is left in the pipes is bounded by their size.
            if not draining:
                for fd in open_fds:
                    poller.register(fd, select.POLLIN)
            drain_until = time.monotonic() + 1.0
            while open_fds and time.monotonic() < drain_until:
                for fd, _ in poller.poll(50):
                    if fd in open_fds and not self._read_into(fd, bufs, totals, report, cap):
                        poller.unregister(fd)
                        open_fds.discard(fd)
        finally:
            if pidfd is not None:
                os.close(pidfd)
        if host_gone:
            self.shutdown(1)
        # The report pipe is read only now (a few bytes; polling it would cost a wakeup).
        os.set_blocking(rep_r, False)
        while self._read_into(rep_r, bufs, totals, report, cap):
            pass
        if status is None:
            return {"error": "could not reap the job's main process", "fatal": True}, []
        cpu = rusage.ru_utime + rusage.ru_stime + extra_cpu if rusage is not None else extra_cpu
        if totals[out_r] > cap or totals[err_r] > cap:
            output_limited = True
        marks = b"".join(report)
        started = marks.startswith(b"S")
        reply = {
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "wall_s": wall,
            "cpu_s": cpu,
            "max_rss_kb": rusage.ru_maxrss if rusage is not None else 0,
            "timed_out": timed_out,
            "output_limited": output_limited,
            "memory_error": started and b"M" in marks[1:],
            "stdout_total": totals[out_r],
            "stderr_total": totals[err_r],
            "stdout_truncated": totals[out_r] > cap,
            "stderr_truncated": totals[err_r] > cap,
        }
        if not started:
            # Setup errors count only before the job's own code ran, so a job cannot fake one.
            msg = marks[1:].decode("utf-8", "replace") if marks.startswith(b"E") else ""
            reply["error"] = "job setup failed: " + (msg or f"no report (status {status!r})")
        if not killed_ok:
            reply["error"] = "could not kill every process of the job"
            reply["fatal"] = True  # the host replaces this worker (and its namespaces)
        out = [b"".join(bufs[out_r])[:cap], b"".join(bufs[err_r])[:cap]]
        return reply, out

    @staticmethod
    def _read_into(fd, bufs, totals, report, cap):
        """Read what is there; keep at most ``cap`` bytes per stream but count them all."""
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        if fd not in bufs:  # the report pipe
            if sum(map(len, report)) < 4096:
                report.append(data)
            return True
        if totals[fd] < cap:
            bufs[fd].append(data[: cap - totals[fd]])
        totals[fd] += len(data)
        return True

    def _kill_all(self, main_pid=None):
        """Kill and reap every process of the job.

        Returns ``(ok, cpu seconds of the reaped, (status, rusage) of main_pid or None)``. Every
        descendant of a job is our child or grandchild (we are PID 1 or a child subreaper), so
        "no children left" means nothing of the job survives.
        """
        main = None
        if main_pid is not None:
            try:
                os.killpg(main_pid, signal.SIGKILL)
            except OSError:
                pass
        cpu = 0.0
        deadline = time.monotonic() + 10.0
        delay = 0.0002
        while True:
            try:
                while True:
                    pid, st, ru = os.wait4(-1, os.WNOHANG)
                    if pid == 0:
                        break
                    if pid == main_pid:
                        main = (st, ru)
                    else:
                        cpu += ru.ru_utime + ru.ru_stime
            except ChildProcessError:
                return (main_pid is None or main is not None), cpu, main
            if time.monotonic() > deadline:
                return False, cpu, main
            self._signal_everything()
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def _signal_everything(self):
        if self.mode == "pid1":
            # As PID 1 of its namespace: one atomic pass over every other process in it.
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        elif self.mode == "uid":
            # Every job process runs under job_uid: kill(-1) from that uid reaches all of them,
            # in one pass that a concurrent fork cannot escape, and nothing else.
            pid = os.fork()
            if pid == 0:
                try:
                    os.setresuid(self.job_uid, self.job_uid, self.job_uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
        else:
            for pid in _descendants(os.getpid()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

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

    def _wipe(self, jobdir):
        """Remove the job's directory and anything it left in the private scratch dirs."""
        if jobdir is not None:
            try:  # the common case: the job left only its script
                for name in os.listdir(jobdir):
                    os.unlink(os.path.join(jobdir, name))
                os.rmdir(jobdir)
            except OSError:
                _rmtree(jobdir)
        for top in self.wipe:
            try:
                names = os.listdir(top)
            except OSError:
                continue
            for name in names:
                path = os.path.join(top, name)
                if path != self.work_root:
                    _rmtree(path)

    # -- inside the job's process

    def _spare(self, out_w, err_w, rep_w, spec_r, in_r):
        """The next job's process: generic setup now, then the job's own once its spec comes.

        Never returns. Anything that fails before the job's code runs is reported on the report
        pipe (fd 3) as a setup error, which the job itself cannot fake (see ``_supervise``).
        """
        try:
            os.setsid()
            # Lift every source above the targets first, so that no dup2 clobbers a later one.
            sources = [
                fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in (rep_w, out_w, err_w, spec_r, in_r)
            ]
            for src, dst in zip(sources, (REPORT_FD, 1, 2, 4, 5)):
                os.dup2(src, dst, inheritable=dst in (1, 2))
            os.closerange(6, _MAX_FD)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # the zygote ignores it
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
            _set_limits(lim, self.baseline_vm)
            if self.mode == "uid":
                uid = self.job_uid
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            if not lim.get("network") and self.job_net_filter is not None:
                self.job_net_filter.install()
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
        with open(script, "rb") as f:
            code = f.read()
        _run_python_job(code, script, spec["argv"], spec["jobdir"], self.stdio)


_MAX_FD = max(os.sysconf("SC_OPEN_MAX"), 256)


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


def _rmtree(path):
    """Delete a file or tree, making unreadable directories readable first."""
    import shutil

    def retry(func, p, _exc):
        # The job made something unreadable; chmod never follows the job's symlinks.
        for target in (os.path.dirname(p), p):
            try:
                if not os.path.islink(target):
                    os.chmod(target, 0o700)
            except OSError:
                pass
        try:
            func(p)
        except OSError:
            pass

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, onerror=retry)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _descendants(root):
    """Every live descendant of ``root``, from /proc (used when no stronger tool is available)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found


# ----------------------------------------------------------------------------- python jobs


def _job_stdio():
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


def _run_python_job(code, script, argv, jobdir, stdio):
    """Run ``code`` as ``python script`` would, in this forked process; never returns."""
    import builtins
    import types

    sys.stdin, sys.stdout, sys.stderr = stdio
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = stdio
    sys.argv = list(argv) if argv else [os.path.basename(script)]
    sys.path.insert(0, jobdir)
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__cached__ = None
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    exit_code = 0
    interrupted = False
    try:
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


# ----------------------------------------------------------------------------- entry point


def main(server=None):
    """Take the control channel off stdio, read the configuration, set up, then serve.

    With ``--connect PATH`` the control channel is a unix socket the host listens on (Docker:
    this keeps the daemon out of the per-job path); otherwise it is stdin/stdout. ``server`` is
    the class that serves (default: ``Zygote``; ``sandbox.session`` passes a subclass).
    """
    if "--connect" in sys.argv:
        import socket

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
