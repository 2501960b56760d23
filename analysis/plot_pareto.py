#!/usr/bin/python3
"""Plot the trade-off between two metrics of a lamarck run: every finished trial, the
Pareto front highlighted (and joined as a staircase), the members of the last
population snapshot ringed when the run kept one (nsga2).

    analysis/plot_pareto.py runs/nsga2/results.h5 -o pareto.png
    analysis/plot_pareto.py results.h5 --x latency --y best_val_accuracy
    analysis/plot_pareto.py nsga2/results.h5 --against random/results.h5 -o fronts.png

Metrics are /trials columns: best_val_accuracy, final_val_accuracy, test_accuracy
(maximized) and params, flops, latency, train_seconds (minimized); --x defaults to
params (log scale), --y to best_val_accuracy. The front is /pareto/trial when the file
has it and the metrics are its (best_val_accuracy and params, or nsga2's configured
objectives); otherwise it is computed here for the two metrics shown. --against draws
a second run's trials and front (computed here) on the same axes, e.g. random search's.
"""
import argparse
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

MAXIMIZE = {"best_val_accuracy", "final_val_accuracy", "test_accuracy"}
METRICS = sorted(MAXIMIZE | {"params", "flops", "latency", "train_seconds"})


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def front_of(x, y, x_max, y_max):
    """Indices of the points no other point dominates (each metric's direction)."""
    cx = -x if x_max else x
    cy = -y if y_max else y
    keep = []
    for i in range(len(x)):
        dominated = np.any((cx <= cx[i]) & (cy <= cy[i]) & ((cx < cx[i]) | (cy < cy[i])))
        if not dominated:
            keep.append(i)
    return np.asarray(keep, dtype=int)


def load(path, xname, yname):
    with h5py.File(path, "r") as f:
        trials = f.get("trials")
        if trials is None:
            sys.exit(f"{path}: no /trials: not a lamarck results file")
        for name in (xname, yname):
            if name not in trials:
                sys.exit(f"{path}: no /trials/{name} (written by an older lamarck?)")
        x = np.asarray(trials[xname][()], dtype=float)
        y = np.asarray(trials[yname][()], dtype=float)
        status = [text(s) for s in trials["status"][()]]
        pareto, source = None, ""
        if "pareto" in f and "trial" in f["pareto"]:
            pareto = np.asarray(f["pareto/trial"][()], dtype=int)
            source = text(f["pareto"].attrs.get("source", ""))
        last = None
        pop = f.get("populations")
        if pop is not None and "snapshot" in pop and len(pop["snapshot"]) > 0:
            snap = np.asarray(pop["snapshot"][()], dtype=int)
            last = np.asarray(pop["trial"][()], dtype=int)[snap == snap.max()]
    if not (len(x) == len(y) == len(status)):
        sys.exit(f"{path}: /trials columns have different lengths")
    return x, y, status, pareto, source, last


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="results.h5 of a lamarck run")
    ap.add_argument("-o", "--output", default="pareto.png", help="PNG to write")
    ap.add_argument("--x", default="params", choices=METRICS, help="metric on the x axis")
    ap.add_argument("--y", default="best_val_accuracy", choices=METRICS,
                    help="metric on the y axis")
    ap.add_argument("--linear-x", action="store_true", help="linear x axis (default: log for "
                    "params, flops, latency)")
    ap.add_argument("--against", help="a second results.h5 whose trials and front to draw too")
    ap.add_argument("--label", default="this run", help="legend name of the first run")
    ap.add_argument("--against-label", default="other run", help="legend name of the second")
    a = ap.parse_args()
    x, y, status, pareto, source, last = load(a.results, a.x, a.y)

    finished = np.array([s in ("done", "stopped") for s in status])
    ok = finished & np.isfinite(x) & np.isfinite(y) & ((x > 0) | (a.x in MAXIMIZE))
    idx = np.flatnonzero(ok)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    if a.against:
        ox, oy, ostatus, _, _, _ = load(a.against, a.x, a.y)
        ook = (np.array([s in ("done", "stopped") for s in ostatus]) & np.isfinite(ox) &
               np.isfinite(oy) & ((ox > 0) | (a.x in MAXIMIZE)))
        oidx = np.flatnonzero(ook)
        if oidx.size:
            of = oidx[front_of(ox[oidx], oy[oidx], a.x in MAXIMIZE, a.y in MAXIMIZE)]
            o = np.argsort(ox[of])
            ax.scatter(ox[oidx], oy[oidx], s=12, color="tab:blue", alpha=0.35, marker="x",
                       label=f"{a.against_label}: {oidx.size} trials")
            ax.scatter(ox[of], oy[of], s=26, color="tab:blue", zorder=3,
                       label=f"{a.against_label}: Pareto front")
            ax.step(ox[of][o], oy[of][o], where="post", color="tab:blue", lw=1, zorder=2)
    if idx.size == 0:
        ax.text(0.5, 0.5, f"no finished trial with {a.x} and {a.y}", ha="center", va="center",
                transform=ax.transAxes)
    else:
        # The file's front when it was made for these metrics; else compute it here.
        default_pair = {a.x, a.y} == {"params", "best_val_accuracy"}
        nsga2_front = pareto is not None and source.startswith("front 0")
        if pareto is not None and (default_pair or nsga2_front):
            front = np.array([i for i in pareto if 0 <= i < len(x) and ok[i]], dtype=int)
            label = "Pareto front (results file)"
        else:
            front = idx[front_of(x[idx], y[idx], a.x in MAXIMIZE, a.y in MAXIMIZE)]
            label = "Pareto front (these two metrics)"
        who = f"{a.label}: " if a.against else ""
        label = who + label
        ax.scatter(x[idx], y[idx], s=14, color="tab:gray", alpha=0.6,
                   label=f"{who}{idx.size} trials")
        if last is not None:
            m = np.array([i for i in last if 0 <= i < len(x) and ok[i]], dtype=int)
            if m.size:
                ax.scatter(x[m], y[m], s=60, facecolors="none", edgecolors="tab:green",
                           label=f"{who}last population")
        if front.size:
            o = np.argsort(x[front])
            ax.scatter(x[front], y[front], s=30, color="tab:red", zorder=3, label=label)
            ax.step(x[front][o], y[front][o], where="post", color="tab:red", lw=1, zorder=2)
    if a.x in ("params", "flops", "latency") and not a.linear_x:
        ax.set_xscale("log")
    arrow = lambda n: f"{n} ({'higher' if n in MAXIMIZE else 'lower'} is better)"
    ax.set_xlabel(arrow(a.x))
    ax.set_ylabel(arrow(a.y))
    ax.set_title("trade-off and Pareto front")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
