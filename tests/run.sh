#!/usr/bin/env bash
# Sets lamarck up (jobs/setup.sh, warnings as errors) and runs the whole test suite:
# unit tests, MPI end-to-end tests and Slurm jobs on a single-node cluster the Slurm
# tests start themselves (ctest labels unit, mpi and slurm; the slurm ones need root).
set -euo pipefail
cd "$(dirname "$0")/.."
LAMARCK_WERROR=ON bash jobs/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build --output-on-failure -L 'unit|mpi|slurm' -j 2 "$@"
