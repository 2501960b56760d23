# Meta-dataset generation (lamarck metadata generate) on 4 ranks, digits and iris, K = 6
# architectures, E = 3 epochs: killed with SIGKILL (every rank at once) 3 times at random
# moments while pairs are being written, started again each time, then run to the end.
# The file must hold every (dataset, architecture) pair exactly once, never train a done
# pair again, keep the curves of pairs done before a kill unchanged, and equal an
# uninterrupted run's (training is deterministic: fixed seeds, one thread per rank).
# Also: one rank (pairs trained inline), --part I/N with merge, and an existing output
# from another config refused.
source "$(dirname "$0")/lib/common.bash"
seed=${LAMARCK_TEST_SEED:-$RANDOM}
echo "kill moments from seed $seed"
RANDOM=$seed

# iris beside digits (imported into the scratch directory when the data dir lacks it)
data=$LAMARCK_DATA
if [ ! -f "$data/iris.h5" ]; then
  data=$work/data
  mkdir -p "$data"
  [ -f "$data/digits.h5" ] || ln -s "$LAMARCK_DATA/digits.h5" "$data/digits.h5"
  src=/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv
  [ -f "$src" ] || src="$LAMARCK_SOURCE_DIR/.deps/sklearn/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv"
  "$LAMARCK" data import iris --source "$src" --dir "$data" >/dev/null || fail "cannot import iris"
fi

# config OUT [SEED]: wide layers and small batches, so that a pair takes a moment
config() {
  cat <<YAML
metadata:
  output: $1
  seed: ${2:-11}
  architectures: 6
  epochs: 3
  dir: $data
  progress_interval: 0.5
  datasets:
    - {dataset: digits}
    - {dataset: iris, validation_fraction: 0.2}
model:
  space: mlp
  architecture: {min_depth: 3, max_depth: 4, widths: [384, 512], skips: add}
training: {batch_size: 2, lr: 0.01, momentum: 0.9}
preprocessing: {scaler: standardize}
YAML
}

gen() { run_mpi "$1" metadata generate "$2" "${@:3}"; }

# Python over files: done flags, and curves compared without the seconds
check() {
  "$PY" - "$@" <<'PYEOF'
import sys, h5py, numpy as np
cmd = sys.argv[1]
metrics = ["train_loss", "val_accuracy", "val_loss", "test_accuracy", "test_loss"]
def load(p):
    f = h5py.File(p, "r")
    return f["done"][()], {m: f["curves/" + m][()] for m in metrics}, f
if cmd == "ndone":
    try: print(int(load(sys.argv[2])[0].sum()))
    except Exception: print("damaged")
elif cmd == "alldone":
    d, c, f = load(sys.argv[2])
    ok = d.shape == (2, 6) and (d == 1).all() and all(np.isfinite(c[m][:, :, 0]).all() for m in metrics)
    print("ok" if ok else "bad: done %s" % d.tolist())
elif cmd == "same":        # same A B: every pair done in A has B's curves
    da, ca, fa = load(sys.argv[2]); db, cb, fb = load(sys.argv[3])
    sel = da == 1
    bad = [m for m in metrics if not np.array_equal(ca[m][sel], cb[m][sel], equal_nan=True)]
    for a in ["genome", "encoding", "params", "flops"]:
        if not np.array_equal(fa["architectures/" + a][()], fb["architectures/" + a][()]): bad.append(a)
    print("same" if not bad else "differ: " + ", ".join(bad))
PYEOF
}

# journal records of a generation with E = 3: a 12-byte header, then 92 bytes each
records() { local s; s=$(stat -c %s "$1" 2>/dev/null || echo 12); echo $(( (s - 12) / 92 )); }

config ref.h5 > ref.yaml
t0=$(date +%s%N)
gen 4 ref.yaml 2> ref.log || { cat ref.log; fail "reference run"; }
echo "uninterrupted run: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$(check alldone ref.h5)" = ok ] || fail "reference: $(check alldone ref.h5)"
[ ! -e ref.h5.journal ] || fail "reference: the journal of a complete generation is left behind"

