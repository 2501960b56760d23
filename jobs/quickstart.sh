#!/usr/bin/env bash
# Sets lamarck up (jobs/setup.sh) and runs the quickstart experiment on 3 ranks on this
# machine: random search over an MLP on Fashion-MNIST, about a minute on 2 cores.
# Results: runs/quickstart/results.h5 (see `build/lamarck report`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash jobs/setup.sh
# Open MPI refuses root unless told; --oversubscribe lets 3 ranks share fewer cores,
# and idle ranks yield instead of spinning.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mpiexec -n 3 --oversubscribe build/lamarck run inputs/quickstart.yaml --overwrite "$@"
build/lamarck report runs/quickstart/results.h5 --top 5
