# Runs `lamarck run` inside a Slurm batch job so that the run survives time limits,
# preemption and requeues. Sourced by jobs/*.sbatch, which call:
#
#     lamarck_job CONFIG [lamarck run options...]
#
# Launching: `srun --mpi=pmix` (one lamarck rank per Slurm task) when this Slurm has the
# PMIx plugin, else `mpirun` inside the allocation. LAMARCK_LAUNCHER=srun or mpirun
# forces one. The binary is $LAMARCK, else $LAMARCK_HOME/build/lamarck (LAMARCK_HOME
# defaults to the directory the job was submitted from).
#
# Signals: Slurm sends the batch shell USR1 shortly before the time limit (#SBATCH
# --signal=B:USR1@120) and TERM when it preempts, requeues or cancels the job. The shell
# sends USR1 to the launcher for either, which relays it to every rank; lamarck writes a
# checkpoint and exits with status 4. After USR1 this script requeues the job itself
# (scontrol requeue) unless lamarck finished (status 0) or failed in a way a rerun cannot
# fix (2: usage or configuration, 3: data); any other status (4, or a crash: the rerun
# starts from the last periodic checkpoint) requeues, at most LAMARCK_MAX_RESTARTS times
# (default 20). After TERM it requeues nothing: Slurm requeues a preempted or `scontrol
# requeue`d job and does not requeue a cancelled one.
#
# Resuming: a requeued job runs its batch script again, from the top, with
# SLURM_RESTART_COUNT=1, 2, ... The command is the same `lamarck run CONFIG` on the same
# run directory, where lamarck finds its checkpoint and continues.
#
# Overwriting: never by default. Without --overwrite lamarck never replaces an earlier
# run's results: resubmitting continues an unfinished run from its checkpoints and leaves
# a finished one as it is. LAMARCK_OVERWRITE=1 adds --overwrite (start over) on a job's
# first run only (SLURM_RESTART_COUNT unset), never on a restart, which would throw away
# the checkpoint the restart is meant to resume.

lamarck_job__say() {
  printf '[lamarck-job %s] %s\n' "$(date '+%F %T')" "$*"
}

# The launcher for this allocation: srun when its PMIx plugin is there (Open MPI 4.1
# starts ranks directly under it; pmi2 and none do not work with it), else mpirun.
lamarck_job__launcher() {
  case ${LAMARCK_LAUNCHER:-auto} in
    srun|mpirun) echo "$LAMARCK_LAUNCHER" ;;
    auto)
      if command -v srun > /dev/null && srun --mpi=list 2>&1 | grep -qw pmix; then
        echo srun
      else
        echo mpirun
      fi ;;
    *) lamarck_job__say "LAMARCK_LAUNCHER is '$LAMARCK_LAUNCHER', expected srun, mpirun or auto"
       return 2 ;;
  esac
}

# lamarck_job__forward SIGNAL: remembers SIGNAL and asks every rank to checkpoint and
# exit, by sending USR1 to the launcher, which relays it to the ranks. A TERM is passed on
# as USR1 too: srun (and mpirun) receiving TERM kill their tasks at once, with no time to
# checkpoint. When Slurm itself ends the job, the ranks get TERM directly from Slurm and
# have KillWait seconds before KILL; lamarck treats USR1 and TERM alike.
lamarck_job__forward() {
  lamarck_job__signals+=" $1"
  lamarck_job__interrupted=1
  if [ -n "${lamarck_job__child:-}" ]; then
    lamarck_job__say "got $1: asking lamarck to checkpoint and stop (USR1 to the launcher, pid $lamarck_job__child)"
    kill -USR1 "$lamarck_job__child" 2> /dev/null || true
  else
    lamarck_job__say "got $1 before the launcher started"
  fi
}

