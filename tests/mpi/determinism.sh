# Same seed and same number of ranks: identical tables for random and grid search
# (everything but times and which rank ran which trial).
source "$(dirname "$0")/lib/common.bash"
same() {  # compare two results files, ignoring timing and placement columns
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
skip = {"trials/t_start", "trials/t_end", "trials/train_seconds", "trials/worker",
        "curves/seconds", "curves/t", "trials/latency"}
def walk(g, p=""):
    for k, v in g.items():
        q = p + k
        if isinstance(v, h5py.Group): yield from walk(v, q + "/")
        else: yield q
names = sorted(set(walk(a)) | set(walk(b)))
order = lambda f: np.lexsort((f["curves/epoch"][()], f["curves/trial"][()]))
bad = []
for n in names:
    if n in skip: continue
    if n not in a or n not in b: bad.append(n + " missing"); continue
    x, y = a[n][()], b[n][()]
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        if not np.array_equal(x, y, equal_nan=True): bad.append(n)
    elif not np.array_equal(np.asarray(x), np.asarray(y)): bad.append(n)
print("same" if not bad else "differ: " + ", ".join(bad))
PYEOF
}
for algo in random grid; do
  { digits_config; cat <<YAML
search: {algorithm: $algo, trials: 6}
space:
  lr: {type: float, low: 0.01, high: 0.2, log: true, grid: 3}
  width: {type: categorical, values: [32, 64]}
YAML
  } > $algo.yaml
  run_mpi 3 run $algo.yaml --output a_$algo 2> a.log || { cat a.log; fail "$algo run 1"; }
  run_mpi 3 run $algo.yaml --output b_$algo 2> b.log || { cat b.log; fail "$algo run 2"; }
  res=$(same a_$algo/results.h5 b_$algo/results.h5)
  [ "$res" = same ] || fail "$algo: $res"
  [ "$(h5 a_$algo/results.h5 'len(f["trials/id"])')" = 6 ] || fail "$algo: trial count"
done
# grid points are the grid: 3 lr values x 2 widths, each exactly once
[ "$(h5 a_grid/results.h5 'len(set(zip(f["trials/hp/lr"][()].tolist(), f["trials/hp/width"][()].tolist())))')" = 6 ] || fail "grid points not distinct"
pass "determinism"
