#!/usr/bin/env bash
# Build the Regulars wheel from a source tree and install it (with its dependencies) into a
# virtual environment, created if missing.
#
#     scripts/install-wheel.sh SOURCE_DIR VENV_DIR [PIP_INSTALL_OPTION...]
#
# The one install step of the Docker image (Dockerfile) and of CI's wheel smoke
# (scripts/wheel_smoke.py, run by .ci/run), so CI exercises what the image does: whatever the
# wheel leaves out, the image lacks too, and the smoke fails.
#
# The wheel is built from a clean copy of SOURCE_DIR: setuptools reuses an existing build/ (and
# *.egg-info), which could put files into the wheel that the package no longer declares.
# PYTHON picks the interpreter for a new venv (default python3). Options after VENV_DIR go to the
# final `pip install` (the smoke passes --no-compile: it needs no bytecode files, the image does).
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 SOURCE_DIR VENV_DIR [PIP_INSTALL_OPTION...]" >&2
    exit 2
fi
source_dir=$1
venv=$2
shift 2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src" "$work/dist"
tar -C "$source_dir" -cf - \
    --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude='./.*_cache' --exclude=./var --exclude=./tests --exclude=./bench . \
    | tar -C "$work/src" -xf -

[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --wheel-dir "$work/dist" "$work/src"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
    "$work"/dist/regulars-*.whl
echo "installed $(cd "$work/dist" && ls regulars-*.whl) into $venv"