config killed.h5 > killed.yaml
kills=0 damaged=0
for i in 1 2 3; do
  setsid "$MPIEXEC" -n 4 --oversubscribe "$LAMARCK" metadata generate killed.yaml >> killed.log 2>&1 &
  pid=$!
  # kill once 1 to 3 more pairs than before have been journaled (or when it ends)
  before=$(records killed.h5.journal)
  want=$(( before + 1 + RANDOM % 3 ))
  for _ in $(seq 600); do
    [ "$(records killed.h5.journal)" -ge "$want" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
  done
  if kill -0 $pid 2>/dev/null; then
    kill -KILL -- -$pid 2>/dev/null || true
    kills=$((kills + 1))
  fi
  wait $pid 2>/dev/null || true
  for _ in $(seq 50); do pgrep -f "metadata generate killed.yaml" >/dev/null || break; sleep 0.1; done
  [ -f killed.h5 ] && cp killed.h5 "copy$i.h5"
  echo "kill $i: $(records killed.h5.journal) pairs journaled, $(check ndone "copy$i.h5" 2>/dev/null) in the file"
  # Once, a file damaged as a kill in the middle of an HDF5 write could leave it: the next
  # start must rebuild it from the journal.
  if [ "$i" = 1 ] && [ -f killed.h5.journal ] && [ "$(records killed.h5.journal)" -lt 12 ]; then
    head -c 2000 copy1.h5 > killed.h5
    damaged=1
  fi
done
echo "killed $kills times"
[ "$kills" -ge 1 ] || fail "never killed a generation in flight"
gen 4 killed.yaml 2>> killed.log || { tail -30 killed.log; fail "final run"; }
[ "$(check alldone killed.h5)" = ok ] || fail "killed: $(check alldone killed.h5)"
if [ "$damaged" = 1 ]; then
  grep -q "rebuilding it from killed.h5.journal" killed.log || { tail -20 killed.log; fail "the damaged file was not rebuilt"; }
  [ -f killed.h5.damaged ] || fail "the damaged file was not kept"
  echo "damaged file rebuilt from the journal"
fi

# The last start trained only what was not done: "A/12 ... done, B to train" with A + B =
# 12, and its closing line says it trained B.
start=$(grep -E 'pairs of this part done' killed.log | tail -1)
a=$(sed -E 's/.*: ([0-9]+)\/12 pairs of this part done, ([0-9]+) to train.*/\1/' <<<"$start")
b=$(sed -E 's/.*: ([0-9]+)\/12 pairs of this part done, ([0-9]+) to train.*/\2/' <<<"$start")
[ $((a + b)) -eq 12 ] || fail "last start: $start"
grep -q "12/12 pairs done ($b this run)" killed.log || { tail -5 killed.log; fail "last start trained other than the $b pairs left"; }
# No done pair was trained again: each copy's done pairs are unchanged in the end.
for i in 1 2 3; do
  [ -f "copy$i.h5" ] || continue
  n=$(check ndone "copy$i.h5")
  if [ "$n" = damaged ]; then echo "copy $i: damaged by the kill (rebuilt from the journal)"; continue; fi
  res=$(check same "copy$i.h5" killed.h5)
  [ "$res" = same ] || fail "pairs done before kill $i changed: $res"
done
res=$(check same ref.h5 killed.h5)
[ "$res" = same ] || fail "killed generation differs from the uninterrupted one: $res"

# One rank trains inline; parts 0/2 and 1/2 merged make the same file.
config one.h5 > one.yaml
gen 1 one.yaml 2> one.log || { cat one.log; fail "one rank"; }
[ "$(check same ref.h5 one.h5)" = same ] || fail "one rank: $(check same ref.h5 one.h5)"
config part.h5 > part.yaml
gen 2 part.yaml --part 0/2 2> part0.log || { cat part0.log; fail "part 0/2"; }
gen 1 part.yaml --part 1/2 2> part1.log || { cat part1.log; fail "part 1/2"; }
[ "$(check ndone part.part0-of-2.h5)" = 6 ] || fail "part 0/2 holds $(check ndone part.part0-of-2.h5) pairs"
"$LAMARCK" metadata merge merged.h5 part.part0-of-2.h5 part.part1-of-2.h5 > merge.log ||
  { cat merge.log; fail "merge"; }
[ "$(check alldone merged.h5)" = ok ] || fail "merged: $(check alldone merged.h5)"
[ "$(check same ref.h5 merged.h5)" = same ] || fail "merged: $(check same ref.h5 merged.h5)"

# An output made from another config (seed 12) is refused with exit status 2.
config ref.h5 12 > other.yaml
set +e
gen 2 other.yaml 2> other.log
rc=$?
set -e
[ $rc -eq 2 ] || { cat other.log; fail "another config's output: exit $rc, expected 2"; }
grep -q "generated from a different config" other.log || { cat other.log; fail "message"; }
pass "metadata_kill"
