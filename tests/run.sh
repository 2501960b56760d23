#!/usr/bin/env bash
# Sets lamarck up (jobs/setup.sh, warnings as errors) and runs the whole test suite:
# unit tests and MPI end-to-end tests (ctest labels unit and mpi).
set -euo pipefail
cd "$(dirname "$0")/.."
LAMARCK_WERROR=ON bash jobs/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build --output-on-failure -L 'unit|mpi' -j 2 "$@"
