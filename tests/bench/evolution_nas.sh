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
# at most 100,000 parameters; 5,000 training samples, 2 epochs per model).
SPACE=${SPACE:-mlp}
# ALGOS="random nsga2" leaves aging evolution out (random search always runs).
ALGOS=${ALGOS:-"random evolution nsga2"}
if [ "$SPACE" = chain ]; then
  model="{space: chain, architecture: {min_depth: 2, max_depth: 6, types: [conv, sep_conv, max_pool, identity], kernels: [3, 5], widths: [8, 16, 32], strides: [1, 2], skips: add, stages: 2, stem_filters: 8}, constraints: {max_params: 100000}}"
  subset=5000 epochs=2
else
  model="{space: mlp, architecture: {min_depth: 1, max_depth: 4, widths: [8, 16, 32, 64, 128, 256, 512]}}"
  subset=10000 epochs=3
fi
build=${LAMARCK_BUILD:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/lamarck-evo.XXXXXX")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), seeds $seeds, $T models per run, $SPACE space, population $POP"
for seed in $seeds; do
  for algo in $ALGOS; do
    case $algo in
      random) search="{algorithm: random, trials: $T}" ;;
      evolution) search="{algorithm: evolution, trials: $T, population: $POP, sample_size: 3, survivor: oldest}" ;;
      nsga2) search="{algorithm: nsga2, trials: $T, population: $POP, mode: steady, objective1: val_accuracy, direction1: max, objective2: params, direction2: min}" ;;
    esac
    cat > "$dir/$algo$seed.yaml" <<YAML
experiment: {name: $algo, seed: $seed, output: $dir/$algo$seed, progress_interval: 60, checkpoint_interval: 0}
data: {dataset: fashion-mnist, validation_fraction: 0.1, train_subset: $subset}
training: {epochs: $epochs, batch_size: 128, lr: 0.05, momentum: 0.9, schedule: cosine}
model: $model
search: $search
YAML
    t0=$(date +%s)
    mpiexec -n 3 --oversubscribe "$build/lamarck" run "$dir/$algo$seed.yaml" 2> "$dir/$algo$seed.log"
    echo "seed $seed $algo: $(( $(date +%s) - t0 )) s"
  done
done
/usr/bin/python3 - "$dir" "$ALGOS" $seeds <<'PYEOF'
import os, sys, h5py, numpy as np
d, algos, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
def load(name):
    f = h5py.File(f"{d}/{name}/results.h5", "r")
    acc = np.nan_to_num(f["trials/best_val_accuracy"][()], nan=0.0)
    return acc, f["trials/params"][()].astype(float), f["trials/test_accuracy"][()]
def front(err, par):
    pts = sorted(zip(par, err))
    out, best = [], np.inf
    for p, e in pts:
        if e < best: out.append((p, e)); best = e
    return out
def hv(err, par, ref):
    h, prev_e = 0.0, ref[1]
    for p, e in front(err, par):       # params ascending, error descending
        if p >= ref[0] or e >= ref[1]: continue
        h += (ref[0] - p) * (prev_e - e); prev_e = e
    return h
def eps_plus(fa, fb):
    """Zitzler et al.'s additive epsilon indicator on accuracy: the least accuracy that
    front fa's points need added so that each point of fb has one no larger and no less
    accurate (0 when fa weakly dominates fb)."""
    worst = 0.0
    for p, e in fb:
        gaps = [e2 - e for p2, e2 in fa if p2 <= p]
        worst = max(worst, max(0.0, min(gaps)) if gaps else np.inf)
    return worst
def coverage(fa, fb):
    """The share of front fb's points that some point of fa weakly dominates (Zitzler's C)."""
    return sum(any(p2 <= p and e2 <= e for p2, e2 in fa) for p, e in fb) / len(fb)
wins, rows = 0, []
for s in seeds:
    ra, rp, rt = load(f"random{s}")
    if "evolution" in algos:
        ea, ep, et = load(f"evolution{s}")
        rb, eb = ra.max(), ea.max()
        wins += eb > rb
        print(f"seed {s}: best val accuracy random {rb:.4f} (test {rt[ra.argmax()]:.4f}), "
              f"evolution {eb:.4f} (test {et[ea.argmax()]:.4f})")
        rows.append(("evo", rb, eb))
    if "nsga2" in algos:
        na, np_, nt = load(f"nsga2{s}")
        lo, hi = np.log(0.9 * min(rp.min(), np_.min())), np.log(1.1 * max(rp.max(), np_.max()))
        norm = lambda p: (np.log(p) - lo) / (hi - lo)
        ref = (1.0, 1.0)
        hr, hn = hv(1 - ra, norm(rp), ref), hv(1 - na, norm(np_), ref)
        fr, fn = front(1 - ra, rp), front(1 - na, np_)
        with h5py.File(f"{d}/nsga2{s}/results.h5", "r") as f:
            final = f["pareto/trial"][()] if "pareto" in f else np.arange(len(na))
        ff = front(1 - na[final], np_[final])
        hf = hv(1 - na[final], norm(np_[final]), ref)
        covered = [any(p2 <= p and e2 <= e for p2, e2 in fn) for p, e in fr]
        missed = ", ".join(f"({p:.0f} params, {1 - e:.4f})" for (p, e), c in zip(fr, covered) if not c)
        print(f"seed {s}: hypervolume random {hr:.4f}, nsga2 {hn:.4f} (its final population's first "
              f"front {hf:.4f}; params {np.exp(lo):.0f}..{np.exp(hi):.0f}, log scale); nsga2's front "
              f"covers {sum(covered)}/{len(fr)} of random's front points, random's covers "
              f"{coverage(fr, fn) * len(fn):.0f}/{len(fn)} of nsga2's"
              + (f" (not covered: {missed})" if missed else ""))
        print(f"seed {s}: additive epsilon on accuracy: nsga2 over random {eps_plus(fn, fr):.4f}, "
              f"random over nsga2 {eps_plus(fr, fn):.4f}")
        rows.append(("moo", hr, hn, coverage(fn, fr), coverage(fr, fn)))
evo = [r for r in rows if r[0] == "evo"]
if evo:
    print(f"median best val accuracy: random {np.median([r[1] for r in evo]):.4f}, evolution "
          f"{np.median([r[2] for r in evo]):.4f}; evolution better in {wins}/{len(seeds)} seeds")
moo = [r for r in rows if r[0] == "moo"]
if moo:
    hw = sum(r[2] > r[1] for r in moo)
    print(f"median hypervolume: random {np.median([r[1] for r in moo]):.4f}, nsga2 "
          f"{np.median([r[2] for r in moo]):.4f}; nsga2 larger in {hw}/{len(seeds)} seeds; "
          f"median coverage C(nsga2, random) {np.median([r[3] for r in moo]):.2f}, "
          f"C(random, nsga2) {np.median([r[4] for r in moo]):.2f}")
PYEOF
if [ -n "${EVO_KEEP:-}" ]; then
  mkdir -p "$EVO_KEEP"
  for seed in $seeds; do
    for algo in $ALGOS; do cp "$dir/$algo$seed/results.h5" "$EVO_KEEP/$algo$seed.h5"; done
  done
fi
rm -rf "$dir"
