#!/usr/bin/python3
"""Plot the best validation accuracy found so far against the epochs spent, for one or
more runs on one axis (e.g. random search, Hyperband and ASHA on the same space).

    analysis/plot_best_so_far.py runs/random/results.h5 runs/hb/results.h5 -o best.png
    analysis/plot_best_so_far.py --label random --label hyperband A.h5 B.h5 -o best.png

Epochs are counted in the order they were trained (the /curves rows sorted by their
time t), every epoch of every trial counted once, so the x axis is the compute spent.
The y axis counts the results the searcher was given (--values reports, the default):
the end of every rung a trial trained for (each /promotions row's epoch) and the last
epoch of every trial, as in Hyperband's Algorithm 1, which returns the configuration
with the smallest intermediate loss seen (Li et al., JMLR 2017). --values epochs counts
every epoch's validation accuracy instead: the maximum over thousands of noisy readings
no searcher acted on, which favours whoever trains most epochs near the top.
A dashed line marks the first run's final best; --csv also writes the curves as columns.
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def reported(trial, epoch, promoted):
    """Mask of the /curves rows the searcher received as results: each trial's last epoch
    and every epoch at which it was promoted (a rung's end)."""
    last = {}
    for tr, ep in zip(trial, epoch):
        last[tr] = max(ep, last.get(tr, ep))
    return np.array([ep == last[tr] or (tr, ep) in promoted for tr, ep in zip(trial, epoch)],
                    dtype=bool)


def best_so_far(path, values="reports"):
    """Best validation accuracy so far after each epoch trained, in training order."""
    with h5py.File(path, "r") as f:
        if "curves" not in f or "val_accuracy" not in f["curves"]:
            sys.exit(f"{path}: no /curves/val_accuracy: not a lamarck results file")
        curves = f["curves"]
        order = np.argsort(curves["t"][()], kind="stable")
        acc = np.nan_to_num(curves["val_accuracy"][()][order], nan=0.0)
        trial = curves["trial"][()][order]
        epoch = curves["epoch"][()][order]
        promoted = set()
        if "promotions" in f and "trial" in f["promotions"]:
            promoted = set(zip(f["promotions/trial"][()].tolist(), f["promotions/epoch"][()].tolist()))
    if len(acc) == 0:
        sys.exit(f"{path}: no epoch recorded yet")
    if values == "reports":
        acc = np.where(reported(trial.tolist(), epoch.tolist(), promoted), acc, 0.0)
    return np.maximum.accumulate(acc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", help="results.h5 files")
    ap.add_argument("--label", action="append", help="one per file (default: the run's folder)")
    ap.add_argument("-o", "--output", default="best_so_far.png")
    ap.add_argument("--csv", help="also write epoch,<label>... columns here")
    ap.add_argument("--values", choices=("reports", "epochs"), default="reports",
                    help="results the searcher received (default) or every epoch's reading")
    a = ap.parse_args()
    labels = a.label or [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in a.results]
    if len(labels) != len(a.results):
        sys.exit(f"{len(labels)} labels for {len(a.results)} files")
    curves = [best_so_far(p, a.values) for p in a.results]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, c in zip(labels, curves):
        ax.step(np.arange(1, len(c) + 1), c, where="post", label=f"{label} (best {c[-1]:.4f})")
    target = curves[0][-1]
    ax.axhline(target, color="grey", ls="--", lw=0.8)
    n0 = len(curves[0])
    ax.axvline(n0 / 3, color="grey", ls=":", lw=0.8)
    lo = min(np.percentile(c, 10) for c in curves)
    ax.set_ylim(max(lo, 0), min(1.0, max(c[-1] for c in curves) + 0.01))
    ax.text(n0 / 3, ax.get_ylim()[0], " 1/3 of the first run's epochs", fontsize=8, va="bottom")
    ax.set_xlabel("epochs trained (all trials)")
    ax.set_ylabel("best validation accuracy so far"
                  + (" (reported results)" if a.values == "reports" else " (any epoch)"))
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)
    print(f"wrote {a.output}")
    if a.csv:
        n = max(len(c) for c in curves)
        with open(a.csv, "w") as out:
            out.write("epoch," + ",".join(labels) + "\n")
            for i in range(n):
                cells = [f"{c[i]:.5f}" if i < len(c) else "" for c in curves]
                out.write(f"{i + 1}," + ",".join(cells) + "\n")
        print(f"wrote {a.csv}")


if __name__ == "__main__":
    main()
