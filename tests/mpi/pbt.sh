# Population-based training on 4 ranks (population 6, digits): every exploit's recipient
# starts from the donor's kept state, which arrives bitwise identical (checked against
# the checksum the donor paused with); the lineage is consistent (every donor existed and
# had reached the epoch it gave, the recipient goes on from there); synchronous PBT with
# the same seed and ranks gives the same results twice.
source "$(dirname "$0")/lib/common.bash"
for mode in async sync; do
  { digits_config; cat <<YAML
search: {algorithm: pbt, population: 6, ready_epochs: 2, mode: $mode}
space:
  lr: {type: float, low: 0.001, high: 0.5, log: true}
  momentum: {type: float, low: 0.0, high: 0.95}
YAML
  } | sed -e 's/epochs: 4,/epochs: 10,/' -e "s|output: $work/run|output: $work/$mode|" > $mode.yaml
  LAMARCK_LOG=debug run_mpi 4 run $mode.yaml 2> $mode.log || { tail -30 $mode.log; fail "$mode run"; }
  r=$mode/results.h5
  "$PY" - "$r" <<'PYEOF' || fail "$mode: lineage"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
ev = {k: f["pbt/events/" + k][()] for k in f["pbt/events"].keys() if not isinstance(f["pbt/events/" + k], h5py.Group)}
n = len(ev["trial"])
assert n > 0, "no exploit events"
tr, ep = f["curves/trial"][()], f["curves/epoch"][()]
for i in range(n):
    donor, new, epoch = ev["donor"][i], ev["trial"][i], ev["epoch"][i]
    assert epoch in ep[tr == donor], f"donor {donor} never reached epoch {epoch}"
    mine = np.sort(ep[tr == new])
    assert len(mine) == 0 or mine[0] == epoch + 1, f"trial {new} starts at {mine[:1]}, donor gave epoch {epoch}"
    assert f["trials/parent0"][new] == donor
members = f["trials/member"][()]
assert set(members.tolist()) == set(range(6))
print(f"{n} exploit events, lineage consistent")
PYEOF
  clones=$(h5 $r 'len(f["pbt/events/trial"])')
  verified=$(grep -c 'snapshot [0-9a-f]* verified' $mode.log)
  [ "$verified" -ge "$clones" ] || fail "$mode: $clones clones, $verified verified snapshots"
done
run_mpi 4 run sync.yaml --output sync2 2> /dev/null || fail "second sync run"
res=$(same_tables sync/results.h5 sync2/results.h5)
[ "$res" = same ] || fail "synchronous PBT differs between two runs: $res"
"$PY" "$LAMARCK_SOURCE_DIR/analysis/plot_pbt.py" sync/results.h5 -o pbt.png > /dev/null || fail "plot"
pass "pbt"
