"""What confines a sandbox worker and its jobs: libc calls, seccomp, mounts, sibling forks.

Standard library only, Python 3.8+: this file is part of the worker's source (see ``_zygote``);
the host imports it only for tests of the seccomp programs.
"""

import errno
import os
import re
import struct
import sys

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


def release_free_heap():
    """Hand the C heap's free pages back to the kernel (glibc only; elsewhere a no-op)."""
    try:
        _libc().malloc_trim(0)
    except (AttributeError, OSError):
        pass


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
CLONE_PARENT = 0x00008000
CLONE_CHILD_SETTID = 0x01000000
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

# Per architecture: audit arch, syscall numbers. Jobs never need the ``deny`` calls; most widen
# the kernel's attack surface (namespaces, io_uring, bpf) or reach other processes (ptrace and
# friends). ``mq_open`` is denied because POSIX message queues outlive the job that made them
# and cannot be listed without mounting their file system; ``sysv`` (shmget, semget, msgget) is
# denied where the worker cannot give jobs a private IPC namespace to wipe.
_ARCHES = {
    "x86_64": dict(
        arch=0xC000003E,
        x32=True,
        socket=41,
        clone=56,
        clone3=435,
        deny=[272, 308, 425, 426, 427, 101, 310, 311, 438, 321, 298, 323, 248, 249, 250, 240],
        sysv=[29, 64, 68],
    ),
    "aarch64": dict(
        arch=0xC00000B7,
        x32=False,
        socket=198,
        clone=220,
        clone3=435,
        deny=[97, 268, 425, 426, 427, 117, 270, 271, 438, 280, 241, 282, 217, 218, 219, 180],
        sysv=[194, 190, 186],
    ),
}
_CLONE_NS_FLAGS = 0x7E020080  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET,TIME}
_RET_ALLOW, _RET_KILL, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_AF_UNIX = 1


def build_seccomp_filter(block_network, machine=None, block_sysv_ipc=False):
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
    for nr in spec["deny"] + (spec["sysv"] if block_sysv_ipc else []):
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


# ----------------------------------------------------------------------------- mounts

_ST_TO_MS = (
    (os.ST_NOSUID, 2),
    (os.ST_NODEV, 4),
    (os.ST_NOEXEC, 8),
    (os.ST_NOATIME, 1024),
    (os.ST_NODIRATIME, 2048),
    (os.ST_RELATIME, 1 << 21),
)
_LEAVE_ALONE = ("/proc", "/sys", "/dev")


def _under(path, tops):
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in tops)


def _remount_readonly(keep_writable):
    """Make every mount of this (private) namespace read-only, keeping its other flags.

    /proc, /sys and /dev stay as they are (device files do not care, and an unprivileged job
    cannot write the rest), as do the private scratch mounts and whatever lies below them.
    """
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    seen = set()
    for raw in points:
        path = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), raw)  # "\\040"
        if path in seen or _under(path, keep_writable):
            continue  # private scratch, and what we bound into it ourselves
        seen.add(path)
        if _under(path, _LEAVE_ALONE):
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


