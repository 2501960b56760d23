#!/usr/bin/env bash
# Sets lamarck up (jobs/setup.sh, warnings as errors) and runs the whole test suite:
# unit tests, MPI end-to-end tests and Slurm jobs on a single-node cluster the Slurm
# tests start themselves (ctest labels unit, mpi and slurm; the slurm ones need root);
# then the unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer
# (build-asan/; LAMARCK_SKIP_SANITIZE=1 skips that pass).
set -euo pipefail
cd "$(dirname "$0")/.."
LAMARCK_WERROR=ON bash jobs/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build --output-on-failure -L 'unit|mpi|slurm' -j 2 "$@"
if [ "${LAMARCK_SKIP_SANITIZE:-0}" != 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLAMARCK_SANITIZE=ON -DLAMARCK_WERROR=ON > /dev/null
  cmake --build build-asan -j "$(nproc)" > /dev/null
  # Open MPI and HDF5 keep allocations past exit: leaks are checked in the unit tests'
  # own terms (open HDF5 ids, destroy functions), not by LeakSanitizer here.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -L unit -j 2
fi
