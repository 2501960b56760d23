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

# same_tables A B: prints "same" when two results files hold the same trials and curves,
# ignoring what depends on timing and placement (times, which rank ran what).
same_tables() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
skip = {"trials/t_start", "trials/t_end", "trials/train_seconds", "trials/worker",
        "curves/seconds", "curves/t", "promotions/t", "pbt/events/t", "trials/latency"}
def walk(g, p=""):
    for k, v in g.items():
        q = p + k
        if isinstance(v, h5py.Group): yield from walk(v, q + "/")
        else: yield q
def curves_sorted(f, n):
    o = np.lexsort((f["curves/epoch"][()], f["curves/trial"][()]))
    return f[n][()][o]
bad = []
for n in sorted(set(walk(a)) | set(walk(b))):
    if n in skip: continue
    if n not in a or n not in b: bad.append(n + " missing"); continue
    if n.startswith("curves/"): x, y = curves_sorted(a, n), curves_sorted(b, n)
    else: x, y = a[n][()], b[n][()]
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        if not np.array_equal(x, y, equal_nan=True): bad.append(n)
    elif not np.array_equal(np.asarray(x), np.asarray(y)): bad.append(n)
print("same" if not bad else "differ: " + ", ".join(bad))
PYEOF
}

# once FILE: prints "ok" when every trial id appears once and every (trial, epoch) curve
# row once, epochs counting 1, 2, ... per trial.
once() {
  "$PY" - "$1" <<'PYEOF'
import sys, h5py, numpy as np, collections
f = h5py.File(sys.argv[1], "r")
ids = f["trials/id"][()].tolist()
rows = list(zip(f["curves/trial"][()].tolist(), f["curves/epoch"][()].tolist()))
per = collections.defaultdict(list)
for t, e in rows: per[t].append(e)
ok = ids == list(range(len(ids))) and len(rows) == len(set(rows)) and \
     all(sorted(v) == list(range(1, len(v) + 1)) for v in per.values()) and \
     all(len(per[i]) == e for i, e in zip(ids, f["trials/epochs"][()].tolist()))
print("ok" if ok else "bad")
PYEOF
}
