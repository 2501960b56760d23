#!/usr/bin/env bash
# Multi-fidelity against random search on the Fashion-MNIST MLP space (3 ranks), per
# seed: the best validation accuracy found against the epochs spent, for random search
# (N trials of R epochs), Hyperband (eta = 3, passes of its brackets until HB_TRIALS
# configurations) and ASHA (eta = 3, r_min = 1 epoch, ASHA_TRIALS configurations), and
# how many epochs Hyperband and ASHA need to reach random search's final best, as a
# fraction of random search's epochs (the question: at most a third?). Then the median
# over the seeds, and the same on the curves averaged over the seeds
# (tests/bench/multifidelity_report.py).
#
# "Best" counts the results each searcher received at a rung's or a trial's end
# (Hyperband's Algorithm 1 returns the best of these), and, for comparison, every
# epoch's reading (see analysis/plot_best_so_far.py).
#
# The default is R = 81 on 5,000 training samples, N = 24 (1,944 epochs), one pass of
# Hyperband's five brackets (HB_TRIALS = 143, 1,581 epochs) and ASHA_TRIALS = 430
# (about 2,000 epochs). Hyperband's edge grows with R: per configuration it spends about
# (s_max + 1) R / n epochs (4.1 for R = 9, 7.3 for R = 27, 11 for R = 81) against
# random search's R. For R = 27: SUBSET=20000 HB_TRIALS=98 ASHA_TRIALS=216 ... 27 48.
#
# SPACE=wide (the default) searches the ranges of Hyperband's own experiments (Li et al.,
# JMLR 2017, section 4: learning rate 5e-5 to 5 and l2 penalties 5e-5 to 5, log scale),
# where most points train badly; SPACE=narrow searches ranges a practitioner would pick
# for an MLP (lr 1e-3 to 1, weight decay 1e-6 to 1e-2, dropout to 0.6, width 32 to 512),
# where a good share of the points reach the plateau and the best results differ by less
# than the validation set's noise (6,000 samples: standard error 0.0045 at 0.86).
#
# MF_KEEP=DIR keeps each seed's three results.h5 in DIR/sSEED/, with the curves drawn
# (analysis/plot_best_so_far.py) as DIR/sSEED/best_so_far.png and the seeds' mean as
# DIR/mean.png.
# Run from the source tree after setup:
#   bash tests/bench/multifidelity.sh [SEEDS] [R] [N]      (SEEDS: "1 2 3" by default)
set -euo pipefail
seeds=${1:-"1 2 3"}
R=${2:-81}
N=${3:-24}
SUBSET=${SUBSET:-5000}
HB_TRIALS=${HB_TRIALS:-143}
ASHA_TRIALS=${ASHA_TRIALS:-430}
build=${LAMARCK_BUILD:-build}
src=$(pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/lamarck-mf.XXXXXX")
keep=${MF_KEEP:-$dir/keep}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), seeds $seeds, R = $R, N = $N," \
  "space ${SPACE:-wide}, $SUBSET training samples"
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
runs=()
for seed in $seeds; do
  out="$keep/s$seed"
  mkdir -p "$out"
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
    echo "seed $seed $algo: $(( $(date +%s) - t0 )) s"
    cp "$dir/$algo/results.h5" "$out/$algo.h5"
    rm -rf "${dir:?}/$algo"
  done
  /usr/bin/python3 "$src/analysis/plot_best_so_far.py" "$out/random.h5" "$out/hyperband.h5" \
    "$out/asha.h5" --label random --label hyperband --label asha \
    -o "$out/best_so_far.png" --csv "$out/best_so_far.csv" > /dev/null
  runs+=("$out")
done
for values in reports epochs; do
  echo "-- best over $([ $values = reports ] && echo "the results received (rung and trial ends)" || echo "every epoch's reading")"
  /usr/bin/python3 "$src/tests/bench/multifidelity_report.py" --values $values "${runs[@]}" \
    $([ $values = reports ] && echo "-o $keep/mean.png")
done
rm -rf "$dir"
