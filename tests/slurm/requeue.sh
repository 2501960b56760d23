# A run survives being stopped twice on a real single-node Slurm, once each way a cluster
# stops a job, and finishes with every trial exactly once:
#  1. the time-limit warning: USR1 to the batch shell (what --signal=B:USR1@120 sends);
#     jobs/lamarck_job.bash passes it on, lamarck checkpoints and exits, and the job
#     requeues itself;
#  2. preemption: `scontrol requeue`, which sends TERM to the whole job and requeues it.
# Each rerun (SLURM_RESTART_COUNT 1, then 2) runs the same `lamarck run CONFIG`, which
# resumes from the checkpoint in the run directory. Trials finished before the first stop
# are not trained again, and no trial or learning-curve row is lost or doubled.
source "$(dirname "$0")/../mpi/lib/common.bash"
source "$LAMARCK_SOURCE_DIR/tests/slurm/cluster.sh"
rc=0; slurm_start || rc=$?
((rc != 77)) || { echo "SKIP: not root"; exit 77; }
((rc == 0)) || fail "slurm_start"

# About 30-60 s of training on 2 workers: 32 trials of 30 epochs.
trials=32 epochs=30
cat > exp.yaml <<YAML
experiment: {name: requeue, seed: 11, output: $work/run, progress_interval: 1}
data: {dataset: digits, validation_fraction: 0.2}
training: {epochs: $epochs, batch_size: 32, lr: 0.05, momentum: 0.9}
model: {type: mlp, depth: 3, width: 512}
search: {algorithm: random, trials: $trials}
space:
  lr: {type: float, low: 0.01, high: 0.1, log: true}
YAML

r=run/results.h5
# done_count: trials finished so far according to results.h5 (0 before it exists).
done_count() {
  [ -f "$r" ] || { echo 0; return; }
  h5 "$r" 'int((col("trials/status") == "done").sum())' 2> /dev/null || echo 0
}
# wait_done_above N SECONDS: until results.h5 shows more than N finished trials, while
# the job is running.
wait_done_above() {
  local n=$(($2)) d=0 st
  while ((n-- > 0)); do
    d=$(done_count)
    ((d > $1)) && return 0
    st=$(slurm_job "$job" JobState)
    [ "$st" = RUNNING ] || { show; fail "job $job is $st, with $d trials done (waiting for more than $1)"; }
    sleep 1
  done
  show; fail "results.h5 shows $d finished trials after $2 s, expected more than $1"
}
show() { echo "---- job output"; cat "$out"; }

export LAMARCK_HOME=$LAMARCK_SOURCE_DIR
t0=$SECONDS
job=$(sbatch --parsable --ntasks=3 --time=10 --output="$work/job-%j.out" \
  "$LAMARCK_SOURCE_DIR/jobs/quickstart.sbatch" "$work/exp.yaml") || fail "sbatch"
out=$work/job-$job.out
slurm_wait_for 60 "$job" '[ "$state" = RUNNING ]' || { show; fail "job $job never ran"; }
wait_done_above 1 120

# 1. The time-limit warning, as Slurm sends it: USR1 to the batch shell only.
scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1"
echo "$((SECONDS - t0)) s: USR1 sent"
slurm_wait_for 60 "$job" '[ "$restarts" = 1 ]' || { show; fail "job $job was not requeued after USR1"; }
grep -q "lamarck exited with status" "$out" || { show; fail "no exit line"; }
# What was finished before the stop, with its timing: a trial trained again would have a
# different end time and training time.
h5 "$r" '{int(i): (float(e), float(s)) for i, e, s, st in zip(col("trials/id"), col("trials/t_end"), col("trials/train_seconds"), col("trials/status")) if st == "done"}' \
  > first.txt || fail "results.h5 unreadable after the first stop"
n1=$(done_count)
echo "$((SECONDS - t0)) s: requeued after USR1 with $n1 trials done"
((n1 < trials)) || fail "the run finished before it could be stopped: make it longer"

