# Shared by the end-to-end tests in tests/mpi: a scratch directory, the digits dataset,
# and helpers to run lamarck and read results.h5 with h5py.
set -euo pipefail
: "${LAMARCK:?run through ctest (LAMARCK unset)}"
: "${LAMARCK_SOURCE_DIR:?run through ctest}"
MPIEXEC=${MPIEXEC:-mpiexec}
PY=/usr/bin/python3   # Debian's, which has h5py

work=$(mktemp -d "${TMPDIR:-/tmp}/lamarck-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

# The digits dataset: imported by jobs/setup.sh into the source tree's data/; imported
# here into the scratch directory when it is not there.
export LAMARCK_DATA="$LAMARCK_SOURCE_DIR/data"
if [ ! -f "$LAMARCK_DATA/digits.h5" ]; then
  export LAMARCK_DATA="$work/data"
  src=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
  [ -f "$src" ] || src="$LAMARCK_SOURCE_DIR/.deps/sklearn/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
  "$LAMARCK" data import digits --source "$src" --dir "$LAMARCK_DATA" >/dev/null
fi

# run_mpi N ARGS...: lamarck under mpiexec with N ranks.
run_mpi() {
  local n=$1; shift
  "$MPIEXEC" -n "$n" --oversubscribe "$LAMARCK" "$@"
}

# h5 FILE EXPR: prints a Python expression over the open file f (h5py).
h5() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
def col(path):
    v = f[path][()]
    return np.array([x.decode() if isinstance(x, bytes) else x for x in v]) if v.dtype.kind in "OS" else v
print(eval(sys.argv[2]))
PYEOF
}

# A small experiment on digits; extra YAML lines for the search and space follow.
digits_config() {
  cat <<YAML
experiment: {name: t, seed: 7, output: $work/run, progress_interval: 1}
data: {dataset: digits, validation_fraction: 0.2}
training: {epochs: 4, batch_size: 32, lr: 0.05, momentum: 0.9}
model: {type: mlp, depth: 1, width: 64}
YAML
}
