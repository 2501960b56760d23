# One rank: the trials train inline on rank 0, without mpiexec.
source "$(dirname "$0")/lib/common.bash"
{ digits_config; cat <<YAML
search: {algorithm: random, trials: 2}
space:
  lr: {type: float, low: 0.02, high: 0.1, log: true}
YAML
} > exp.yaml
"$LAMARCK" run exp.yaml 2> log.txt || { cat log.txt; fail "run exited non-zero"; }
r=run/results.h5
[ "$(h5 $r 'f["trials/worker"][()].tolist()')" = "[0, 0]" ] || fail "workers"
[ "$(h5 $r 'len(f["curves/trial"])')" = 8 ] || fail "curve rows"
[ "$(h5 $r 'f["trials/best_val_accuracy"][()].min() > 0.8')" = True ] || fail "accuracy"
pass "single_rank"