slurm_wait_for 120 "$job" '[ "$state" = RUNNING ] && [ "$restarts" = 1 ]' || { show; fail "restart 1 never ran"; }
wait_done_above "$((n1 + 1))" 120

# 2. Preemption: Slurm sends TERM to the whole job and requeues it.
n2=$(done_count)
((n2 < trials)) || fail "the run finished before it could be preempted: make it longer"
scontrol requeue "$job" || fail "scontrol requeue"
echo "$((SECONDS - t0)) s: requeued by scontrol with $n2 trials done"
final=$(slurm_wait_done 240 "$job") || { show; fail "job $job did not end"; }
echo "$((SECONDS - t0)) s: job $job $final after $(slurm_job "$job" Restarts) restarts"
[ "$final" = COMPLETED ] || { show; fail "job $job ended $final, exit code $(slurm_job "$job" ExitCode)"; }
[ "$(slurm_job "$job" Restarts)" = 2 ] || { show; fail "Restarts=$(slurm_job "$job" Restarts), expected 2"; }

# Every trial exactly once, finished; every (trial, epoch) curve row exactly once.
[ "$(h5 $r 'len(f["trials/id"])')" = $trials ] || fail "trial rows: $(h5 $r 'col("trials/id").tolist()')"
[ "$(h5 $r "sorted(col('trials/id').tolist()) == list(range($trials))")" = True ] || fail "trial ids"
[ "$(h5 $r 'set(col("trials/status").tolist())')" = "{'done'}" ] || fail "statuses: $(h5 $r 'col("trials/status").tolist()')"
[ "$(h5 $r "(col('trials/epochs') == $epochs).all()")" = True ] || fail "epochs: $(h5 $r 'col("trials/epochs").tolist()')"
[ "$(h5 $r "sorted(zip(col('curves/trial').tolist(), col('curves/epoch').tolist())) == [(t, e) for t in range($trials) for e in range(1, $epochs + 1)]")" = True ] ||
  fail "curve rows are not each (trial, epoch) exactly once"
[ "$(h5 $r 'f.attrs["complete"]')" = 1 ] || fail "not marked complete"
[ "$(h5 $r 'int(f.attrs["n_ranks"])')" = 3 ] || fail "n_ranks"
# The trials finished before the first stop were kept, not trained again.
kept=$(h5 $r "(lambda a, b: [i for i in a if b.get(i) != a[i]])($(cat first.txt), {int(i): (float(e), float(s)) for i, e, s in zip(col('trials/id'), col('trials/t_end'), col('trials/train_seconds'))})")
[ "$kept" = "[]" ] || fail "trials finished before the first stop were trained again: $kept"

# The job's one output file (--open-mode=append) tells the story of all three runs.
grep -q "lamarck-job .*job $job on .*srun --mpi=pmix" "$out" || { show; fail "first launch line"; }
grep -q "got USR1: asking lamarck to checkpoint" "$out" || { show; fail "USR1 not passed on"; }
grep -q "time limit near: requeueing job $job (restart 1)" "$out" || { show; fail "no self-requeue"; }
grep -q "job $job restart 1 on .*resuming" "$out" || { show; fail "restart 1 line"; }
grep -q "got TERM: asking lamarck to checkpoint" "$out" || { show; fail "TERM not passed on"; }
grep -q "job $job restart 2 on .*resuming" "$out" || { show; fail "restart 2 line"; }
[ "$(grep -c "lamarck exited with status 0" "$out")" = 1 ] || { show; fail "the last run did not end with status 0"; }
grep -q "resumed from checkpoint" "$out" || { show; fail "lamarck did not say it resumed"; }
grep -E "^\[lamarck-job|resumed from checkpoint|stopped after checkpoint" "$out"
slurm_stop || fail "slurm_stop"
pass "slurm requeue ($((SECONDS - t0)) s)"
