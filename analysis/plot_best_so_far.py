#!/usr/bin/python3
"""Plot the best validation accuracy found so far against the epochs spent, for one or
more runs on one axis (e.g. random search, Hyperband and ASHA on the same space).

    analysis/plot_best_so_far.py runs/random/results.h5 runs/hb/results.h5 -o best.png
    analysis/plot_best_so_far.py --label random --label hyperband A.h5 B.h5 -o best.png

Epochs are counted in the order they were trained (the /curves rows sorted by their
time t), every epoch of every trial counted once, so the x axis is the compute spent.
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


def best_so_far(path):
    with h5py.File(path, "r") as f:
        if "curves" not in f or "val_accuracy" not in f["curves"]:
            sys.exit(f"{path}: no /curves/val_accuracy: not a lamarck results file")
        curves = f["curves"]
        order = np.argsort(curves["t"][()], kind="stable")
        acc = np.nan_to_num(curves["val_accuracy"][()][order], nan=0.0)
    if len(acc) == 0:
        sys.exit(f"{path}: no epoch recorded yet")
    return np.maximum.accumulate(acc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+", help="results.h5 files")
    ap.add_argument("--label", action="append", help="one per file (default: the run's folder)")
    ap.add_argument("-o", "--output", default="best_so_far.png")
    ap.add_argument("--csv", help="also write epoch,<label>... columns here")
    a = ap.parse_args()
    labels = a.label or [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in a.results]
    if len(labels) != len(a.results):
        sys.exit(f"{len(labels)} labels for {len(a.results)} files")
    curves = [best_so_far(p) for p in a.results]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, c in zip(labels, curves):
        ax.step(np.arange(1, len(c) + 1), c, where="post", label=f"{label} (best {c[-1]:.4f})")
    target = curves[0][-1]
    ax.axhline(target, color="grey", ls="--", lw=0.8)
    n0 = len(curves[0])
    ax.axvline(n0 / 3, color="grey", ls=":", lw=0.8)
    ax.text(n0 / 3, ax.get_ylim()[0], " 1/3 of the first run's epochs", fontsize=8, va="bottom")
    lo = min(np.percentile(c, 10) for c in curves)
    ax.set_ylim(max(lo, 0), min(1.0, max(c[-1] for c in curves) + 0.01))
    ax.set_xlabel("epochs trained (all trials)")
    ax.set_ylabel("best validation accuracy so far")
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
