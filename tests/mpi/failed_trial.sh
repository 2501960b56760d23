# A diverging trial (NaN loss) is a failed trial with its reason; the run goes on and
# the other trials finish.
source "$(dirname "$0")/lib/common.bash"
{ digits_config; cat <<YAML
search: {algorithm: grid}
space:
  lr: {type: categorical, values: [0.05, 100]}   # 100 with momentum 0.99 overflows
  momentum: {type: categorical, values: [0.99], when: {lr: 100}}
  depth: {type: categorical, values: [3]}
  width: {type: categorical, values: [512]}
YAML
} > exp.yaml
run_mpi 3 run exp.yaml 2> log.txt || { cat log.txt; fail "run exited non-zero"; }
r=run/results.h5
[ "$(h5 $r 'col("trials/status").tolist()')" = "['done', 'failed']" ] || fail "statuses $(h5 $r 'col("trials/status").tolist()')"
h5 $r 'col("trials/reason")[1]' | grep -q "diverged" || fail "reason: $(h5 $r 'col("trials/reason")[1]')"
grep -q "trial 1 failed" log.txt || fail "failure not logged"
[ "$(h5 $r 'f["trials/best_val_accuracy"][0] > 0.8')" = True ] || fail "healthy trial"
pass "failed_trial"
