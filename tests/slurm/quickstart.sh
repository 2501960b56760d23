# jobs/quickstart.sbatch on a real single-node Slurm: submitted with sbatch, 3 tasks
# started by srun --mpi=pmix as one 3-rank MPI job, a small random search on digits.
# results.h5 is complete and the job's output file records the launch and lamarck's log.
source "$(dirname "$0")/../mpi/lib/common.bash"
source "$LAMARCK_SOURCE_DIR/tests/slurm/cluster.sh"
rc=0; slurm_start || rc=$?
((rc != 77)) || { echo "SKIP: not root"; exit 77; }
((rc == 0)) || fail "slurm_start"

{ digits_config; cat <<YAML
search: {algorithm: random, trials: 6}
space:
  lr: {type: float, low: 0.01, high: 0.2, log: true}
  dropout: {type: float, low: 0.0, high: 0.2}
YAML
} > exp.yaml

# The job finds jobs/lamarck_job.bash through LAMARCK_HOME and the binary through
# LAMARCK (sbatch passes the environment on).
export LAMARCK_HOME=$LAMARCK_SOURCE_DIR
t0=$SECONDS
job=$(sbatch --parsable --ntasks=3 --time=10 --output="$work/job-%j.out" \
  "$LAMARCK_SOURCE_DIR/jobs/quickstart.sbatch" "$work/exp.yaml") || fail "sbatch"
out=$work/job-$job.out
final=$(slurm_wait_done 120 "$job") || { cat "$out"; fail "job $job did not end"; }
echo "job $job: $final in $((SECONDS - t0)) s"
[ "$final" = COMPLETED ] || { cat "$out"; fail "job $job ended $final, exit code $(slurm_job "$job" ExitCode)"; }
[ "$(slurm_job "$job" ExitCode)" = 0:0 ] || fail "exit code $(slurm_job "$job" ExitCode)"

r=run/results.h5
[ -f "$r" ] || { cat "$out"; fail "no results.h5"; }
[ "$(h5 $r 'sorted(col("trials/id").tolist()) == list(range(6))')" = True ] || fail "trial ids"
[ "$(h5 $r 'set(col("trials/status").tolist())')" = "{'done'}" ] || fail "statuses: $(h5 $r 'col("trials/status")')"
[ "$(h5 $r 'len(f["curves/trial"])')" = 24 ] || fail "expected 24 curve rows"
[ "$(h5 $r 'f.attrs["complete"]')" = 1 ] || fail "not marked complete"
# one MPI job of 3 ranks, not 3 separate single-rank runs
[ "$(h5 $r 'int(f.attrs["n_ranks"])')" = 3 ] || fail "n_ranks $(h5 $r 'f.attrs["n_ranks"]')"
[ "$(h5 $r 'set(f["trials/worker"][()].tolist()) <= {1,2} and len(set(f["trials/worker"][()].tolist())) == 2')" = True ] ||
  fail "workers: $(h5 $r 'f["trials/worker"][()].tolist()')"
[ "$(h5 $r 'f["trials/best_val_accuracy"][()].max() > 0.8')" = True ] || fail "best accuracy"

grep -q "lamarck-job .*job $job on .*3 tasks: srun --mpi=pmix" "$out" || { cat "$out"; fail "launch line"; }
grep -q "lamarck exited with status 0" "$out" || { cat "$out"; fail "exit line"; }
grep -q "best: trial" "$out" || { cat "$out"; fail "lamarck's summary is not in the job output"; }
! grep -q "restart" "$out" || { cat "$out"; fail "a restart in a job that was not requeued"; }
slurm_stop || fail "slurm_stop"
pass "slurm quickstart"
