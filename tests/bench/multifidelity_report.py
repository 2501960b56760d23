#!/usr/bin/python3
"""Summarizes multi-fidelity benchmark runs: for each seed folder (random.h5,
hyperband.h5, asha.h5 from tests/bench/multifidelity.sh) the epochs Hyperband and ASHA
need to reach random search's final best, as a fraction of random search's epochs; then
the same on the curves averaged over the seeds, as Hyperband's paper plots them (Li et
al., JMLR 2017, section 4: the average over trials of the best result so far).

    tests/bench/multifidelity_report.py DIR1 DIR2 DIR3 [-o mean.png]

"Best" is over the results each searcher received (--values reports: rung ends and
trial ends), or over every epoch's reading (--values epochs); see
analysis/plot_best_so_far.py. After its last epoch a run's curve stays at its best.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "analysis"))
from plot_best_so_far import best_so_far  # noqa: E402

ALGOS = ("random", "hyperband", "asha")


def reach(curve, target):
    """Epochs spent when curve first reaches target, or None."""
    hit = np.nonzero(curve >= target)[0]
    return int(hit[0]) + 1 if len(hit) else None


def extend(c, n):
    return np.concatenate([c, np.full(n - len(c), c[-1])]) if len(c) < n else c[:n]


def frac_text(spent, budget):
    return f"{spent / budget:.2f}" if spent else "never"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", help="one folder per seed")
    ap.add_argument("--values", choices=("reports", "epochs"), default="reports")
    ap.add_argument("-o", "--output", help="draw the averaged curves here (PNG)")
    a = ap.parse_args()
    runs = [{al: best_so_far(os.path.join(d, f"{al}.h5"), a.values) for al in ALGOS} for d in a.dirs]
    fracs = {al: [] for al in ALGOS[1:]}
    for d, r in zip(a.dirs, runs):
        budget, target = len(r["random"]), r["random"][-1]
        cells = []
        for al in ALGOS[1:]:
            spent = reach(r[al], target)
            fracs[al].append(spent / budget if spent else np.inf)
            cells.append(f"{al} {frac_text(spent, budget)} (best {r[al][-1]:.4f})")
        print(f"{os.path.basename(os.path.normpath(d))}: random best {target:.4f} after {budget} "
              f"epochs; reached after a fraction of them by " + ", ".join(cells))
    for al in ALGOS[1:]:
        m = float(np.median(fracs[al]))
        print(f"median over {len(runs)} seeds, {al}: "
              + (f"{m:.2f} of random search's epochs" if np.isfinite(m) else "never"))
    # Smaller budgets from the same runs: random search stopped after a share of its
    # epochs is a random search with that budget (its trials are independent draws).
    print("random search stopped at a share of its epochs (median over seeds of the "
          "fraction of that budget Hyperband and ASHA need):")
    for share in (0.5, 0.75, 1.0):
        med = {}
        for al in ALGOS[1:]:
            fr = []
            for r in runs:
                budget = int(round(share * len(r["random"])))
                spent = reach(r[al], r["random"][budget - 1])
                fr.append(spent / budget if spent else np.inf)
            med[al] = float(np.median(fr))
        print(f"  {share:.2f}: " + ", ".join(
            f"{al} {med[al]:.2f}" if np.isfinite(med[al]) else f"{al} never" for al in med))
    n = max(len(c) for r in runs for c in r.values())
    mean = {al: np.mean([extend(r[al], n) for r in runs], axis=0) for al in ALGOS}
    budget = int(round(np.mean([len(r["random"]) for r in runs])))
    target = mean["random"][n - 1]
    print(f"averaged curves: random search's mean best {target:.4f} "
          f"(mean budget {budget} epochs)")
    for al in ALGOS[1:]:
        spent = reach(mean[al], target)
        at = mean[al][min(budget // 3, n) - 1]
        print(f"  {al}: reaches it after {spent} epochs ({frac_text(spent, budget)} of random's); "
              f"its mean best after a third ({budget // 3} epochs) {at:.4f}")
    if a.output:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for al in ALGOS:
            ax.plot(np.arange(1, n + 1), mean[al], label=al)
        ax.axhline(target, color="grey", ls="--", lw=0.8)
        ax.axvline(budget / 3, color="grey", ls=":", lw=0.8)
        ax.set_ylim(max(0.0, min(np.percentile(mean[al], 10) for al in ALGOS)),
                    min(1.0, max(mean[al][-1] for al in ALGOS) + 0.01))
        ax.text(budget / 3, ax.get_ylim()[0], " 1/3 of random search's epochs", fontsize=8,
                va="bottom")
        ax.set_xlabel("epochs trained (all trials)")
        what = "rung and trial ends" if a.values == "reports" else "any epoch"
        ax.set_ylabel(f"best validation accuracy so far ({what}),\nmean of {len(runs)} seeds")
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(a.output, dpi=120)
        print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
