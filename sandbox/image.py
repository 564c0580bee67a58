"""Building the sandbox's Docker image: from the Dockerfile, or offline from debootstrap."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .docker_backend import DEFAULT_IMAGE, PROJECT_IMAGE, _client, _image_present, _one_line

DOCKERFILE_DIR = Path(__file__).resolve().parent
IMAGE_CHANGES = [
    "ENV LANG=C.UTF-8",
    "ENV PYTHONDONTWRITEBYTECODE=1",
    'LABEL org.rlvr-envs.sandbox-image="1"',
    'CMD ["python3"]',
]
# Trimmed from the debootstrap root file system: package caches and documentation.
PRUNE = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
)


def apt_mirror(default: str = "http://deb.debian.org/debian") -> str:
    """The Debian mirror this machine's apt uses (the one known to be reachable)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and len(words) > 1 and "security" not in words[1]:
                return words[1]
            if words[:1] == ["deb"] and len(words) > 2 and "security" not in words[1]:
                url = words[2] if words[1].startswith("[") else words[1]
                return url
    return default


def build_from_dockerfile(client: Any, tag: str, say: Callable[[str], None]) -> str:
    """``docker build`` of sandbox/Dockerfile (needs the base image or a registry)."""
    say(f"building {tag} from {DOCKERFILE_DIR / 'Dockerfile'}")
    image, _ = client.images.build(
        path=str(DOCKERFILE_DIR), dockerfile="Dockerfile", tag=tag, rm=True, forcerm=True
    )
    return image.id


def build_from_debootstrap(
    client: Any,
    tag: str,
    say: Callable[[str], None],
    *,
    suite: str = "bookworm",
    mirror: str | None = None,
    include: tuple[str, ...] = (),
) -> str:
    """A minimal Debian root file system with python3, imported as ``tag`` (needs root)."""
    debootstrap = shutil.which("debootstrap")
    if not debootstrap:
        raise RuntimeError("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise RuntimeError("building the image with debootstrap needs root")
    mirror = mirror or apt_mirror()
    packages = ",".join(("python3", *include))
    work = tempfile.mkdtemp(prefix="rlvr-image-")
    try:
        rootfs = os.path.join(work, "rootfs")
        say(
            f"debootstrap --variant=minbase --include={packages} {suite} ({mirror}); about a minute"
        )
        run = subprocess.run(
            [debootstrap, "--variant=minbase", f"--include={packages}", suite, rootfs, mirror],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            tail = (run.stdout + run.stderr).strip().splitlines()[-5:]
            raise RuntimeError("debootstrap failed: " + " | ".join(tail))
        for rel in PRUNE:
            target = os.path.join(rootfs, rel)
            if os.path.isdir(target):
                for entry in os.listdir(target):
                    p = os.path.join(target, entry)
                    shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
        tarball = os.path.join(work, "rootfs.tar")
        subprocess.run(["tar", "--numeric-owner", "-C", rootfs, "-cf", tarball, "."], check=True)
        repository, _, image_tag = tag.rpartition(":") if ":" in tag else (tag, "", "latest")
        say(f"docker import as {tag}")
        client.api.import_image_from_file(
            tarball, repository=repository, tag=image_tag, changes=IMAGE_CHANGES
        )
        return client.images.get(tag).id
    finally:
        shutil.rmtree(work, ignore_errors=True)


def registry_reachable(client: Any, image: str = DEFAULT_IMAGE) -> bool:
    """True if ``image`` is present or can be pulled now."""
    if _image_present(client, image):
        return True
    try:
        client.images.pull(image)
        return True
    except Exception:
        return False


def smoke_test(client: Any, tag: str) -> str:
    """Run the image the way the sandbox does; returns its Python version."""
    out = client.containers.run(
        tag,
        ["python3", "-I", "-c", "import sys; print(sys.version)"],
        network_mode="none",
        read_only=True,
        remove=True,
        user="65534",
    )
    return out.decode().strip()


def build_image(
    tag: str = PROJECT_IMAGE,
    method: str = "auto",
    *,
    force: bool = False,
    suite: str = "bookworm",
    mirror: str | None = None,
    include: tuple[str, ...] = (),
    say: Callable[[str], None] = print,
) -> str:
    """Build the sandbox image; ``method`` is auto, dockerfile or debootstrap. Returns the id."""
    if method not in ("auto", "dockerfile", "debootstrap"):
        raise ValueError(f"unknown build method {method!r}")
    client = _client(timeout=600)
    if not force and _image_present(client, tag):
        say(f"{tag} is already present (use --force to rebuild)")
        return client.images.get(tag).id
    if method == "auto":
        method = "dockerfile" if registry_reachable(client) else "debootstrap"
        if method == "debootstrap":
            say(f"{DEFAULT_IMAGE} is not present and no registry answers: building offline")
    try:
        if method == "dockerfile":
            image_id = build_from_dockerfile(client, tag, say)
        else:
            image_id = build_from_debootstrap(
                client, tag, say, suite=suite, mirror=mirror, include=include
            )
    except Exception as exc:
        raise RuntimeError(f"building {tag} with {method} failed: {_one_line(exc)}") from None
    say(f"{tag} built ({image_id[:19]}); {smoke_test(client, tag)}")
    return image_id
