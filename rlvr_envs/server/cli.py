"""``rlvr-envs serve``: the command-line options, and running the app with uvicorn.

This module imports only argparse-level things at import time, so ``rlvr-envs --help`` stays
fast; FastAPI and uvicorn are imported when the server starts.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
from collections.abc import Callable

from .config import MIB, TOKEN_VARIABLE, ServerConfig

GRACEFUL_SHUTDOWN_S = 10


def add_arguments(parser: argparse.ArgumentParser, key_value: Callable) -> None:
    """The ``serve`` subcommand's options; ``key_value`` parses ``--env-arg KEY=VALUE``."""
    parser.add_argument(
        "--env", required=True, help="environment id (module:Name-vN imports module)"
    )
    parser.add_argument(
        "--env-arg",
        action="append",
        type=key_value,
        metavar="KEY=VALUE",
        help="environment keyword argument (repeatable; JSON values)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: a free one, printed)")
    parser.add_argument("--max-sessions", type=int, default=1024, help="open sessions at most")
    parser.add_argument("--idle-timeout", type=float, default=600.0, help="close idle sessions (s)")
    parser.add_argument("--step-timeout", type=float, default=300.0, help="give up a step (s)")
    parser.add_argument(
        "--max-message-bytes", type=int, default=4 * MIB, help="refuse larger messages"
    )
    parser.add_argument("--threads", type=int, default=32, help="threads stepping environments")
    parser.add_argument("--token", help=f"require this bearer token (default ${TOKEN_VARIABLE})")
    parser.add_argument("--log-level", default="warning", help="uvicorn's log level")


def raise_open_file_limit() -> None:
    """Lift the soft open-file limit to the hard one: every session holds a socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 16
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def run(args: argparse.Namespace) -> int:
    """Serve ``args.env`` until interrupted (SIGINT/SIGTERM close every session first)."""
    try:
        import uvicorn

        from sandbox.listen import listening_socket

        from .app import create_app
    except ImportError as error:
        print(
            f"rlvr-envs serve needs the serve extra (pip install 'rlvr-envs[serve]'): {error}",
            file=sys.stderr,
        )
        return 2
    try:
        config = ServerConfig.with_env_token(
            env_id=args.env,
            env_kwargs=dict(args.env_arg or []),
            max_sessions=args.max_sessions,
            idle_timeout_s=args.idle_timeout,
            step_timeout_s=args.step_timeout,
            max_message_bytes=args.max_message_bytes,
            threads=args.threads,
            token=args.token,
        )
        app = create_app(config)
    except Exception as error:  # an unknown id, missing data, a bad option: say which and stop
        print(
            f"rlvr-envs serve: cannot serve {args.env}: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
        return 2
    raise_open_file_limit()
    try:
        sock = listening_socket(args.host, args.port, backlog=4096)
    except OSError as error:
        print(f"rlvr-envs serve: cannot bind {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    host, port = sock.getsockname()[:2]
    print(
        f"rlvr-envs serve: {config.env_id} on http://{host}:{port} (WebSocket /ws), "
        f"at most {config.max_sessions} sessions" + (", token required" if config.token else ""),
        flush=True,
    )
    logging.getLogger("rlvr_envs.server").setLevel(args.log_level.upper())
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level=args.log_level,
            ws_max_size=config.max_message_bytes,
            ws_per_message_deflate=False,  # small JSON frames: compressing costs more than it saves
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
    )
    server.run(sockets=[sock])
    return 0
