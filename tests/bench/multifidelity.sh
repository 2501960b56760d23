#!/usr/bin/env bash
# Multi-fidelity against random search on the Fashion-MNIST MLP space (3 ranks): the
# best validation accuracy found against the epochs spent, for random search (N trials
# of R epochs; R = 27, N = 48 by default: 1296 epochs), Hyperband (eta = 3, passes of
# its brackets until HB_TRIALS configurations: 98 = 2 passes for R = 27, 714 epochs) and
# ASHA (eta = 3, ASHA_TRIALS = 216, about 650 epochs), and how many epochs each needs to
# match random search's final best. "Best" counts the results each searcher received
# (rung ends, trial ends; Hyperband's Algorithm 1 returns the best of these), and, for
# comparison, every epoch's reading (see analysis/plot_best_so_far.py). Hyperband and ASHA get about half random search's
# epochs: the question is whether they match it within a third.
# Hyperband's edge grows with R: per configuration it spends about (s_max + 1) R / n
# epochs (4.1 for R = 9, 7.3 for R = 27) against random search's R, so R = 9 cannot
# reach a third on average, whatever the luck.
# R = 81: SUBSET=5000 HB_TRIALS=143 ASHA_TRIALS=430 bash tests/bench/multifidelity.sh 1 81 24
# (one Hyperband pass, 1581 epochs; random search 24 x 81 = 1944).
# SPACE=wide (the default) searches the ranges of Hyperband's own experiments (Li et al.,
# JMLR 2017, section 4: learning rate 5e-5 to 5 and l2 penalties 5e-5 to 5, log scale),
# where most points train badly; SPACE=narrow searches ranges a practitioner would pick
# for an MLP (lr 1e-3 to 1, weight decay 1e-6 to 1e-2, dropout to 0.6, width 32 to 512),
# where a good share of the points reach the plateau and the best results differ by less
# than the validation set's noise (6,000 samples: standard error 0.0045 at 0.86).
# MF_KEEP=DIR keeps the three runs' results.h5 there and draws the curves
# (analysis/plot_best_so_far.py) as DIR/best_so_far.png.
# Run from the source tree after setup: bash tests/bench/multifidelity.sh [SEED] [R] [N]
set -euo pipefail
seed=${1:-1}
R=${2:-27}
N=${3:-48}
SUBSET=${SUBSET:-20000}
HB_TRIALS=${HB_TRIALS:-98}
ASHA_TRIALS=${ASHA_TRIALS:-216}
build=${LAMARCK_BUILD:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/lamarck-mf.XXXXXX")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), seed $seed, R = $R, N = $N"
if [ "${SPACE:-wide}" = wide ]; then
  space='  lr:           {type: float, low: 5.0e-5, high: 5.0, log: true}
  momentum:     {type: float, low: 0.0, high: 0.99}
  weight_decay: {type: float, low: 5.0e-6, high: 0.5, log: true}
  dropout:      {type: float, low: 0.0, high: 0.9}
  width:        {type: categorical, values: [16, 32, 64, 128, 256, 512, 1024]}'
else
  space='  lr:           {type: float, low: 0.001, high: 1.0, log: true}
  momentum:     {type: float, low: 0.0, high: 0.99}
  weight_decay: {type: float, low: 1.0e-6, high: 1.0e-2, log: true}
  dropout:      {type: float, low: 0.0, high: 0.6}
  width:        {type: categorical, values: [32, 64, 128, 256, 512]}'
fi
echo "space: ${SPACE:-wide}"
for algo in random hyperband asha; do
  case $algo in
    random) search="{algorithm: random, trials: $N}" ;;
    hyperband) search="{algorithm: hyperband, eta: 3, trials: $HB_TRIALS}" ;;
    asha) search="{algorithm: asha, eta: 3, min_epochs: 1, trials: $ASHA_TRIALS}" ;;
  esac
  cat > "$dir/$algo.yaml" <<YAML
experiment: {name: $algo, seed: $seed, output: $dir/$algo, progress_interval: 60, checkpoint_interval: 0}
data: {dataset: fashion-mnist, validation_fraction: 0.1, train_subset: $SUBSET}
training: {epochs: $R, batch_size: 128, schedule: cosine}
model: {type: mlp, depth: 2}
search: $search
space:
$space
YAML
  t0=$(date +%s)
  mpiexec -n 3 --oversubscribe "$build/lamarck" run "$dir/$algo.yaml" 2> "$dir/$algo.log"
  echo "$algo: $(( $(date +%s) - t0 )) s"
done
/usr/bin/python3 - "$dir" "$(pwd)/analysis" <<'PYEOF'
import sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from plot_best_so_far import best_so_far
d = sys.argv[1]
for values, what in (("reports", "results the searchers received (rung ends and trial ends)"),
                     ("epochs", "every epoch's reading")):
    curves = {a: best_so_far(f"{d}/{a}/results.h5", values) for a in ("random", "hyperband", "asha")}
    target = curves["random"][-1]
    print(f"-- best validation accuracy over {what}")
    print(f"random search: best {target:.4f} after {len(curves['random'])} epochs")
    for algo in ("hyperband", "asha"):
        c = curves[algo]
        hit = np.nonzero(c >= target)[0]
        spent = hit[0] + 1 if len(hit) else None
        frac = f"{spent / len(curves['random']):.2f} of random's epochs" if spent else "never within its budget"
        print(f"{algo}: best {c[-1]:.4f} after {len(c)} epochs; reaches {target:.4f} after {spent} epochs ({frac})")
    for algo, c in curves.items():
        marks = [c[min(k, len(c)) - 1] for k in (25, 50, 100, 200, 300, 432, 650, 1000, 1296, 1944) if k <= len(c)]
        print(f"  {algo:9s} best after 25/50/100/200/300/432/650/1000/1296/1944 epochs: " + " ".join(f"{m:.4f}" for m in marks))
PYEOF
if [ -n "${MF_KEEP:-}" ]; then
  mkdir -p "$MF_KEEP"
  for algo in random hyperband asha; do cp "$dir/$algo/results.h5" "$MF_KEEP/$algo.h5"; done
  /usr/bin/python3 analysis/plot_best_so_far.py "$MF_KEEP/random.h5" "$MF_KEEP/hyperband.h5" \
    "$MF_KEEP/asha.h5" --label random --label hyperband --label asha \
    -o "$MF_KEEP/best_so_far.png" --csv "$MF_KEEP/best_so_far.csv"
fi
rm -rf "$dir"
