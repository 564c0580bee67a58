"""Victim and thief programs shared by the job-isolation tests (plain data, no pytest).

A *victim* job holds a secret token in its code, stdin, files, output, a System V shared memory
segment and a POSIX message queue; a *thief* that knows only the token's prefix searches
everything it can reach: the frames above its own, every object the garbage collector tracks,
the anonymous memory of its own process, files in every writable place, IPC objects. It prints
a JSON object mapping each token it found to where.
"""

PREFIX = "rlvr-victim-"

VICTIM = r"""
# {token}-code
import ctypes, ctypes.util, os, sys
data = sys.stdin.read()
print("{token}-out")
print("{token}-err", file=sys.stderr)
with open("/tmp/{token}-tmpfile", "w") as f:
    f.write("{token}-tmp")
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shm = libc.shmget(0x5EC2E7, 1 << 16, 0o1666)  # IPC_CREAT | 0666
if shm >= 0:
    addr = libc.shmat(shm, None, 0)
    ctypes.memmove(addr, b"{token}-shm", len("{token}-shm"))
try:
    rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
    mq = rt.mq_open(b"/rlvr-victim", os.O_CREAT | os.O_WRONLY, 0o666, None)
    if mq >= 0:
        rt.mq_send(mq, b"{token}-mq", len("{token}-mq"), 0)
except OSError:
    pass
print("victim", data == "{token}-stdin", open("data.txt").read() == "{token}-file")
"""

THIEF = r"""
import ctypes, ctypes.util, gc, json, os, re, sys, time
prefix = "rlvr-vic" + "tim-"
pattern = re.compile(prefix.encode() + rb"[0-9a-f]{8}")
found = {}

def note(where, blob):
    if isinstance(blob, str):
        blob = blob.encode("utf-8", "replace")
    if isinstance(blob, (bytes, bytearray, memoryview)):
        for m in pattern.findall(bytes(blob)):
            found.setdefault(m.decode(), where)

def walk_value(where, value, depth=0):
    if depth > 3:
        return
    note(where, value if isinstance(value, (str, bytes, bytearray)) else b"")
    if isinstance(value, dict):
        for k, v in list(value.items()):
            walk_value(where, k, depth + 1)
            walk_value(where, v, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in list(value):
            walk_value(where, v, depth + 1)

frame = sys._getframe()
while frame is not None:
    walk_value("frame", dict(frame.f_locals))
    walk_value("frame", dict(frame.f_globals))
    frame = frame.f_back
for obj in gc.get_objects():
    walk_value("gc", obj, 2)
for module in list(sys.modules.values()):
    walk_value("module", dict(getattr(module, "__dict__", {})), 1)

# Every anonymous, readable mapping of this process (heap, arenas, stack): what the worker's
# memory held when this process was forked.
with open("/proc/self/maps") as maps:
    for line in maps:
        parts = line.split()
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        path = parts[5] if len(parts) > 5 else ""
        if parts[1].startswith("r") and (not path or path in ("[heap]", "[stack]")):
            if hi - lo <= 1 << 30:
                note("memory", ctypes.string_at(lo, hi - lo))

# Without root the local backend shares the host's /tmp, which may hold whole checkouts and
# virtualenvs: the walk gets a budget so that the thief still reports within its time limit.
walk_until = time.monotonic() + 6
for top in ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", os.getcwd(), os.path.expanduser("~")):
    for root, dirs, files in os.walk(top):
        if time.monotonic() > walk_until:
            dirs[:] = []
            found.setdefault("walk cut short", "file name")
            continue
        for name in dirs + files:
            note("file name", name)
            try:
                with open(os.path.join(root, name), "rb") as f:
                    note("file", f.read(1 << 20))
            except OSError:
                pass

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
ids = [libc.shmget(0x5EC2E7, 0, 0)]
try:
    with open("/proc/sysvipc/shm") as f:
        ids += [int(line.split()[1]) for line in f.readlines()[1:]]
except OSError:
    pass
for shm in ids:
    if shm >= 0:
        addr = libc.shmat(shm, None, 0o10000)  # SHM_RDONLY
        if addr not in (None, ctypes.c_void_p(-1).value):
            note("shm", ctypes.string_at(addr, 1 << 16))
try:
    rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
    mq = rt.mq_open(b"/rlvr-victim", os.O_RDONLY | os.O_NONBLOCK)
    if mq >= 0:
        buf = ctypes.create_string_buffer(1 << 16)
        n = rt.mq_receive(mq, buf, len(buf), None)
        if n > 0:
            note("mqueue", buf.raw[:n])
except OSError:
    pass
print(json.dumps(found))
"""
