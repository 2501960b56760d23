# Aging evolution (Real et al. 2019) over a small NASNet cell space on digits with 4
# ranks: after the first population every trial is a mutated child of a recorded parent
# (its genome differs from the parent's in the genes named in /genomes/mutated), the
# population snapshots record ages (the oldest member leaves), and the workers stay busy
# (the idle worker-time is reported).
source "$(dirname "$0")/lib/common.bash"
digits_config | sed -e 's/model: {type: mlp, depth: 1, width: 64}/model: {space: cell, architecture: {blocks: 2, cells: 1, filters: 8, stages: 2}, mutation: {change_op: 2, change_input: 1}}/' \
                    -e 's/epochs: 4,/epochs: 1,/' > evo.yaml
cat >> evo.yaml <<YAML
search: {algorithm: evolution, trials: 14, population: 4, sample_size: 2, survivor: oldest, snapshot_every: 1}
YAML
grep -q "space: cell" evo.yaml || fail "config not rewritten"
run_mpi 4 run evo.yaml 2> log.txt || { tail -20 log.txt; fail "run exited non-zero"; }
r=run/results.h5
[ "$(h5 $r 'len(f["trials/id"])')" = 14 ] || fail "trial count"
[ "$(h5 $r 'set(col("trials/status").tolist())')" = "{'done'}" ] || fail "statuses $(h5 $r 'col("trials/reason").tolist()')"
# Children: a parent, a mutation that changed architecture genes, a genome that differs.
[ "$(h5 $r 'bool((f["trials/parent0"][()][4:] >= 0).all() and (f["trials/parent0"][()][:4] == -1).all())')" = True ] || fail "parents $(h5 $r 'f["trials/parent0"][()].tolist()')"
[ "$(h5 $r 'all(col("genomes/mutated")[i].startswith("arch.") for i in range(4, 14))')" = True ] || fail "mutations $(h5 $r 'col("genomes/mutated").tolist()')"
[ "$(h5 $r 'all((f["genomes/genome"][i] != f["genomes/genome"][f["trials/parent0"][i]]).any() for i in range(4, 14))')" = True ] || fail "a child has its parent's genome"
# Ages: whenever a member leaves, it is the oldest of the population before (aging).
cat > aging.py <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
snap, trial, age = (f["populations/" + c][()] for c in ("snapshot", "trial", "age"))
prev, removals = None, 0
for s in sorted(set(snap.tolist())):
    cur = {int(t): int(a) for t, a in zip(trial[snap == s], age[snap == s])}
    assert len(cur) <= 4, f"snapshot {s}: {len(cur)} members"
    if prev:
        gone = set(prev) - set(cur)
        oldest = min(prev, key=prev.get)
        assert gone <= {oldest}, f"snapshot {s}: {gone} left, the oldest was {oldest} ({prev})"
        removals += len(gone)
    prev = cur
assert removals >= 5, f"only {removals} members left the population"
print("ok", removals)
PYEOF
"$PY" aging.py $r > aging.txt 2>&1 || { cat aging.txt; fail "aging"; }
idle=$(h5 $r 'f.attrs["idle_worker_seconds"] / (3 * f.attrs["wall_seconds"])')
echo "idle fraction of worker-time: $idle"
[ "$(h5 $r 'f.attrs["idle_worker_seconds"] / (3 * f.attrs["wall_seconds"]) < 0.5')" = True ] || fail "workers idle $idle of the time"
pass "evolution_cells"