def setup_private_mounts(spec):
    """Private mount and IPC namespaces: private scratch tmpfs, the interpreter re-exposed.

    Used by the local backend as root: jobs run under an unprivileged uid, which may not be able
    to traverse the directory the interpreter lives in (``/root/.pyenv``), and the interpreter may
    live under a directory that gets a private tmpfs (a virtual environment under ``/tmp``). Its
    directories are opened first and bound back, read-only, over whatever covers them.
    """
    _check(_libc().unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    expose = [p for p in spec.get("expose", ()) if os.path.isdir(p)]
    covers = sorted(set(spec.get("cover", ())), key=len)
    fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in expose}
    for top in covers:
        _mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    scratch = []
    for path, size in spec.get("tmpfs", {}).items():
        if os.path.isdir(path) and not os.path.islink(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
            scratch.append(path)
    for path, fd in fds.items():
        if _under(path, covers + scratch):
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        os.close(fd)
    if spec.get("readonly_host"):
        _remount_readonly(keep_writable=scratch)
    sys.path_importer_cache.clear()


# ----------------------------------------------------------------------------- sibling forks

_CLONE_NR = {"x86_64": 56, "aarch64": 220}


def _tcb_tid_address(ctypes):
    """Address of the thread id glibc or musl caches for this (main) thread, or 0 if unsure.

    A raw ``clone`` does not update that cache, which ``fork()`` does by passing its address with
    ``CLONE_CHILD_SETTID``; so do we. The address is found by looking for this thread's id in the
    first bytes of the thread's control block, and used only when it appears exactly once.
    """
    libc = ctypes.CDLL(None)
    libc.pthread_self.restype = ctypes.c_void_p
    base = libc.pthread_self()
    tid = os.getpid()
    if not base or tid <= 1:
        return 0
    end = 0
    with open("/proc/self/maps") as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= base < hi and line.split()[1].startswith("r"):
                end = hi
    size = min(2048, end - base) & ~3
    if size <= 0:
        return 0
    raw = ctypes.string_at(base, size)
    hits = [o for o in range(0, size, 4) if struct.unpack_from("=i", raw, o)[0] == tid]
    return base + hits[0] if len(hits) == 1 else 0


class SiblingForker:
    """Forks processes whose parent is this process's parent, not this process.

    ``fork()`` gives the template's children to the template; jobs must be children of the
    supervisor, which waits for them. ``clone(CLONE_PARENT)`` does that in one step, wrapped in
    the interpreter's own before/after-fork hooks exactly as ``os.fork`` is; where it is not
    available (another architecture, a filter that refuses it) a double fork does the same at
    the cost of one more fork: the middle process exits and the grandchild is re-parented to the
    nearest subreaper, the supervisor.
    """

    def __init__(self):
        self.method = "double-fork"
        self._clone = None
        try:
            self._clone = self._prepare_clone()
            if self._clone is not None:
                self.method = "clone-parent"
        except Exception:  # noqa: BLE001 - the double fork always works
            self._clone = None

    @staticmethod
    def _prepare_clone():
        import ctypes

        machine = os.uname().machine
        nr = _CLONE_NR.get(machine)
        api = getattr(ctypes, "pythonapi", None)
        if nr is None or api is None or not hasattr(api, "PyOS_AfterFork_Child"):
            return None
        syscall = ctypes.PyDLL(None, use_errno=True).syscall  # keeps the GIL across the call
        syscall.restype = ctypes.c_long
        before, parent, child = (
            api.PyOS_BeforeFork,
            api.PyOS_AfterFork_Parent,
            api.PyOS_AfterFork_Child,
        )
        for hook in (before, parent, child):
            hook.restype = None
            hook.argtypes = []
        tid_at = _tcb_tid_address(ctypes)
        flags = CLONE_PARENT | (CLONE_CHILD_SETTID if tid_at else 0)
        # clone(flags, stack, parent_tid, child_tid, tls) on x86_64; tls before child_tid on arm64
        values = (flags, 0, 0, tid_at, 0) if machine == "x86_64" else (flags, 0, 0, 0, tid_at)
        # Arguments converted once: converting them on every call allocates, and after a fork
        # each page the template writes costs it a fault.
        args = tuple(ctypes.c_long(v) for v in (nr, *values))

        def clone():
            before()
            pid = syscall(*args)
            if pid == 0:
                child()
                return 0
            parent()
            if pid < 0:
                err = ctypes.get_errno()  # saved by ctypes right after the call
                raise OSError(err, f"clone: {os.strerror(err)}")
            return pid

        return clone

    def fork(self):
        """Like ``os.fork()``, but the child's parent is our parent."""
        if self._clone is not None:
            try:
                return self._clone()
            except OSError:
                self._clone, self.method = None, "double-fork"
        return self._double_fork()

    @staticmethod
    def _double_fork():
        r, w = os.pipe()
        middle = os.fork()
        if middle == 0:
            pid = -1
            try:
                os.close(r)
                pid = os.fork()
                if pid == 0:
                    os.close(w)
                    return 0
                os.write(w, struct.pack("=i", pid))
            finally:
                if pid != 0:
                    os._exit(0)
        os.close(w)
        data = b""
        while len(data) < 4:
            chunk = os.read(r, 4 - len(data))
            if not chunk:
                break
            data += chunk
        os.close(r)
        os.waitpid(middle, 0)  # once it is reaped, its child belongs to the subreaper
        if len(data) < 4:
            raise OSError(errno.ECHILD, "the intermediate process died before forking")
        return struct.unpack("=i", data)[0]
