"""A listening TCP socket for the services (``python -m sandbox serve``, ``rlvr-envs serve``).

asyncio turns Nagle's algorithm off (``TCP_NODELAY``) only on connections whose socket says it is
TCP (``proto == IPPROTO_TCP``). ``socket.create_server`` leaves ``proto`` at 0, so a server handed
such a socket answers every small HTTP response about 40 ms late (Nagle waiting for a delayed
ACK). The socket made here carries the protocol number, as asyncio's own would.
"""

from __future__ import annotations

import socket


def listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A bound, listening TCP socket on ``host:port`` (port 0: a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
