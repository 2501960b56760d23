# SIGUSR1 (what Slurm sends before a time limit): the run pauses its trials, writes a
# checkpoint and exits with status 4; the same command continues it, also with another
# number of ranks, to the same tables as an uninterrupted run. A damaged newest
# checkpoint is reported and the previous one used; a run that is complete says so.
source "$(dirname "$0")/lib/common.bash"
{ digits_config; cat <<YAML
search: {algorithm: random, trials: 16}
space:
  lr: {type: float, low: 0.01, high: 0.1, log: true}
YAML
} | sed -e 's/epochs: 4, batch_size: 32/epochs: 6, batch_size: 8/' \
        -e 's/progress_interval: 1}/progress_interval: 1, checkpoint_interval: 0.2, checkpoints_keep: 3}/' \
        -e 's/width: 64/width: 512/' > exp.yaml
run_mpi 3 run exp.yaml --output ref 2> ref.log || { cat ref.log; fail "reference run"; }

"$MPIEXEC" -n 3 --oversubscribe "$LAMARCK" run exp.yaml --output sig 2> sig.log &
pid=$!
# signal once the run is under way (its first checkpoint written)
for _ in $(seq 300); do grep -q "checkpoint 1 written" sig.log && break; sleep 0.05; done
kill -USR1 $pid
st=0; wait $pid || st=$?
[ "$st" = 4 ] || { cat sig.log; fail "exit status $st after SIGUSR1, expected 4"; }
grep -q "stopped after checkpoint" sig.log || fail "no stop message"
ls -d sig/checkpoints/ckpt-* > /dev/null || fail "no checkpoint"

# damage the newest checkpoint: the previous one is used, with a message
newest=$(ls -d sig/checkpoints/ckpt-* | sort | tail -1)
n_ckpt=$(ls -d sig/checkpoints/ckpt-* | wc -l)
if [ "$n_ckpt" -ge 2 ]; then
  truncate -s 100 "$newest/controller.h5"
  "$LAMARCK" run exp.yaml --output sig 2> resume.log || { cat resume.log; fail "resume on 1 rank"; }
  grep -q "incomplete or corrupt.*trying the previous checkpoint" resume.log || { cat resume.log; fail "no fallback message"; }
else
  run_mpi 2 run exp.yaml --output sig 2> resume.log || { cat resume.log; fail "resume on 2 ranks"; }
fi
grep -q "resumed from checkpoint" resume.log || fail "did not resume"
[ "$(once sig/results.h5)" = ok ] || fail "a trial or curve row is missing or repeated"
res=$(same_tables ref/results.h5 sig/results.h5)
[ "$res" = same ] || fail "resumed run differs: $res"

# a complete run is not redone
run_mpi 2 run exp.yaml --output sig 2> again.log || fail "rerun of a complete run"
grep -q "already complete" again.log || fail "no 'already complete' message"

# another config is refused
sed 's/trials: 16/trials: 9/' exp.yaml > other.yaml
st=0; run_mpi 2 run other.yaml --output sig 2> other.log || st=$?
[ "$st" = 2 ] && grep -q "different config" other.log || { cat other.log; fail "changed config accepted"; }

# every checkpoint damaged: a clear error, not a crash
mkdir -p broken/checkpoints/ckpt-000001 && head -c 300 /dev/urandom > broken/checkpoints/ckpt-000001/controller.h5
cp exp.yaml broken.yaml
st=0; run_mpi 2 run broken.yaml --output broken 2> broken.log || st=$?
[ "$st" = 3 ] && grep -q "no readable checkpoint" broken.log || { cat broken.log; fail "damaged checkpoints: status $st"; }
pass "checkpoint_signal"
