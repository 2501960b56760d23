# Lamarckian aging evolution over MLPs on digits with 4 ranks (issue 7): after the first
# population every child inherits its parent's trained weights through one Net2Net
# morph (trials/reason says which), so its first-epoch validation accuracy is at least
# its parent's final one (within 0.05), while the first population, trained from
# scratch with the same settings, starts far lower; every trial ends done (the kept
# states of the population are released at the end).
source "$(dirname "$0")/lib/common.bash"
sed -e "s|output: runs/evolution_lamarck|output: $work/run|" \
    "$LAMARCK_SOURCE_DIR/inputs/evolution_lamarck.yaml" > evo.yaml
grep -q "inheritance: lamarckian" evo.yaml || fail "config not found"
run_mpi 4 run evo.yaml 2> log.txt || { tail -20 log.txt; fail "run exited non-zero"; }
r=run/results.h5
[ "$(h5 $r 'len(f["trials/id"])')" = 16 ] || fail "trial count"
[ "$(h5 $r 'set(col("trials/status").tolist())')" = "{'done'}" ] || fail "statuses $(h5 $r 'col("trials/reason").tolist()')"
cat > inherit.py <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
dec = lambda v: [x.decode() if isinstance(x, bytes) else x for x in v]
reason, origin = dec(f["trials/reason"][()]), f["trials/parent0"][()]
ct, ce, cv = f["curves/trial"][()], f["curves/epoch"][()], f["curves/val_accuracy"][()]
def acc(t, e):
    m = (ct == t) & (ce == e)
    assert m.any(), f"trial {t} has no epoch {e}"
    return float(cv[m][0])
def final(t):
    m = ct == t
    return float(cv[m][np.argmax(ce[m])])
scratch = [acc(t, 1) for t in range(4)]
assert all(p < 0 for p in origin[:4]), "the first population has parents"
kids = [t for t, r in enumerate(reason) if r.startswith("inherited from trial ")]
assert len(kids) >= 8, f"only {len(kids)} inheriting children: {reason}"
for t in kids:
    p = int(origin[t])
    assert f"trial {p}:" in reason[t], f"trial {t}: parent {p}, reason {reason[t]}"
    assert int(f["trials/epochs"][t]) == 2, f"trial {t} trained {f['trials/epochs'][t]} epochs"
    a, b = final(p), acc(t, 1)
    print(f"trial {t} <- {p}: parent's final {a:.4f}, child's epoch 1 {b:.4f} | {reason[t]}")
    assert b >= a - 0.05, f"trial {t} starts at {b:.4f}, its parent {p} ended at {a:.4f}"
c1 = np.mean([acc(t, 1) for t in kids])
print(f"from scratch, epoch 1: {np.round(scratch, 4).tolist()} (mean {np.mean(scratch):.4f}); "
      f"inherited, epoch 1: mean {c1:.4f}")
assert c1 > np.mean(scratch) + 0.25, "inherited children do not start above scratch"
PYEOF
"$PY" inherit.py $r > inherit.txt 2>&1 || { cat inherit.txt; fail "inheritance"; }
cat inherit.txt
pass "evolution_lamarck"
