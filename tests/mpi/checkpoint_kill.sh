# A run killed with SIGKILL (every rank at once) at 10 moments in a row, each time
# started again with the same command, ends with every trial exactly once and the same
# tables as an uninterrupted run with the same seed.
source "$(dirname "$0")/lib/common.bash"
{ digits_config; cat <<YAML
search: {algorithm: random, trials: 12}
space:
  lr: {type: float, low: 0.005, high: 0.05, log: true}
  width: {type: categorical, values: [256, 512]}
YAML
} | sed -e 's/epochs: 4, batch_size: 32/epochs: 10, batch_size: 16/' -e 's/depth: 1/depth: 2/' \
        -e 's/progress_interval: 1}/progress_interval: 1, checkpoint_interval: 0.3}/' > exp.yaml
t0=$(date +%s%N)
run_mpi 3 run exp.yaml --output ref 2> ref.log || { cat ref.log; fail "reference run"; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))   # an uninterrupted run's wall time
echo "uninterrupted run: $ms ms"

seed=${LAMARCK_TEST_SEED:-$RANDOM}
echo "kill moments from seed $seed"
RANDOM=$seed
kills=0
for i in $(seq 1 10); do
  setsid "$MPIEXEC" -n 3 --oversubscribe "$LAMARCK" run exp.yaml --output killed >> killed.log 2>&1 &
  pid=$!
  # a random moment in the middle of what an uninterrupted run takes
  delay=$(( ms * (25 + RANDOM % 50) / 100 ))
  sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
  if kill -0 $pid 2>/dev/null; then
    kill -KILL -- -$pid 2>/dev/null || true
    kills=$((kills + 1))
  fi
  wait $pid 2>/dev/null || true
  # nothing of the killed job may linger
  for _ in $(seq 50); do pgrep -f "lamarck run exp.yaml --output killed" >/dev/null || break; sleep 0.1; done
done
echo "killed $kills times"
run_mpi 3 run exp.yaml --output killed 2>> killed.log || { tail -30 killed.log; fail "final run"; }
[ "$(once killed/results.h5)" = ok ] || fail "a trial or curve row is missing or repeated"
res=$(same_tables ref/results.h5 killed/results.h5)
[ "$res" = same ] || { tail -40 killed.log; fail "killed run differs from the reference: $res"; }
grep -q "resumed from checkpoint" killed.log || fail "never resumed from a checkpoint"
pass "checkpoint_kill ($kills kills)"
