#!/usr/bin/python3
"""Plot a population-based training run (lamarck's pbt searcher): each member's
validation accuracy over its epochs (or over the run's time), with its exploits
marked, and the hyperparameter schedule of the final best member, reconstructed
through its lineage.

    analysis/plot_pbt.py runs/pbt/results.h5 -o pbt.png [--time]

A member is a chain of trials (/trials/member): at an exploit (/pbt/events) it stops
its trial (prev_trial, at prev_epoch) and continues as a new trial that starts from a
copy of the donor trial's state after `epoch` epochs, with hyperparameters explored
from the donor's. The top panel draws each member's trials in the member's colour; an
exploit is a dotted jump from where the member stopped (x) to where its new trial
starts (o, the donor's accuracy at that epoch). The panels below give the schedule
of the best member at the end (highest final validation accuracy among the trials that
trained the whole budget): following each trial back to its donor gives which trial,
hence which hyperparameters, trained each epoch of its weights' history.

Reads /trials (member, status, epochs, final_val_accuracy, hp/*), /curves and
/pbt/events of results.h5; a run still in progress is fine.
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


def column(group, name, default=None, dtype=None):
    if group is None or name not in group:
        return default
    v = group[name][()]
    return np.asarray(v, dtype=dtype) if dtype else v


def load(path):
    with h5py.File(path, "r") as f:
        trials = f.get("trials")
        if trials is None or "member" not in trials:
            sys.exit(f"{path}: no /trials/member: not a results file of a pbt run "
                     "(or written by an older lamarck)")
        ev = f.get("pbt/events")
        if ev is None:
            sys.exit(f"{path}: no /pbt/events (written by an older lamarck)")
        curves = f.get("curves")
        hp = trials.get("hp")
        names = [text(s) for s in hp.attrs.get("names", [])] if hp is not None else []
        d = {
            "member": np.asarray(trials["member"][()], dtype=int),
            "status": [text(s) for s in column(trials, "status", [])],
            "epochs": column(trials, "epochs", None, int),
            "final": column(trials, "final_val_accuracy", None, float),
            "c_trial": column(curves, "trial", np.zeros(0), int),
            "c_epoch": column(curves, "epoch", np.zeros(0), int),
            "c_acc": column(curves, "val_accuracy", np.zeros(0), float),
            "c_t": column(curves, "t", np.zeros(0), float),
            "e_t": column(ev, "t", np.zeros(0), float),
            "e_epoch": column(ev, "epoch", np.zeros(0), int),
            "e_member": column(ev, "member", np.zeros(0), int),
            "e_trial": column(ev, "trial", np.zeros(0), int),
            "e_donor": column(ev, "donor", np.zeros(0), int),
            "e_prev": column(ev, "prev_trial", np.zeros(0), int),
            "e_prev_epoch": column(ev, "prev_epoch", np.zeros(0), int),
            "hp_names": names,
            "hp": {},
            "hp_choices": {},
        }
        for name in names:
            if name not in hp:
                continue
            ds = hp[name]
            d["hp"][name] = np.asarray(ds[()], dtype=float)
            if "choices" in ds.attrs:
                d["hp_choices"][name] = [text(c) for c in ds.attrs["choices"]]
    n = len(d["member"])
    for key in ("epochs", "final"):
        if d[key] is None or len(d[key]) != n:
            sys.exit(f"{path}: /trials/{key} missing or of another length than /trials/member")
    if (d["member"] < 0).all():
        sys.exit(f"{path}: no trial belongs to a member: not a pbt run")
    m = len(d["e_trial"])
    for key in ("e_epoch", "e_member", "e_donor", "e_prev", "e_prev_epoch"):
        if len(d[key]) != m:
            sys.exit(f"{path}: /pbt/events columns have different lengths")
    bad = [k for k in range(m) if not (0 <= d["e_trial"][k] < n and 0 <= d["e_donor"][k] < n
                                      and 0 <= d["e_prev"][k] < n)]
    if bad:
        sys.exit(f"{path}: /pbt/events row {bad[0]} names a trial outside /trials")
    return d


def curves_by_trial(d, use_time):
    """trial -> (epochs, x values, accuracies), in epoch order."""
    out = {}
    order = np.lexsort((d["c_epoch"], d["c_trial"]))
    for k in order:
        e, x, a = out.setdefault(int(d["c_trial"][k]), ([], [], []))
        e.append(int(d["c_epoch"][k]))
        x.append(float(d["c_t"][k]) if use_time else int(d["c_epoch"][k]))
        a.append(float(d["c_acc"][k]))
    return out


def point(curves, trial, epoch):
    """(x, accuracy) of a trial's row at an epoch, or None."""
    c = curves.get(int(trial))
    if c is None:
        return None
    for e, x, a in zip(*c):
        if e == epoch:
            return x, a
    return None


