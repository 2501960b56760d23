#!/usr/bin/env python3
"""The figures of tests/bench/evolution_nas.sh from its results files (kept with EVO_KEEP):
per seed, aging evolution's best validation accuracy against random search's with the same
number of trained models; NSGA-II's front of (validation error, parameters) against random
search's: hypervolumes on normalized log parameters, Zitzler's coverage C both ways (a
front dominates another when it covers all of its points) and the additive epsilon
indicator on accuracy; then the medians over seeds."""
import argparse, h5py, numpy as np
ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("dir", help="folder of results files named ALGO SEED.h5 (random1.h5, nsga21.h5, ...)")
ap.add_argument("--algos", default="random evolution nsga2", help="the algorithms run")
ap.add_argument("--seeds", nargs="+", default=["1", "2", "3"])
ap.add_argument("--baseline", help="folder of the random search files (default: dir)")
args = ap.parse_args()
d, algos, seeds = args.dir, args.algos.split(), args.seeds
def load(name):
    f = h5py.File(f"{args.baseline if args.baseline and name.startswith('random') else d}/{name}.h5", "r")
    acc = f["trials/best_val_accuracy"][()]
    par = f["trials/params"][()].astype(float)
    # A failed trial (diverged, or its network never built) counts in the budget but has
    # no point: accuracy 0 at the largest size, which no front keeps.
    bad = ~np.isfinite(acc) | (par <= 0)
    par[bad] = par[~bad].max()
    return np.where(bad, 0.0, acc), par, f["trials/test_accuracy"][()]
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
        with h5py.File(f"{d}/nsga2{s}.h5", "r") as f:
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
