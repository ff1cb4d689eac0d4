#!/usr/bin/env bash
# Create/refresh the project virtual environment in .venv.
#
#   bash scripts/setup.sh          (also run by `make setup` / `make test`)
#
# Idempotent: once a run has finished, a stamp file (.venv/.dycore-setup-stamp)
# records a hash of pyproject.toml and this script; later runs exit straight
# away while the stamp still matches and the environment still imports.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV=".venv"
PY="$VENV/bin/python"
STAMP="$VENV/.dycore-setup-stamp"

# Pins: keep in step with pyproject.toml.
JAX_PINS=(numpy==2.4.6 jax==0.10.2 jaxlib==0.10.2)
BUILD_PREREQS=(nanobind==3.1.0 mpi4py==4.1.2 "setuptools>=77" wheel cython)
MPI4JAX_PIN="mpi4jax==0.9.1.post2"

log() { printf 'setup: %s\n' "$*"; }

want_stamp="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"

# The environment is sound when the heavy dependencies import and the dycore
# distribution is installed. `dycore` itself is not imported: a bug in the
# package under development must show up in the tests, not trigger a
# reinstall. (Run from / so the checkout does not shadow the installed copy.)
env_ok() {
    [[ -x "$PY" ]] || return 1
    (cd / && "$ROOT/$PY" -c '
import importlib.metadata as md
import jax, mpi4jax, h5py
md.version("dycore")
' >/dev/null 2>&1)
}

# ---------------------------------------------------------------- fast path
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] && env_ok; then
    log "environment up to date (.venv)"
    exit 0
fi

# ------------------------------------------------------------ system tools
missing=()
command -v mpicc  >/dev/null 2>&1 || missing+=(mpicc)
command -v mpirun >/dev/null 2>&1 || missing+=(mpirun)
if ! command -v mpif90 >/dev/null 2>&1 && ! command -v gfortran >/dev/null 2>&1; then
    missing+=(mpif90/gfortran)
fi
if ((${#missing[@]})); then
    if [[ "$(id -u)" == 0 ]]; then
        log "missing ${missing[*]}; installing openmpi-bin libopenmpi-dev gfortran via apt-get"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y openmpi-bin libopenmpi-dev gfortran
    else
        echo "setup: missing ${missing[*]}: please install the system packages openmpi-bin libopenmpi-dev gfortran (e.g. sudo apt-get install -y openmpi-bin libopenmpi-dev gfortran) and re-run" >&2
        exit 2
    fi
fi

# ----------------------------------------------------------------- venv
if [[ ! -x "$PY" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
rm -f "$STAMP"
pip=("$PY" -m pip)

if [[ ! -f "$VENV/.pip-upgraded" ]]; then
    log "upgrading pip"
    "${pip[@]}" install --upgrade pip
    touch "$VENV/.pip-upgraded"
fi

# ------------------------------------------------------- build prerequisites
log "installing build prerequisites"
"${pip[@]}" install "${BUILD_PREREQS[@]}" "${JAX_PINS[@]}"

# ----------------------------------------------------------------- mpi4jax
# mpi4jax is built from source against the system MPI, so it needs mpi4py and
# nanobind from the venv (--no-build-isolation). nvcc lives in /usr/local/bin
# on these machines while the CUDA headers are in /usr/local/cuda; without
# CUDA_PATH the build fails with "cuda_runtime.h: No such file".
# (A no-op when the pin is already installed; pip also caches the built wheel.)
log "installing $MPI4JAX_PIN"
if [[ -z "${CUDA_PATH:-}" && -d /usr/local/cuda/include ]]; then
    export CUDA_PATH=/usr/local/cuda
fi
"${pip[@]}" install --no-build-isolation "$MPI4JAX_PIN"

# ---------------------------------------------------------------- dycore
# --no-build-isolation: build the editable wheel with the venv's setuptools
# (no second download). The already-installed mpi4jax satisfies the pin, so
# pip does not rebuild it.
log "installing dycore (editable) with test extras"
"${pip[@]}" install --no-build-isolation -e '.[test]'

if ! env_ok; then
    log "ERROR: environment still broken after install; try: make clean && make setup" >&2
    (cd / && "$ROOT/$PY" -c 'import jax, mpi4jax, h5py') || true
    exit 1
fi

echo "$want_stamp" > "$STAMP"
log "done"