def draw_members(ax, d, curves, use_time, colors):
    members = sorted(set(int(m) for m in d["member"] if m >= 0))
    for m in members:
        col = colors(m % colors.N)
        first = True
        for i in np.flatnonzero(d["member"] == m):
            c = curves.get(int(i))
            if not c:
                continue
            ax.plot(c[1], c[2], color=col, lw=1.1, alpha=0.85,
                    label=f"member {m}" if first and len(members) <= 16 else None)
            first = False
    labelled = False
    for k in range(len(d["e_trial"])):
        m = int(d["e_member"][k])
        col = colors(m % colors.N)
        frm = point(curves, d["e_prev"][k], int(d["e_prev_epoch"][k]))
        to = point(curves, d["e_donor"][k], int(d["e_epoch"][k]))
        if to is None:
            continue
        if frm is not None:
            ax.plot([frm[0], to[0]], [frm[1], to[1]], ls=":", lw=0.9, color=col)
            ax.scatter([frm[0]], [frm[1]], marker="x", s=22, color=col, zorder=4,
                       label="exploit: left here" if not labelled else None)
        ax.scatter([to[0]], [to[1]], marker="o", s=18, facecolor="white", edgecolor=col,
                   zorder=5, label="... continued from the donor here" if not labelled else None)
        labelled = True
    ax.set_xlabel("seconds since the start of the run" if use_time else "epochs")
    ax.set_ylabel("validation accuracy")
    ax.legend(fontsize=6, loc="lower right", ncol=2)


def lineage(d, best):
    """Segments (trial, first epoch, last epoch) of best's weights' history, oldest first."""
    start_of = {int(t): (int(dn), int(ep)) for t, dn, ep in
                zip(d["e_trial"], d["e_donor"], d["e_epoch"])}
    segs, trial, end, seen = [], best, int(d["epochs"][best]), set()
    while trial not in seen:
        seen.add(trial)
        donor, ep = start_of.get(trial, (-1, 0))
        if end > ep:
            segs.append((trial, ep + 1, end))
        if donor < 0:
            break
        trial, end = donor, ep
    return segs[::-1]


def draw_lineage(ax, curves, segs):
    """The best member's weights' history over the accuracy curves, in black."""
    xs, ys = [], []
    for trial, e0, e1 in segs:
        c = curves.get(int(trial))
        if c is None:
            continue
        for e, x, a in zip(*c):
            if e0 <= e <= e1:
                xs.append(x)
                ys.append(a)
    if xs:
        ax.plot(xs, ys, color="black", lw=2.2, alpha=0.55, zorder=6,
                label="lineage of the best member")


def draw_schedule(axes, d, best, segs):
    for ax, name in zip(axes, d["hp_names"]):
        v = d["hp"].get(name)
        if v is None:
            ax.axis("off")
            continue
        xs, ys = [], []
        for trial, e0, e1 in segs:
            xs += [e0 - 1, e1]
            ys += [v[trial], v[trial]]
        ax.plot(xs, ys, color="tab:blue", lw=1.5, drawstyle="steps-post")
        for trial, e0, _ in segs[1:]:
            ax.axvline(e0 - 1, color="0.7", lw=0.6, ls="--")
        ax.set_ylabel(name, fontsize=8)
        choices = d["hp_choices"].get(name)
        if choices:
            ax.set_yticks(range(len(choices)))
            ax.set_yticklabels(choices, fontsize=7)
        elif np.all(np.asarray(ys) > 0) and max(ys) / min(ys) > 20:
            ax.set_yscale("log")
        ax.tick_params(labelsize=7)
    if len(axes):
        axes[0].set_title(f"schedule of the best member at the end (trial {best}, member "
                          f"{d['member'][best]}, final val_accuracy {d['final'][best]:.4f}): "
                          f"{len(segs)} trials in its lineage; dashed: exploits", fontsize=8)
        axes[-1].set_xlabel("epochs of its weights' history")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="results.h5 of a pbt run")
    ap.add_argument("-o", "--output", default="pbt.png", help="PNG to write")
    ap.add_argument("--time", action="store_true",
                    help="accuracy against the run's time instead of epochs")
    a = ap.parse_args()

    d = load(a.results)
    curves = curves_by_trial(d, a.time)
    budget = int(d["epochs"].max()) if len(d["epochs"]) else 0
    final = [i for i in range(len(d["member"])) if d["member"][i] >= 0 and d["status"]
             and d["status"][i] == "done" and d["epochs"][i] == budget
             and not math.isnan(d["final"][i])]
    if not final:  # in progress: the furthest trained trials
        final = [i for i in range(len(d["member"])) if d["member"][i] >= 0
                 and not math.isnan(d["final"][i])]
    best = max(final, key=lambda i: (d["final"][i], -i)) if final else None
    n_hp = len(d["hp_names"]) if best is not None else 0
    fig, axes = plt.subplots(1 + n_hp, 1, figsize=(9, 4.2 + 1.1 * n_hp), squeeze=False,
                             gridspec_kw={"height_ratios": [4] + [1] * n_hp})
    axes = axes[:, 0]
    segs = lineage(d, best) if best is not None else []
    draw_lineage(axes[0], curves, segs)
    draw_members(axes[0], d, curves, a.time, plt.get_cmap("tab20"))
    n_members = len(set(int(m) for m in d["member"] if m >= 0))
    axes[0].set_title(f"{a.results}: {n_members} members, {len(d['member'])} trials, "
                      f"{len(d['e_trial'])} exploits", fontsize=9)
    if best is not None:
        draw_schedule(list(axes[1:]), d, best, segs)
        for ax in axes[2:]:
            ax.sharex(axes[1])
    fig.tight_layout()
    fig.savefig(a.output, dpi=110)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
