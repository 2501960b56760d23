#!/usr/bin/env bash
# Checkpoint write bandwidth against dd on the same disk. Run from the source tree after
# building: bash tests/bench/checkpoint.sh [DIR]
set -euo pipefail
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/lamarck-bench.XXXXXX")}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p')"
mkdir -p "$dir/run"
mpiexec -n 4 --oversubscribe ${LAMARCK_BUILD:-build}/tests/bench_exec_checkpoint "$dir/run" 2>&1 | grep -v "^\["
size=$(du -sb "$dir/run/checkpoints/ckpt-000005/snapshots.h5" | cut -f1)
echo "snapshots.h5: $size bytes"
dd if=/dev/zero of="$dir/dd.bin" bs=1M count=$(( (size + 1048575) / 1048576 )) conv=fsync 2>&1 | tail -1 | sed 's/^/dd (fsync): /'
dd if=/dev/zero of="$dir/dd.bin" bs=1M count=$(( (size + 1048575) / 1048576 )) 2>&1 | tail -1 | sed 's/^/dd (page cache): /'
rm -rf "$dir"
