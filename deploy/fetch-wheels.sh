#!/bin/sh
# Wheels for building the images where the Docker build cannot reach a package index:
# rlvr-envs itself, everything `rlvr-envs[serve]` needs, and pip (the offline base image has
# none). Run from the repository root on a machine that can reach the index, with a Python of
# the image's version (3.11):  sh deploy/fetch-wheels.sh [python]
set -eu
PYTHON=${1:-python3}
OUT=deploy/wheels
mkdir -p "$OUT"
"$PYTHON" -m pip wheel --quiet --wheel-dir "$OUT" ".[serve]"
"$PYTHON" -m pip download --quiet --no-deps --dest "$OUT" pip
ls "$OUT" | wc -l | xargs echo "wheels in $OUT:"
