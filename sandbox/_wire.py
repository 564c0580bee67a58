"""Wire format between the host and a sandbox worker (imported by both sides).

A frame is a 4-byte big-endian header length, the header, then the blobs whose sizes the header
lists under ``"blobs"``. Requests (host to worker) encode the header with ``marshal``; replies use
JSON, which the host parses without trusting the worker. Both choices are about page faults:
after each fork, every page the worker writes costs a fault, and ``marshal`` and the small JSON
writer below touch far fewer pages than the ``json`` module.

Standard library only, Python 3.8+: this file is part of the worker's source (see ``_zygote``).
"""

import json
import marshal
import os
import struct

MAX_HEADER_BYTES = 1 << 20


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
