#!/usr/bin/env bash
# PBT against random search with equal compute on Fashion-MNIST (MLP, a 20,000-image
# subset): a population of 8 for E epochs each against the best of 8 independently trained
# random configurations of E epochs each, over 5 seeds, 3 ranks. Prints both curves (best
# validation accuracy against epochs spent) and who wins each seed.
# Run from the source tree after setup: bash tests/bench/pbt.sh [EPOCHS]
set -euo pipefail
E=${1:-8}
build=${LAMARCK_BUILD:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/lamarck-pbt.XXXXXX")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $E epochs per member"
for seed in 1 2 3 4 5; do
  for algo in pbt random; do
    case $algo in
      pbt) search="{algorithm: pbt, population: 8, ready_epochs: 2, mode: sync}" ;;
      random) search="{algorithm: random, trials: 8}" ;;
    esac
    cat > "$dir/$algo$seed.yaml" <<YAML
experiment: {name: $algo, seed: $seed, output: $dir/$algo$seed, progress_interval: 600, checkpoint_interval: 0}
data: {dataset: fashion-mnist, validation_fraction: 0.1, train_subset: 20000}
training: {epochs: $E, batch_size: 128, schedule: constant}
model: {type: mlp, depth: 2, width: 128}
search: $search
space:
  lr:           {type: float, low: 0.0005, high: 0.5, log: true}
  momentum:     {type: float, low: 0.0, high: 0.95}
  weight_decay: {type: float, low: 1.0e-6, high: 1.0e-2, log: true}
  dropout:      {type: float, low: 0.0, high: 0.5}
YAML
    mpiexec -n 3 --oversubscribe "$build/lamarck" run "$dir/$algo$seed.yaml" 2> "$dir/$algo$seed.log"
  done
done
/usr/bin/python3 - "$dir" <<'PYEOF'
import sys, h5py, numpy as np
d = sys.argv[1]
def curve(path):
    f = h5py.File(path, "r")
    o = np.argsort(f["curves/t"][()], kind="stable")
    return np.maximum.accumulate(np.nan_to_num(f["curves/val_accuracy"][()][o], nan=0.0))
wins = 0
for seed in range(1, 6):
    p, r = curve(f"{d}/pbt{seed}/results.h5"), curve(f"{d}/random{seed}/results.h5")
    wins += p[-1] > r[-1]
    pts = lambda c: " ".join(f"{c[min(k, len(c)) - 1]:.4f}" for k in (8, 16, 32, 48, 64))
    print(f"seed {seed}: PBT best {p[-1]:.4f} ({len(p)} epochs), random best {r[-1]:.4f} ({len(r)} epochs)"
          f" -> {'PBT' if p[-1] > r[-1] else 'random'}")
    print(f"   best after 8/16/32/48/64 epochs: PBT {pts(p)} | random {pts(r)}")
print(f"PBT beats random on {wins} of 5 seeds")
PYEOF
rm -rf "$dir"