# lamarck_job CONFIG [lamarck run options...]: runs the experiment in this allocation,
# requeueing the job when the time limit interrupts it. Returns lamarck's exit status.
lamarck_job() {
  local config=${1:?lamarck_job: no config file}; shift
  local home=${LAMARCK_HOME:-${SLURM_SUBMIT_DIR:-$PWD}}
  local exe=${LAMARCK:-$home/build/lamarck}
  local restart=${SLURM_RESTART_COUNT:-0} max=${LAMARCK_MAX_RESTARTS:-20}
  local launcher status=0
  if [ ! -x "$exe" ]; then
    lamarck_job__say "no lamarck binary at $exe: build it (bash jobs/setup.sh in $home), or set LAMARCK=/path/to/lamarck"
    return 2
  fi
  if [ ! -f "$config" ]; then
    lamarck_job__say "config file '$config' not found (relative paths start at $PWD)"
    return 2
  fi
  launcher=$(lamarck_job__launcher) || return 2

  local args=(run "$config" "$@")
  if [ "$restart" -eq 0 ] && [ "${LAMARCK_OVERWRITE:-0}" = 1 ]; then args+=(--overwrite); fi

  # Open MPI refuses root unless told (containers and test clusters run as root).
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  # oneDNN's OpenMP threads: one per CPU of the task; BLAS stays single-threaded.
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
  export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
  # Since Slurm 22.05, srun no longer takes --cpus-per-task from the batch allocation.
  [ -z "${SLURM_CPUS_PER_TASK:-}" ] || export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK

  local cmd
  case $launcher in
    srun)   cmd=(srun --mpi=pmix --kill-on-bad-exit=1 "$exe" "${args[@]}") ;;
    mpirun) cmd=(mpirun "$exe" "${args[@]}") ;;
  esac

  if [ "$restart" -eq 0 ]; then
    lamarck_job__say "job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NODELIST:-?}, ${SLURM_NTASKS:-?} tasks: ${cmd[*]}"
  else
    lamarck_job__say "job ${SLURM_JOB_ID:-?} restart $restart on ${SLURM_JOB_NODELIST:-?}, ${SLURM_NTASKS:-?} tasks: resuming from the run directory's checkpoint: ${cmd[*]}"
  fi

  lamarck_job__signals="" lamarck_job__interrupted=0 lamarck_job__child=""
  trap 'lamarck_job__forward USR1' USR1
  trap 'lamarck_job__forward TERM' TERM
  "${cmd[@]}" &
  lamarck_job__child=$!
  # A signal that came while starting is passed on now.
  [ -z "$lamarck_job__signals" ] || kill -USR1 "$lamarck_job__child" 2> /dev/null || true

  # `wait` returns early (status > 128) whenever a trapped signal arrives: wait again
  # until the launcher itself has ended and its own status is known.
  while :; do
    lamarck_job__interrupted=0
    status=0
    wait "$lamarck_job__child" || status=$?
    [ "$lamarck_job__interrupted" = 1 ] || break
  done
  lamarck_job__say "lamarck exited with status $status${lamarck_job__signals:+ (signals:$lamarck_job__signals)}"

  case $lamarck_job__signals in
    *USR1*)
      if [ "$status" -eq 0 ]; then
        lamarck_job__say "the run finished before the time limit"
      elif [ "$status" -eq 2 ] || [ "$status" -eq 3 ]; then
        lamarck_job__say "not requeueing: a rerun would fail the same way"
      elif [ "$restart" -ge "$max" ]; then
        lamarck_job__say "not requeueing: already restarted $restart times (LAMARCK_MAX_RESTARTS=$max); submit again to continue"
      elif [ -z "${SLURM_JOB_ID:-}" ]; then
        lamarck_job__say "not requeueing: not in a Slurm job"
      else
        lamarck_job__say "time limit near: requeueing job $SLURM_JOB_ID (restart $((restart + 1)))"
        scontrol requeue "$SLURM_JOB_ID" ||
          lamarck_job__say "scontrol requeue failed: submit the same job again to resume"
      fi ;;
    *TERM*)
      lamarck_job__say "stopped by Slurm (preempted, requeued or cancelled): Slurm decides whether it runs again" ;;
  esac
  trap - USR1 TERM
  return "$status"
}
