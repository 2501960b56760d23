#!/usr/bin/python3
"""Plot the validation-accuracy learning curves of a learning-curve meta-dataset, one
panel per dataset: every architecture as a thin grey line, a few highlighted.

    analysis/plot_meta_curves.py meta/mlp.h5 -o curves.png
    analysis/plot_meta_curves.py meta/mlp.h5 --metric test_accuracy --highlight 3 -o t.png

The highlighted architectures of each panel are the best, the median and the worst by
final value, and, when --highlight asks for more, the ones evenly spaced in that order
between them. Missing epochs (NaN: not trained, or a diverged run) end a line; the
panel title gives the number of architectures with a complete curve. Layout of the
file: include/lamarck/meta.h.
"""
import argparse
import math
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

METRICS = ("train_loss", "val_accuracy", "val_loss", "test_accuracy", "test_loss", "seconds")


def read_meta(path, metric):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        sys.exit(f"{path}: cannot open: {e}")
    with f:
        if f.attrs.get("format", b"") not in (b"lamarck-meta", "lamarck-meta"):
            sys.exit(f"{path}: not a lamarck meta-dataset (root attribute format)")
        key = f"curves/{metric}"
        if key not in f or "datasets/name" not in f:
            sys.exit(f"{path}: no /{key} or /datasets/name")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["datasets/name"][()]]
        curves = f[key][()].astype(np.float64)  # D x K x E
    if curves.ndim != 3 or curves.shape[0] != len(names):
        sys.exit(f"{path}: /{key} has shape {curves.shape}, D x K x E with D = {len(names)} expected")
    return names, curves


def highlighted(final, n):
    """Indices of the best, median and worst complete curves (n of them, evenly spaced
    by final value)."""
    ok = np.flatnonzero(np.isfinite(final))
    if len(ok) == 0:
        return []
    order = ok[np.argsort(-final[ok], kind="stable")]
    n = min(n, len(order))
    pos = np.unique(np.round(np.linspace(0, len(order) - 1, n)).astype(int))
    return [int(order[p]) for p in pos]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("meta", help="meta-dataset file (lamarck metadata generate)")
    ap.add_argument("-o", "--output", default="meta_curves.png")
    ap.add_argument("--metric", default="val_accuracy", choices=METRICS)
    ap.add_argument("--highlight", type=int, default=3,
                    help="architectures highlighted per panel (default 3: best, median, worst)")
    ap.add_argument("--cols", type=int, default=3, help="panels per row")
    a = ap.parse_args()
    if a.highlight < 0 or a.cols < 1:
        sys.exit("--highlight must be >= 0 and --cols >= 1")

    names, curves = read_meta(a.meta, a.metric)
    D, K, E = curves.shape
    cols = min(a.cols, D)
    rows = math.ceil(D / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False,
                             sharex=True)
    epochs = np.arange(1, E + 1)
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(a.highlight, 1)))
    for d in range(D):
        ax = axes[d // cols][d % cols]
        c = curves[d]
        final = np.where(np.all(np.isfinite(c), axis=1), c[:, -1], np.nan)
        for k in range(K):
            ax.plot(epochs, c[k], color="0.6", lw=0.4, alpha=0.35)
        marked = highlighted(final, a.highlight)
        for i, k in enumerate(marked):
            ax.plot(epochs, c[k], color=colors[i], lw=1.6, label=f"arch {k}: {final[k]:.3f}")
        ax.set_title(f"{names[d]} ({int(np.isfinite(final).sum())}/{K} complete)", fontsize=10)
        ax.grid(alpha=0.3)
        if a.metric.endswith("accuracy") and np.isfinite(c).any():
            # The bulk of the curves, and every highlighted one's final value, in view:
            # the first epochs of slow starters would squash the rest.
            lo = min([np.nanpercentile(c, 2)] + [final[k] for k in marked])
            ax.set_ylim(max(0.0, lo - 0.02), min(1.0, np.nanmax(c) + 0.02))
        if a.highlight:
            ax.legend(fontsize=7, loc="lower right")
        if d % cols == 0:
            ax.set_ylabel(a.metric.replace("_", " "))
        if d // cols == rows - 1:
            ax.set_xlabel("epoch")
    for d in range(D, rows * cols):
        axes[d // cols][d % cols].set_visible(False)
    fig.suptitle(f"{a.meta}: {K} architectures x {E} epochs", fontsize=11)
    fig.tight_layout()
    fig.savefig(a.output, dpi=130)
    print(f"wrote {a.output} ({D} panels)")


if __name__ == "__main__":
    main()
