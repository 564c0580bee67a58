#!/bin/sh
# Installs rlvr-envs[serve] into an image: from /wheels when they are there (offline builds, see
# fetch-wheels.sh), else from the package index. Works whether or not the image has pip.
set -eu
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if python3 -m pip --version >/dev/null 2>&1; then
    set -- python3 -m pip
else
    set -- python3 "$(ls /wheels/pip-*.whl | head -n 1)/pip"
fi
if ls /wheels/rlvr_envs-*.whl >/dev/null 2>&1; then
    "$@" install --no-index --find-links /wheels "rlvr-envs[serve]"
else
    "$@" install "/src[serve]"
fi
python3 -c "import rlvr_envs, sandbox, fastapi, uvicorn; print('rlvr-envs', rlvr_envs.__version__)"
