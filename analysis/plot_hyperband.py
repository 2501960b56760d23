#!/usr/bin/python3
"""Plot the brackets of a multi-fidelity run (hyperband, sha, asha): for each bracket,
every configuration's validation accuracy against the epochs it was given, with the
configurations promoted out of each rung highlighted at the rung where they were
promoted, and the ones that reached the top rung drawn in full.

    analysis/plot_hyperband.py runs/hb/results.h5 -o brackets.png

Reads /trials (bracket, rung, status), /curves and /promotions of results.h5; a run
still in progress is fine. Brackets beyond --max-brackets (default 12) are left out,
with a note.
"""
import argparse
import math
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def column(group, name, default=None):
    if group is None or name not in group:
        return default
    return group[name][()]


def load(path):
    with h5py.File(path, "r") as f:
        trials = f.get("trials")
        if trials is None or "bracket" not in trials:
            sys.exit(f"{path}: no /trials/bracket: not a results file of a multi-fidelity run "
                     "(or written by an older lamarck)")
        curves = f.get("curves")
        promo = f.get("promotions")
        d = {
            "bracket": np.asarray(trials["bracket"][()], dtype=int),
            "rung": np.asarray(column(trials, "rung", np.full(len(trials["bracket"]), -1)),
                               dtype=int),
            "status": [text(s) for s in column(trials, "status", [])],
            "c_trial": np.asarray(column(curves, "trial", []), dtype=int),
            "c_epoch": np.asarray(column(curves, "epoch", []), dtype=int),
            "c_acc": np.asarray(column(curves, "val_accuracy", []), dtype=float),
            "p_trial": np.asarray(column(promo, "trial", []), dtype=int),
            "p_bracket": np.asarray(column(promo, "bracket", []), dtype=int),
            "p_from": np.asarray(column(promo, "from_rung", []), dtype=int),
            "p_to": np.asarray(column(promo, "to_rung", []), dtype=int),
            "p_epoch": np.asarray(column(promo, "epoch", []), dtype=int),
        }
    n = len(d["bracket"])
    if len(d["rung"]) != n or (d["status"] and len(d["status"]) != n):
        sys.exit(f"{path}: /trials columns have different lengths")
    return d


def curves_by_trial(d):
    out = {}
    order = np.lexsort((d["c_epoch"], d["c_trial"]))
    for k in order:
        out.setdefault(int(d["c_trial"][k]), ([], []))
        e, a = out[int(d["c_trial"][k])]
        e.append(int(d["c_epoch"][k]))
        a.append(float(d["c_acc"][k]))
    return out


def value_at(curve, epoch):
    """Validation accuracy at an epoch (NaN when the trial did not report it)."""
    if curve is None:
        return math.nan
    e, a = curve
    for x, y in zip(e, a):
        if x == epoch:
            return y
    return math.nan


def draw_bracket(ax, b, d, curves, cmap):
    ids = np.flatnonzero(d["bracket"] == b)
    sel = d["p_bracket"] == b
    promos = list(zip(d["p_trial"][sel], d["p_from"][sel], d["p_to"][sel], d["p_epoch"][sel]))
    # Rung resources: where promotions left a rung, and the most epochs seen per rung.
    rung_epochs = {}
    for _, fr, _, ep in promos:
        rung_epochs[int(fr)] = int(ep)
    for i in ids:
        c = curves.get(int(i))
        if c and d["rung"][i] >= 0 and int(d["rung"][i]) not in rung_epochs:
            rung_epochs[int(d["rung"][i])] = max(rung_epochs.get(int(d["rung"][i]), 0), c[0][-1])
    top = max(d["rung"][ids]) if len(ids) else 0
    labelled = set()
    for i in ids:
        c = curves.get(int(i))
        if not c:
            continue
        status = d["status"][i] if d["status"] else ""
        if d["rung"][i] == top and status == "done":
            kind, style = "trained to the top rung", dict(lw=1.6, color=cmap(1.0), alpha=0.9,
                                                         zorder=3)
        elif status == "failed":
            kind, style = "failed", dict(lw=0.8, ls=":", color="tab:red", zorder=1)
        else:
            kind, style = None, dict(lw=0.6, color="0.6", alpha=0.5, zorder=1)
        if kind and kind not in labelled:
            style["label"] = kind
            labelled.add(kind)
        ax.plot(c[0], c[1], **style)
    # Every configuration's value at the end of each rung it completed; promoted ones
    # coloured by the rung they moved to.
    promoted = {(int(t), int(fr)) for t, fr, _, _ in promos}
    n_rungs = max(rung_epochs) + 1 if rung_epochs else 1
    for r, ep in sorted(rung_epochs.items()):
        xs, ys, px, py = [], [], [], []
        for i in ids:
            if d["rung"][i] < r:
                continue
            v = value_at(curves.get(int(i)), ep)
            if math.isnan(v):
                continue
            if (int(i), r) in promoted:
                px.append(ep)
                py.append(v)
            else:
                xs.append(ep)
                ys.append(v)
        ax.scatter(xs, ys, s=10, color="0.45", marker="x", lw=0.8, zorder=2)
        if px:
            ax.scatter(px, py, s=22, color=cmap((r + 1) / max(n_rungs, 1)), edgecolor="black",
                       lw=0.4, zorder=4, label=f"promoted from rung {r} ({len(px)})")
    rungs = ", ".join(f"{ep}" for _, ep in sorted(rung_epochs.items()))
    ax.set_title(f"bracket {b}: {len(ids)} configurations; rungs at {rungs} epochs", fontsize=9)
    if rung_epochs and max(rung_epochs.values()) / max(1, min(rung_epochs.values())) >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("epochs (resource)")
    ax.set_ylabel("validation accuracy")
    if promos or labelled:
        ax.legend(fontsize=7, loc="lower right")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="results.h5 of a hyperband, sha or asha run")
    ap.add_argument("-o", "--output", default="brackets.png", help="PNG to write")
    ap.add_argument("--max-brackets", type=int, default=12, help="brackets drawn at most")
    a = ap.parse_args()

    d = load(a.results)
    brackets = sorted(int(b) for b in set(d["bracket"].tolist()) if b >= 0)
    if not brackets:
        sys.exit(f"{a.results}: no trial belongs to a bracket (the searcher has no rungs)")
    left_out = len(brackets) - a.max_brackets
    brackets = brackets[: a.max_brackets]
    curves = curves_by_trial(d)
    cols = min(3, len(brackets))
    rows = math.ceil(len(brackets) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, b in zip(axes.flat, brackets):
        draw_bracket(ax, b, d, curves, cmap)
    for ax in list(axes.flat)[len(brackets):]:
        ax.axis("off")
    note = f" ({left_out} more brackets not drawn)" if left_out > 0 else ""
    fig.suptitle(f"{a.results}: {len(d['bracket'])} trials, {len(d['p_trial'])} promotions{note}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(a.output, dpi=110)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
