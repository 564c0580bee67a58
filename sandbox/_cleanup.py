"""Tidying up after a job inside a worker: files, IPC objects, processes. Nothing here raises.

Everything a job left is hostile input: directory trees thousands of levels deep, unreadable
directories, symlinks to files the worker must not touch, millions of files, IPC objects. Trees
are removed iteratively (no recursion limit to hit), through directory descriptors (no path
length limit, no symlink followed), never across a mount point, and within a time budget.

Standard library only, Python 3.8+: this file is part of the worker's source (see ``_zygote``).
"""

import os
import stat
import time

try:  # in the worker's concatenated source these are already defined
    from ._confine import _libc
except ImportError:
    pass

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _quietly(func, *args, **kwargs):
    try:
        func(*args, **kwargs)
    except OSError:
        pass


def _open_dir(name, dir_fd=None):
    """Open a directory, making it readable first if the job locked it (never a symlink)."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        os.chmod(name, 0o700, dir_fd=dir_fd)  # checked to be a directory, not a link
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o700 != 0o700:
            os.fchmod(fd, 0o700)  # unlinking inside needs write and search permission
    except OSError:
        pass
    return fd


def _empty_dir(fd, device, skip):
    """Unlink every non-directory in ``fd``; the name of one subdirectory to descend into."""
    try:
        entries = os.scandir(fd)
    except OSError:
        return None
    with entries:
        for entry in entries:
            name = entry.name
            if name in skip:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                skip.add(name)
                continue
            if stat.S_ISDIR(st.st_mode):
                if st.st_dev == device:
                    return name
                skip.add(name)  # a mount point: not ours to empty
                continue
            try:
                os.unlink(name, dir_fd=fd)
            except FileNotFoundError:
                pass
            except OSError:
                skip.add(name)
    return None


def remove_tree(path, deadline=None, device=None):
    """Delete ``path`` (a file, a link or a tree) as far as possible; False if out of time.

    With ``device``, a directory on another device (a mount point) is left alone.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return True
    if stat.S_ISDIR(st.st_mode) and device is not None and st.st_dev != device:
        return True
    if not stat.S_ISDIR(st.st_mode):
        _quietly(os.unlink, path)
        return True
    try:
        fd = _open_dir(path)
    except OSError:
        return True
    names, skips = [], [set()]  # the directories we are in below ``path``, and what to skip
    try:
        while True:
            if deadline is not None and time.monotonic() > deadline:
                return False
            child = _empty_dir(fd, st.st_dev, skips[-1])
            if child is not None:
                try:
                    sub = _open_dir(child, fd)
                except OSError:
                    skips[-1].add(child)
                    continue
                os.close(fd)
                fd = sub
                names.append(child)
                skips.append(set())
                continue
            if not names:
                break
            # Every process of the job is dead, so ".." is the directory we came from.
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            name = names.pop()
            skips.pop()
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                skips[-1].add(name)
    except OSError:
        pass
    finally:
        _quietly(os.close, fd)
    _quietly(os.rmdir, path)
    return True


def empty_scratch_dir(top, deadline=None, keep=()):
    """Remove everything inside ``top`` but the names in ``keep``; False if out of time."""
    try:
        names = os.listdir(top)
        device = os.lstat(top).st_dev if names else None  # usually empty: one call less
    except OSError:
        return True
    for name in names:
        if name not in keep and not remove_tree(os.path.join(top, name), deadline, device):
            return False
    return True


# ----------------------------------------------------------------------------- IPC objects

_SYSV = (("shm", "shmctl"), ("sem", "semctl"), ("msg", "msgctl"))
IPC_RMID = 0


class SysvIpcWiper:
    """Removes every System V IPC object of this worker's private IPC namespace.

    ``/proc/sysvipc/*`` lists the objects of the reader's IPC namespace; the files stay open so
    that checking costs six small ``pread`` calls when, as usual, there is nothing to remove.
    A listing is read to its end: one read returns a page of it at most (some 28 objects).
    """

    def __init__(self):
        self.fds = []
        for kind, call in _SYSV:
            try:
                self.fds.append((os.open(f"/proc/sysvipc/{kind}", os.O_RDONLY), call))
            except OSError:
                pass

    def wipe(self):
        """Remove what jobs left; returns how many objects went."""
        removed = 0
        for fd, call in self.fds:
            try:
                lines = _read_whole(fd).splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                try:
                    ident = int(line.split()[1])
                except (IndexError, ValueError):
                    continue
                libc = _libc()
                args = (ident, 0, IPC_RMID) if call == "semctl" else (ident, IPC_RMID, None)
                if getattr(libc, call)(*args) == 0:
                    removed += 1
        return removed


def _read_whole(fd):
    """All of an open /proc file, read from its start until a read returns nothing."""
    chunks = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 14, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


# ----------------------------------------------------------------------------- processes


def _parents():
    """{pid: parent pid} of every process /proc shows."""
    parents = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        parents[int(name)] = int(data[data.rindex(b")") + 2 :].split()[1])
    return parents


def descendants(root):
    """Every live descendant of ``root``, from /proc (used when no stronger tool is available)."""
    children = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found


class ChildList:
    """This (single-threaded) process's children, read from /proc with ``pread``."""

    def __init__(self):
        pid = os.getpid()
        try:
            self.fd = os.open(f"/proc/{pid}/task/{pid}/children", os.O_RDONLY)
        except OSError:  # a kernel without CONFIG_PROC_CHILDREN: scan /proc instead
            self.fd = None

    def pids(self):
        """The set of child pids, zombies included."""
        if self.fd is not None:
            try:
                return {int(p) for p in _read_whole(self.fd).split()}
            except OSError:
                pass
        me = os.getpid()
        return {pid for pid, ppid in _parents().items() if ppid == me}


def namespace_pids():
    """Every pid /proc shows (in a private PID namespace: every process of the worker)."""
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}
