"""Command line: ``doctor`` (which backends work here, and why not), ``build-image``, ``serve``."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from . import cgroups
from .base import BackendUnavailable, Sandbox
from .docker_backend import PROJECT_IMAGE
from .limits import Limits
from .registry import (
    AUTO_ORDER,
    BACKENDS,
    UNSAFE_LOCAL_ENV,
    available_backends,
    is_root,
    unsafe_local_allowed,
)

SMOKE = "import os, sys; print(sys.version.split()[0], os.getuid())"


def _smoke(name: str) -> str:
    """Start the backend, run one job, and describe what happened in one line."""
    box: Sandbox | None = None
    try:
        t0 = time.monotonic()
        box = BACKENDS[name](workers=1)
        box.start()
        started = time.monotonic() - t0
        res = box.run_python(SMOKE, limits=Limits(wall_time_s=10))
        times = []
        for _ in range(5):
            t1 = time.monotonic()
            box.run_python("pass", limits=Limits(wall_time_s=10))
            times.append((time.monotonic() - t1) * 1000)
        ran = sorted(times)[2]
        if not res.ok:
            return f"FAILED: a test job ended {res.status.value} ({res.detail})"
        version, uid = res.stdout_text.split()
        extra = ""
        if name == "docker":
            extra = f", image {box.image}"  # type: ignore[attr-defined]
        info = box.worker_info()[0] if hasattr(box, "worker_info") else {}
        limits = box.limits_enforcement() if hasattr(box, "limits_enforcement") else ""
        return (
            f"ok: python {version} as uid {uid}{extra}; started in {started:.2f} s, "
            f"a job takes {ran:.1f} ms\n{'':10s}limits {limits}; jobs forked by "
            f"{info.get('fork', '?')} from a template that never holds job data"
        )
    except BackendUnavailable as exc:
        return str(exc)
    except Exception as exc:
        return f"FAILED: {type(exc).__name__}: {exc}"
    finally:
        if box is not None:
            box.close()


def doctor(args: argparse.Namespace) -> int:
    """Print, per backend, whether it works here with a one-line reason."""
    root = "root" if os.geteuid() == 0 else f"uid {os.geteuid()} (not root)"
    print(
        f"sandbox doctor: {platform.system()} {platform.release()}, {root}, "
        f"python {sys.version.split()[0]}"
    )
    reasons = available_backends()
    usable = []
    for name in BACKENDS:
        why = reasons[name]
        line = why if why else (_smoke(name) if not args.quick else "ok")
        if why is None and line.startswith("ok"):
            usable.append(name)
        print(f"  {name:7s} {line}")
    if not usable:
        print("no backend works here")
        return 1
    if args.quick:
        print(f"  limits  {cgroups.describe()}")
    safe = [n for n in usable if n != "local" or is_root() or unsafe_local_allowed()]
    if not safe:
        print(
            "get_sandbox('auto') picks nothing: without root, local protects nothing; install "
            f"bubblewrap or Docker, run as root, or set {UNSAFE_LOCAL_ENV}=1 to accept it"
        )
        return 1
    best = next(n for n in AUTO_ORDER if n in safe)
    print(f"get_sandbox('auto') picks: {best}")
    if not is_root() and "local" in usable:
        print(
            "  note: not root, so local jobs run as your own user and can harm it; auto uses "
            f"local only with allow_unsafe_local=True or {UNSAFE_LOCAL_ENV}=1 "
            "(see docs/sandboxing.md)"
        )
    return 0


def build_image_cmd(args: argparse.Namespace) -> int:
    """Build the sandbox Docker image (see sandbox.image)."""
    from .image import build_image

    method = "debootstrap" if args.offline else args.method
    try:
        build_image(
            args.tag,
            method,
            force=args.force,
            suite=args.suite,
            mirror=args.mirror,
            include=tuple(p for p in args.include.split(",") if p),
        )
    except (RuntimeError, BackendUnavailable, ValueError) as exc:
        print(f"build-image: {exc}", file=sys.stderr)
        return 1
    return 0


def serve_cmd(argv: list[str]) -> int:
    """Run the /run_code service (see sandbox.service; FastAPI loads only then)."""
    try:
        from .service import serve_main
    except ImportError as error:
        print(
            f"sandbox serve needs FastAPI and uvicorn (rlvr-envs[serve]): {error}", file=sys.stderr
        )
        return 2
    return serve_main(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``rlvr-envs sandbox ...`` and ``python -m sandbox ...``."""
    parser = argparse.ArgumentParser(
        prog="rlvr-envs sandbox", description="Inspect and prepare the code sandbox."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("doctor", help="which backends work here, with one-line reasons")
    p.add_argument("--quick", action="store_true", help="only probe; do not run a test job")
    p.set_defaults(func=doctor)
    p = sub.add_parser("build-image", help="build the sandbox Docker image")
    p.add_argument("--tag", default=PROJECT_IMAGE)
    p.add_argument(
        "--method",
        choices=("auto", "dockerfile", "debootstrap"),
        default="auto",
        help="auto: the Dockerfile if python:3.11-slim is present or pullable, else debootstrap",
    )
    p.add_argument("--offline", action="store_true", help="same as --method debootstrap")
    p.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    p.add_argument("--suite", default="bookworm", help="Debian suite for debootstrap")
    p.add_argument("--mirror", default=None, help="Debian mirror (default: the one apt uses)")
    p.add_argument("--include", default="", help="extra Debian packages, comma-separated")
    p.set_defaults(func=build_image_cmd)
    sub.add_parser("serve", help="a SandboxFusion-compatible /run_code service (its own options)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:
        return serve_cmd(argv[1:])
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
