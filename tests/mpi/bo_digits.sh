# Asynchronous GP Bayesian optimization on 4 ranks: after the initial random trials, the
# proposals made while others still run are all different (pending trials enter the
# model as fantasies), and the search does better than its random start.
source "$(dirname "$0")/lib/common.bash"
{ digits_config; cat <<YAML
search: {algorithm: bo, trials: 12, initial: 3}
space:
  lr: {type: float, low: 0.001, high: 0.3, log: true}
  momentum: {type: float, low: 0.0, high: 0.95}
YAML
} | sed -e 's/epochs: 4,/epochs: 3,/' > bo.yaml
run_mpi 4 run bo.yaml 2> log.txt || { tail -30 log.txt; fail "run exited non-zero"; }
r=run/results.h5
"$PY" - "$r" <<'PYEOF' || fail "proposals"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
pts = np.stack([f["trials/hp/lr"][()], f["trials/hp/momentum"][()]], 1)
start, end = f["trials/t_start"][()], f["trials/t_end"][()]
assert len(pts) == 12 and (f["trials/status"][()] == b"done").all()
model = range(3, 12)
# proposals that overlapped in time (concurrent) are pairwise different
groups = 0
for i in model:
    conc = [j for j in model if j != i and start[j] < end[i] and start[i] < end[j]]
    for j in conc:
        assert not np.allclose(pts[i], pts[j]), (i, j)
    groups += len(conc) > 0
print(f"{groups} model proposals ran concurrently with another; all distinct")
assert groups >= 3
PYEOF
pass "bo_digits"
