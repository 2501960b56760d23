#!/usr/bin/python3
"""Plot a lamarck run: every trial's validation accuracy by epoch (the best trial
highlighted, failed ones dotted) and the best validation accuracy found so far
against wall time.

    analysis/plot_curves.py runs/quickstart/results.h5 -o curves.png
"""
import argparse

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="results.h5 of a lamarck run")
    ap.add_argument("-o", "--output", default="curves.png", help="PNG to write")
    a = ap.parse_args()

    with h5py.File(a.results, "r") as f:
        trial = f["curves/trial"][()]
        epoch = f["curves/epoch"][()]
        acc = f["curves/val_accuracy"][()]
        t = f["curves/t"][()]
        status = [text(s) for s in f["trials/status"][()]]
        best_val = f["trials/best_val_accuracy"][()]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ok = [i for i, s in enumerate(status) if s != "failed" and np.isfinite(best_val[i])]
    best = max(ok, key=lambda i: best_val[i]) if ok else -1
    for i in range(len(status)):
        m = trial == i
        if not m.any():
            continue
        o = np.argsort(epoch[m])
        style = dict(lw=0.8, alpha=0.5, color="tab:gray")
        if status[i] == "failed":
            style.update(ls=":", color="tab:red")
        if i == best:
            style = dict(lw=2.2, color="tab:blue", label=f"best: trial {i}")
        ax1.plot(epoch[m][o], acc[m][o], **style)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("validation accuracy")
    ax1.set_title("learning curves")
    if best >= 0:
        ax1.legend(loc="lower right")

    o = np.argsort(t)
    finite = np.where(np.isfinite(acc[o]), acc[o], -np.inf)
    ax2.step(t[o], np.maximum.accumulate(finite), where="post")
    ax2.set_xlabel("wall time (s)")
    ax2.set_ylabel("best validation accuracy so far")
    ax2.set_title("search progress")
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
