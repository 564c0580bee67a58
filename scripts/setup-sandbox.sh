#!/usr/bin/env bash
# Prepare this machine for every sandbox backend: bubblewrap, a Docker daemon and the sandbox image.
# Idempotent; meant for CI and `make test` on a fresh Debian machine, as root. Never fails the run
# because Docker cannot start: it says why, and the Docker tests then skip with that reason.
#
#   PYTHON=/path/to/venv/python bash scripts/setup-sandbox.sh
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
DOCKER_WAIT_S="${DOCKER_WAIT_S:-60}"
LOG="${TMPDIR:-/tmp}/rlvr-dockerd.log"

say() { echo "setup-sandbox: $*"; }

if [ "$(id -u)" != 0 ]; then
    say "not root: not installing anything (bwrap/docker tests skip if their tools are missing)"
    exec "$PYTHON" -m sandbox doctor --quick
fi

# 1. Debian packages, only those missing.
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed (continuing)"
        if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
            say "apt-get install ${missing[*]} failed; the backends that need them will be skipped"
        fi
    else
        say "apt-get not found; cannot install ${missing[*]}"
    fi
else
    say "bubblewrap, docker.io and debootstrap already installed"
fi

# 2. A Docker daemon that answers.
docker_ok() {
    "$PYTHON" -c "import docker; docker.from_env(timeout=5).ping()" >/dev/null 2>&1 \
        || { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }
}
if docker_ok; then
    say "a Docker daemon already answers"
elif command -v dockerd >/dev/null 2>&1; then
    say "starting dockerd in the background (log: $LOG)"
    nohup dockerd >"$LOG" 2>&1 </dev/null &
    for _ in $(seq 1 "$DOCKER_WAIT_S"); do
        docker_ok && break
        sleep 1
    done
    if docker_ok; then
        say "dockerd is up"
    else
        say "dockerd did not answer within ${DOCKER_WAIT_S}s; last lines of $LOG:"
        tail -n 5 "$LOG" 2>/dev/null | sed 's/^/    /'
    fi
else
    say "dockerd is not installed; Docker tests will be skipped"
fi

# 3. The sandbox image, built offline (debootstrap + docker import) if missing.
if docker_ok; then
    if ! "$PYTHON" -m sandbox build-image --offline; then
        say "could not build the sandbox image; Docker tests will be skipped"
    fi
fi

"$PYTHON" -m sandbox doctor --quick
exit 0
