#!/usr/bin/python3
"""Plot regret against speed-up for early-stopping rules: one marker per held-out
dataset for each rule, the rule's median over the datasets as a large outlined marker.

    lamarck rank stoppers meta/mlp.h5 --csv stoppers.csv
    analysis/plot_stoppers.py stoppers.csv -o stoppers.png

The CSV has a header and at least the columns dataset, stopper, speedup and regret
(lamarck rank stoppers writes them). Speed-up is the epochs of full training (the rule
"none") over the rule's epochs, regret the best final validation accuracy of all
architectures minus that of the best trial trained to the end: down and to the right is
better. "none" sits at (1, 0) by definition.
"""
import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

MARKERS = {"none": "o", "rank": "*", "curve": "s", "median": "^", "last": "v", "mean": "D"}


def read_rows(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"{path}: cannot read: {e}")
    need = {"dataset", "stopper", "speedup", "regret"}
    if not rows or not need <= set(rows[0]):
        sys.exit(f"{path}: expected a header with {', '.join(sorted(need))} and at least one row")
    out = []
    for i, r in enumerate(rows, start=2):
        try:
            out.append((r["dataset"], r["stopper"], float(r["speedup"]), float(r["regret"])))
        except ValueError:
            sys.exit(f"{path}:{i}: speedup and regret must be numbers")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", help="rows of lamarck rank stoppers --csv")
    ap.add_argument("-o", "--output", default="stoppers.png")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()

    rows = read_rows(a.csv)
    stoppers = list(dict.fromkeys(r[1] for r in rows))
    datasets = list(dict.fromkeys(r[0] for r in rows))
    colors = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    for i, s in enumerate(stoppers):
        pts = np.array([(r[2], r[3]) for r in rows if r[1] == s], dtype=float)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) == 0:
            continue
        m = MARKERS.get(s, "o")
        ax.scatter(pts[:, 0], pts[:, 1], marker=m, s=28, color=colors(i), alpha=0.45)
        med = np.median(pts, axis=0)
        ax.scatter([med[0]], [med[1]], marker=m, s=190, color=colors(i), edgecolors="black",
                   linewidths=1.2, zorder=3,
                   label=f"{s}: median speed-up {med[0]:.2f}, regret {med[1]:.4f}")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(1, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("speed-up (epochs of full training / epochs spent)")
    ax.set_ylabel("regret (final validation accuracy)")
    ax.set_title(a.title or f"early stopping on replayed searches, {len(datasets)} held-out datasets "
                 "(small: one per dataset)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best", markerscale=0.5)
    fig.tight_layout()
    fig.savefig(a.output, dpi=130)
    print(f"wrote {a.output} ({len(stoppers)} rules, {len(datasets)} datasets)")


if __name__ == "__main__":
    main()
