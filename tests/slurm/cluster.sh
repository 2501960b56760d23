# A real single-node Slurm cluster for tests: munged, slurmctld and slurmd on localhost,
# every file under one temporary directory, no systemd, no cgroups (see ENVIRONMENT.md).
# Needs root (slurmd launches jobs as their owner) and the Debian packages slurmctld,
# slurmd, slurm-client and munge (jobs/setup.sh installs them).
#
# From a test script:
#     source "$LAMARCK_SOURCE_DIR/tests/slurm/cluster.sh"
#     slurm_start          # exports SLURM_CONF and SLURM_DIR; about a second
#     sbatch --wait ...
#     slurm_stop           # also runs by itself when the script exits, however it exits
#
# From a shell:
#     bash tests/slurm/cluster.sh              # self-test: start, run a job, stop (ctest)
#     bash tests/slurm/cluster.sh start DIR    # leave one running in DIR, print SLURM_CONF
#     bash tests/slurm/cluster.sh stop DIR
#
# The daemons are started with LAMARCK_SLURM_CLUSTER=DIR in their environment, which
# their children (slurmstepd) inherit: slurm_stop stops them by PID file, then checks by
# that marker that no process of this cluster is left. A watchdog (its own session, so a
# test runner that kills the test's process tree does not kill it) stops the cluster if
# the test process disappears without stopping it, e.g. killed at a ctest timeout.
# Ports: LAMARCK_SLURM_PORT (slurmctld, default 16817) and the next one (slurmd).

SLURM_CLUSTER_SH=$(readlink -f "${BASH_SOURCE[0]}")

slurm__say() { printf '[slurm-test] %s\n' "$*" >&2; }

# slurm__ours PID: the process exists and belongs to this cluster.
slurm__ours() {
  grep -qzxF "LAMARCK_SLURM_CLUSTER=$SLURM_DIR" "/proc/$1/environ" 2> /dev/null
}

# slurm__leftovers: the PIDs of every process that still carries this cluster's marker.
slurm__leftovers() {
  grep -lzxF "LAMARCK_SLURM_CLUSTER=$SLURM_DIR" /proc/[0-9]*/environ 2> /dev/null |
    sed -E 's|^/proc/([0-9]+)/environ$|\1|' || true
}

