#!/usr/bin/env bash
# Architecture search on Fashion-MNIST (reduced: 10,000 training samples, 3 epochs per
# model) over the MLP family (1-4 dense layers of 8-512 units, identity layers), 3 ranks:
#  1. aging evolution (Real et al. 2019; population 10, tournament 3, oldest leaves)
#     against random search with the same number of trained models (T, 60 by default), per seed;
#  2. NSGA-II (accuracy max, parameters min; population 10) against random search: the
#     hypervolume of each run's front of (validation error, normalized log parameters:
#     (log p - log p_lo) / (log p_hi - log p_lo) with p_lo, p_hi 0.9 x the smallest and
#     1.1 x the largest count either run trained) with reference point (1, 1).
#     Also Zitzler's coverage C both ways and the additive epsilon indicator on
#     accuracy both ways (0 for a front that weakly dominates the other).
# EVO_KEEP=DIR keeps every run's results.h5 there (random1.h5, nsga21.h5, ...: algorithm and seed).
# Run from the source tree after setup: bash tests/bench/evolution_nas.sh [SEEDS] [T]
set -euo pipefail
seeds=${1:-"1 2 3 4 5"}
T=${2:-60}
POP=${POP:-10}
# SPACE=chain: a convolutional chain space instead (stem 8, 2 stages, 2-6 layers of conv,
# separable conv, max pool or identity, kernels 3/5, widths 8-32, strides 1/2, add skips,
# at most 100,000 parameters; 5,000 training samples, 2 epochs per model in minibatches
# of 32, so that the smallest networks get 300 steps rather than 80 and their accuracy
# depends less on their initialization).
SPACE=${SPACE:-mlp}
# ALGOS="random nsga2" leaves aging evolution out; ALGOS=nsga2 EVO_BASELINE=DIR compares
# against the random searches kept in DIR (by EVO_KEEP) instead of running them again.
ALGOS=${ALGOS:-"random evolution nsga2"}
# NSGA2_OPTS="log_scale: false, ...": more of NSGA-II's options; "inheritance: lamarckian,
# inherit_epochs: 2, inherit_prob: 0.2" makes a fifth of its children Net2Net morphs that
# start from a member's weights; ", inherit_shrink: true" adds the morphs that shrink one.
# The front of docs/bench/nsga2_vs_random_chain_t400_seed1.png: SPACE=chain POP=40
# ALGOS="random nsga2" NSGA2_OPTS="inheritance: lamarckian, inherit_epochs: 2,
# inherit_shrink: true" bash tests/bench/evolution_nas.sh "1 2 3" 400
# BATCH, SUBSET, EPOCHS: minibatch size, training samples, epochs per model.
NSGA2_OPTS=${NSGA2_OPTS:+, $NSGA2_OPTS}
if [ "$SPACE" = chain ]; then
  model="{space: chain, architecture: {min_depth: 2, max_depth: 6, types: [conv, sep_conv, max_pool, identity], kernels: [3, 5], widths: [8, 16, 32], strides: [1, 2], skips: add, stages: 2, stem_filters: 8}, constraints: {max_params: 100000}}"
  subset=${SUBSET:-5000} epochs=${EPOCHS:-2} batch=${BATCH:-32}
else
  model="{space: mlp, architecture: {min_depth: 1, max_depth: 4, widths: [8, 16, 32, 64, 128, 256, 512]}}"
  subset=${SUBSET:-10000} epochs=${EPOCHS:-3} batch=${BATCH:-128}
fi
build=${LAMARCK_BUILD:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/lamarck-evo.XXXXXX")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), seeds $seeds, $T models per run, $SPACE space, population $POP, $subset training samples, $epochs epochs, batch $batch${NSGA2_OPTS:+, nsga2 options$NSGA2_OPTS}"
for seed in $seeds; do
  for algo in $ALGOS; do
    case $algo in
      random) search="{algorithm: random, trials: $T}" ;;
      evolution) search="{algorithm: evolution, trials: $T, population: $POP, sample_size: 3, survivor: oldest}" ;;
      nsga2) search="{algorithm: nsga2, trials: $T, population: $POP, mode: steady, objective1: val_accuracy, direction1: max, objective2: params, direction2: min$NSGA2_OPTS}" ;;
    esac
    cat > "$dir/$algo$seed.yaml" <<YAML
experiment: {name: $algo, seed: $seed, output: $dir/$algo$seed, progress_interval: 60, checkpoint_interval: 0}
data: {dataset: fashion-mnist, validation_fraction: 0.1, train_subset: $subset}
training: {epochs: $epochs, batch_size: $batch, lr: 0.05, momentum: 0.9, schedule: cosine}
model: $model
search: $search
YAML
    t0=$(date +%s)
    mpiexec -n 3 --oversubscribe "$build/lamarck" run "$dir/$algo$seed.yaml" 2> "$dir/$algo$seed.log"
    echo "seed $seed $algo: $(( $(date +%s) - t0 )) s"
  done
done
for seed in $seeds; do
  for algo in $ALGOS; do cp "$dir/$algo$seed/results.h5" "$dir/$algo$seed.h5"; done
done
if [ -n "${EVO_KEEP:-}" ]; then
  mkdir -p "$EVO_KEEP"
  for seed in $seeds; do
    for algo in $ALGOS; do cp "$dir/$algo$seed.h5" "$EVO_KEEP/"; done
  done
fi
/usr/bin/python3 "$(dirname "$0")/evolution_nas_report.py" "$dir" --algos "$ALGOS" --seeds $seeds ${EVO_BASELINE:+--baseline "$EVO_BASELINE"}
rm -rf "$dir"
