# 4 ranks, random search on digits: results.h5 has every trial, one curve row per
# trained epoch, accuracy far above chance (0.1), and the run directory records the run.
source "$(dirname "$0")/lib/common.bash"
{ digits_config; cat <<YAML
search: {algorithm: random, trials: 9}
space:
  lr: {type: float, low: 0.01, high: 0.2, log: true}
  momentum: {type: float, low: 0.5, high: 0.95}
  width: {type: categorical, values: [32, 64]}
  dropout: {type: float, low: 0.0, high: 0.3}
YAML
} > exp.yaml
run_mpi 4 run exp.yaml 2> log.txt || { cat log.txt; fail "run exited non-zero"; }
r=run/results.h5
[ -f "$r" ] || fail "no results.h5"
[ "$(h5 $r 'len(f["trials/id"])')" = 9 ] || fail "expected 9 trials"
[ "$(h5 $r 'sorted(col("trials/id").tolist()) == list(range(9))')" = True ] || fail "trial ids"
[ "$(h5 $r 'set(col("trials/status").tolist())')" = "{'done'}" ] || fail "statuses: $(h5 $r 'col("trials/status")')"
[ "$(h5 $r 'int(f["trials/epochs"][()].sum())')" = "$(h5 $r 'len(f["curves/trial"])')" ] || fail "curve rows != epochs trained"
[ "$(h5 $r 'len(f["curves/trial"])')" = 36 ] || fail "expected 36 curve rows"
# every trial's epochs 1..4 exactly once
[ "$(h5 $r 'all(sorted(f["curves/epoch"][()][f["curves/trial"][()]==t].tolist())==[1,2,3,4] for t in range(9))')" = True ] || fail "curve epochs"
[ "$(h5 $r 'f["trials/best_val_accuracy"][()].max() > 0.8')" = True ] || fail "best accuracy $(h5 $r 'f["trials/best_val_accuracy"][()].max()')"
[ "$(h5 $r 'set(f["trials/worker"][()].tolist()) <= {1,2,3}')" = True ] || fail "workers"
[ "$(h5 $r 'f.attrs["complete"]')" = 1 ] || fail "not marked complete"
[ "$(h5 $r '"search: {algorithm: random" in f["config"][()].decode()')" = True ] || fail "/config text"
# rank 0 sleeps between polls: a small share of the wall time, not a spinning core
frac=$(h5 $r 'f.attrs["rank0_cpu_seconds"] / f.attrs["wall_seconds"]')
echo "rank 0 CPU / wall: $frac"
[ "$(h5 $r 'f.attrs["rank0_cpu_seconds"] < 0.3 * f.attrs["wall_seconds"]')" = True ] || fail "rank 0 busy: $frac"
grep -q "progress: trials" log.txt || fail "no progress line"
grep -q "best: trial" log.txt || fail "no summary"
[ -f run/config.yaml ] && [ -f run/run.txt ] || fail "run directory records"
"$LAMARCK" report "$r" > report.txt || fail "report failed"
grep -q "done: 9" report.txt || { cat report.txt; fail "report"; }
"$PY" "$LAMARCK_SOURCE_DIR/analysis/plot_curves.py" "$r" -o curves.png > /dev/null || fail "plot script"
[ -s curves.png ] || fail "no plot"
pass "search_digits"
