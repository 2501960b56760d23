# A run killed with SIGKILL (every rank at once) over 10 attempts in a row, each time started
# again with the same command, ends with every trial exactly once and the same tables as
# an uninterrupted run with the same seed: for random search and for Hyperband.
source "$(dirname "$0")/lib/common.bash"
seed=${LAMARCK_TEST_SEED:-$RANDOM}
echo "kill moments from seed $seed"
RANDOM=$seed

# newest DIR: the sequence number of DIR's newest checkpoint, 0 when none.
newest() {
  local n
  n=$(ls -d "$1"/checkpoints/ckpt-* 2>/dev/null | grep -E 'ckpt-[0-9]+$' | sed 's/.*ckpt-0*//' |
      sort -n | tail -1)
  echo "${n:-0}"
}

# kill_loop CONFIG NAME: the reference run, then 10 killed runs and a final one. The
# first attempt is killed within 0.3 s of its search starting (before or after its first
# checkpoint); every later one within 0.15 s after the first checkpoint of its own. So
# each kill falls inside training wherever the machine's speed puts it (a moment taken
# from the reference run's wall time can fall after a fast attempt has finished, and
# then no attempt resumes), and a run of n checkpoints is killed about n - 1 times.
kill_loop() {
  local cfg=$1 name=$2 t0 ms kills=0
  t0=$(date +%s%N)
  run_mpi 3 run "$cfg" --output "ref_$name" 2> "ref_$name.log" || { cat "ref_$name.log"; fail "$name: reference run"; }
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))   # an uninterrupted run's wall time
  echo "$name: uninterrupted run $ms ms"
  touch "killed_$name.log"
  for i in $(seq 1 10); do
    local starts target now delay
    starts=$(grep -c " search: " "killed_$name.log" || true)
    target=$(( $(newest "killed_$name") + 1 ))
    setsid "$MPIEXEC" -n 3 --oversubscribe "$LAMARCK" run "$cfg" --output "killed_$name" \
      >> "killed_$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1200); do
      if (( i == 1 )); then
        now=$(grep -c " search: " "killed_$name.log" || true)
        [ "$now" -gt "$starts" ] && break
      else
        now=$(newest "killed_$name")
        [ "$now" -ge "$target" ] && break
      fi
      kill -0 $pid 2>/dev/null || break
      sleep 0.025
    done
    if (( i == 1 )); then delay=$(( RANDOM % 300 )); else delay=$(( RANDOM % 150 )); fi
    sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
    if kill -0 $pid 2>/dev/null; then
      kill -KILL -- -$pid 2>/dev/null || true
      kills=$((kills + 1))
    fi
    wait $pid 2>/dev/null || true
    # nothing of the killed job may linger
    for _ in $(seq 50); do pgrep -f "output killed_$name" >/dev/null || break; sleep 0.1; done
  done
  echo "$name: killed $kills times"
  run_mpi 3 run "$cfg" --output "killed_$name" 2>> "killed_$name.log" || { tail -30 "killed_$name.log"; fail "$name: final run"; }
  [ "$(once "killed_$name/results.h5")" = ok ] || fail "$name: a trial or curve row is missing or repeated"
  local res
  res=$(same_tables "ref_$name/results.h5" "killed_$name/results.h5")
  [ "$res" = same ] || { tail -40 "killed_$name.log"; fail "$name: killed run differs from the reference: $res"; }
  grep -q "resumed from checkpoint" "killed_$name.log" || fail "$name: never resumed from a checkpoint"
}

{ digits_config; cat <<YAML
search: {algorithm: random, trials: 12}
space:
  lr: {type: float, low: 0.005, high: 0.05, log: true}
  width: {type: categorical, values: [256, 512]}
YAML
} | sed -e 's/epochs: 4, batch_size: 32/epochs: 20, batch_size: 16/' -e 's/depth: 1/depth: 2/' \
        -e 's/progress_interval: 1}/progress_interval: 1, checkpoint_interval: 0.3}/' > random.yaml
kill_loop random.yaml random

{ digits_config; cat <<YAML
search: {algorithm: hyperband, eta: 3}
space:
  lr: {type: float, low: 0.005, high: 0.05, log: true}
  width: {type: categorical, values: [256, 512]}
YAML
} | sed -e 's/epochs: 4, batch_size: 32/epochs: 9, batch_size: 8/' -e 's/depth: 1/depth: 2/' \
        -e 's/progress_interval: 1}/progress_interval: 1, checkpoint_interval: 0.3}/' > hyperband.yaml
kill_loop hyperband.yaml hyperband
pass "checkpoint_kill"