# slurm__wait SECONDS CMD...: retries CMD every 0.1 s until it succeeds or time runs out.
slurm__wait() {
  local tries=$(($1 * 10)); shift
  while ((tries-- > 0)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

slurm__logs() {
  local f
  for f in "$SLURM_DIR"/log/*.log; do
    [ -s "$f" ] || continue
    slurm__say "---- last lines of $f"
    tail -n 25 "$f" >&2
  done
}

slurm__ctld_up() { scontrol ping 2>/dev/null | grep -q "is UP"; }
slurm__node_idle() { [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ]; }
slurm__node_state() { sinfo -h -n localhost -o %T 2>/dev/null; }

slurm__write_conf() {
  local S=$SLURM_DIR port=${LAMARCK_SLURM_PORT:-16817}
  cat > "$S/etc/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh for one test run.
ClusterName=lamarcktest
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/run/munge/munge.socket.2,cred_expire=10
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
TmpFS=$S/tmp
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$S/log/jobcomp.txt
SwitchType=switch/none
MpiDefault=pmix
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Schedule a submitted or requeued job at once: by default a submission may wait 3 s for
# more to come, and a requeued job for the next scheduling pass (every 30-60 s).
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
# CPUs may exceed the real cores: without config_overrides the node would drain.
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=300
InactiveLimit=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=4 Boards=1 SocketsPerBoard=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

# slurm__daemon NAME CMD...: starts a daemon with the cluster's marker, its stdio on a
# log file (so it holds no pipe of the caller's open), and waits for its PID file.
slurm__daemon() {
  local name=$1; shift
  env LAMARCK_SLURM_CLUSTER="$SLURM_DIR" "$@" < /dev/null >> "$SLURM_DIR/log/$name.out" 2>&1 || {
    slurm__say "$name did not start"; slurm__logs; return 1; }
  slurm__wait 10 test -s "$SLURM_DIR/run/$name.pid" || {
    slurm__say "$name wrote no PID file"; slurm__logs; return 1; }
}

# slurm_start [DIR]: starts the cluster in DIR (default: a new temporary directory, removed
# by slurm_stop) and waits until the node is idle. Exports SLURM_DIR and SLURM_CONF.
# Unless SLURM_NO_TRAP=1, arranges for slurm_stop to run when the calling shell exits
# (before any EXIT trap the script had already set, which still runs).
slurm_start() {
  local t0=$SECONDS cmd
  if [ "$(id -u)" -ne 0 ]; then
    slurm__say "a test Slurm cluster needs root (slurmd runs jobs as their owner)"; return 77
  fi
  for cmd in munged mungekey slurmctld slurmd sbatch scontrol sinfo squeue scancel srun; do
    command -v "$cmd" > /dev/null || {
      slurm__say "$cmd not found: install slurmctld slurmd slurm-client munge (bash jobs/setup.sh)"
      return 1; }
  done
  if [ -n "${1:-}" ]; then
    SLURM_DIR=$(mkdir -p "$1" && cd "$1" && pwd); SLURM_OWN_DIR=0
  else
    SLURM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lamarck-slurm.XXXXXX"); SLURM_OWN_DIR=1
  fi
  export SLURM_DIR SLURM_OWN_DIR
  local S=$SLURM_DIR
  # A Unix socket path holds at most 107 bytes.
  if ((${#S} > 80)); then slurm__say "cluster directory path too long for a socket: $S"; return 1; fi
  mkdir -p "$S"/{etc,munge,state,spool,log,tmp,run/munge}
  chmod 700 "$S/munge"
  chmod 755 "$S" "$S/run" "$S/run/munge"   # munged checks the socket's directories
  if [ "${SLURM_NO_TRAP:-0}" != 1 ]; then
    # Stop on exit and on the signals a test runner sends; then whatever EXIT trap the
    # script had (trap -p prints it shell-quoted: the command is its third word).
    local prev; prev=$(trap -p EXIT)
    SLURM__PREV_EXIT=""
    if [ -n "$prev" ]; then eval "set -- $prev"; SLURM__PREV_EXIT=$3; fi
    trap 'slurm__on_exit' EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    slurm__watchdog "$$"
  fi
  mungekey --create --keyfile="$S/munge/munge.key" > /dev/null 2>> "$S/log/munged.log" || {
    slurm__say "mungekey failed"; slurm__logs; return 1; }
  slurm__write_conf
  export SLURM_CONF=$S/etc/slurm.conf


  slurm__daemon munged munged --key-file="$S/munge/munge.key" \
    --socket="$S/run/munge/munge.socket.2" --pid-file="$S/run/munged.pid" \
    --log-file="$S/log/munged.log" --seed-file="$S/munge/munged.seed" || return 1
  slurm__daemon slurmctld slurmctld -f "$SLURM_CONF" || return 1
  slurm__wait 20 slurm__ctld_up || {
    slurm__say "slurmctld is not answering (port ${LAMARCK_SLURM_PORT:-16817} in use by another test cluster? see ${TMPDIR:-/tmp}/lamarck-slurm.*)"
    slurm__logs; return 1; }
  slurm__daemon slurmd slurmd -f "$SLURM_CONF" -N localhost || return 1
  # A node left drained or down by an earlier state is put back in service.
  local i state
  for ((i = 0; i < 300; i++)); do
    state=$(slurm__node_state)
    [ "$state" = idle ] && break
    case $state in
      drain*|down*) scontrol update NodeName=localhost State=RESUME 2> /dev/null || true ;;
    esac
    sleep 0.1
  done
  slurm__node_idle || { slurm__say "node localhost is '$state', not idle"; slurm__logs; return 1; }
  slurm__say "cluster up in $((SECONDS - t0)) s: SLURM_CONF=$SLURM_CONF"
}

# slurm__watchdog OWNER: stops the cluster if the OWNER process ends without doing so.
slurm__watchdog() {
  SLURM_WATCHDOG=1 SLURM_OWN_DIR=$SLURM_OWN_DIR setsid bash -c '
    owner=$1 dir=$2 sh=$3
    echo $$ > "$dir/run/watchdog.pid"
    while kill -0 "$owner" 2> /dev/null; do sleep 1; done
    [ -d "$dir" ] || exit 0
    echo "watchdog: process $owner ended without stopping the cluster; stopping it"
    bash "$sh" stop "$dir"' slurm-watchdog "$1" "$SLURM_DIR" "$SLURM_CLUSTER_SH" \
    < /dev/null >> "$SLURM_DIR/log/watchdog.log" 2>&1 &
  slurm__wait 5 test -s "$SLURM_DIR/run/watchdog.pid" || true
}

slurm__on_exit() {
  local status=$?
  trap - EXIT TERM INT
  if [ -n "${SLURM_DIR:-}" ] && [ -d "$SLURM_DIR" ]; then
    ((status == 0)) || slurm__logs
    slurm_stop || status=1
  fi
  eval "${SLURM__PREV_EXIT:-}"
  exit "$status"
}

# slurm__kill NAME: TERMs the daemon in run/NAME.pid and waits for it to end; KILLs it
# (and returns 1) if it is still there after 15 s.
slurm__kill() {
  local pidfile=$SLURM_DIR/run/$1.pid pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if ! slurm__ours "$pid"; then rm -f "$pidfile"; return 0; fi
  kill -TERM "$pid" 2> /dev/null || true
  if ! slurm__wait 15 eval "! kill -0 $pid 2> /dev/null"; then
    slurm__say "$1 ($pid) ignored TERM for 15 s: killing it"
    kill -KILL "$pid" 2> /dev/null || true
    slurm__wait 5 eval "! kill -0 $pid 2> /dev/null" || true
    rm -f "$pidfile"
    return 1
  fi
  rm -f "$pidfile"
}

# slurm_stop: cancels every job, stops slurmd, slurmctld and munged by their PID files,
# checks that no process of the cluster is left (killing and reporting any that is), and
# removes the cluster directory when slurm_start created it. Returns 1 if anything had to
# be killed by force or was left.
slurm_stop() {
  [ -n "${SLURM_DIR:-}" ] && [ -d "$SLURM_DIR" ] || return 0
  local S=$SLURM_DIR rc=0 ids pid left
  export SLURM_CONF=$S/etc/slurm.conf
  if [ -s "$S/run/slurmctld.pid" ] && slurm__ours "$(cat "$S/run/slurmctld.pid")"; then
    ids=$(squeue -h -o %i 2> /dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      scancel --full $ids 2> /dev/null || true
      slurm__wait 30 eval '[ -z "$(squeue -h -o %i 2> /dev/null)" ]' ||
        slurm__say "jobs still in the queue after 30 s: $(squeue -h -o '%i %T' 2> /dev/null | tr '\n' ' ')"
    fi
  fi
  # The watchdog is not needed once we are stopping (and is us, when it called stop).
  if [ "${SLURM_WATCHDOG:-0}" != 1 ] && [ -s "$S/run/watchdog.pid" ]; then
    pid=$(cat "$S/run/watchdog.pid")
    kill -TERM "$pid" 2> /dev/null || true
    rm -f "$S/run/watchdog.pid"
  fi
  slurm__kill slurmd || rc=1
  slurm__kill slurmctld || rc=1
  slurm__kill munged || rc=1
  left=$(slurm__leftovers)
  if [ -n "$left" ]; then
    slurm__say "processes of the cluster left after stopping it: killing them:"
    for pid in $left; do
      slurm__say "  $pid $({ tr '\0' ' ' < "/proc/$pid/cmdline"; } 2> /dev/null)"
      kill -KILL "$pid" 2> /dev/null || true
    done
    rc=1
  fi
  rm -f "$S/etc/slurm.conf"
  if [ "${SLURM_OWN_DIR:-0}" = 1 ] && [ "${LAMARCK_KEEP_SLURM:-0}" != 1 ]; then
    rm -rf "$S"
  fi
  return $rc
}

# slurm_job JOBID FIELD: one field of `scontrol show job` (JobState, Restarts, ExitCode,
# Reason, ...); empty when the job or the field is unknown.
slurm_job() {
  scontrol show job -o "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

slurm__final() {
  case $1 in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) true ;;
             *) false ;; esac
}

# slurm_wait_for SECONDS JOBID CONDITION: polls every 0.5 s until the shell CONDITION holds,
# with $state and $restarts set to the job's JobState and Restarts. Returns 1, saying why,
# on timeout or when the job has ended for good without CONDITION holding.
slurm_wait_for() {
  local n=$(($1 * 2)) job=$2 cond=$3 why="timed out"
  while ((n-- > 0)); do
    state=$(slurm_job "$job" JobState) restarts=$(slurm_job "$job" Restarts)
    eval "$cond" && return 0
    if slurm__final "$state"; then why="ended"; break; fi
    sleep 0.5
  done
  slurm__say "job $job $why waiting for: $cond (JobState=$state Restarts=$restarts" \
    "ExitCode=$(slurm_job "$job" ExitCode) Reason=$(slurm_job "$job" Reason))"
  return 1
}

# slurm_wait_done SECONDS JOBID: waits until the job has ended for good (any final state)
# and prints that state.
slurm_wait_done() {
  slurm_wait_for "$1" "$2" 'slurm__final "$state"' >&2 || return 1
  echo "$state"
}

# Run as a command rather than sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-selftest}" in
    start)
      [ -n "${2:-}" ] || { echo "usage: $0 start DIR" >&2; exit 2; }
      SLURM_NO_TRAP=1 slurm_start "$2"
      echo "export SLURM_CONF=$SLURM_CONF" ;;
    stop)
      [ -n "${2:-}" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
      SLURM_DIR=$(cd "$2" && pwd) SLURM_OWN_DIR=${SLURM_OWN_DIR:-0} slurm_stop ;;
    selftest)
      # The cluster starts, runs a batch job and a PMIx step, and stops without leftovers.
      fail() { echo "FAIL: $*" >&2; exit 1; }
      work=$(mktemp -d "${TMPDIR:-/tmp}/lamarck-test.XXXXXX")
      trap 'rm -rf "$work"' EXIT
      rc=0; slurm_start || rc=$?
      ((rc != 77)) || { echo "SKIP: not root"; exit 77; }
      ((rc == 0)) || fail "slurm_start"
      dir=$SLURM_DIR
      srun --mpi=list 2>&1 | grep -qw pmix || fail "no pmix in 'srun --mpi=list'"
      sbatch --wait -n 2 -o "$work/job.out" --wrap 'echo "job $SLURM_JOB_ID restart ${SLURM_RESTART_COUNT:-none}"; srun --mpi=pmix hostname' \
        > /dev/null || fail "sbatch --wait: $(cat "$work/job.out" 2> /dev/null)"
      grep -q "^job 1 restart none$" "$work/job.out" || fail "job output: $(cat "$work/job.out")"
      [ "$(grep -c . "$work/job.out")" = 3 ] || fail "expected 2 tasks' lines: $(cat "$work/job.out")"
      pids=$(cat "$dir"/run/{munged,slurmctld,slurmd}.pid)
      slurm_stop || fail "slurm_stop left processes behind"
      for p in $pids; do ! kill -0 "$p" 2> /dev/null || fail "daemon $p still running"; done
      [ ! -e "$dir" ] || [ "${LAMARCK_KEEP_SLURM:-0}" = 1 ] || fail "cluster directory $dir not removed"
      echo "PASS: cluster" ;;
    *) echo "usage: $0 [selftest | start DIR | stop DIR]" >&2; exit 2 ;;
  esac
fi
