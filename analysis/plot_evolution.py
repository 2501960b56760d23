#!/usr/bin/python3
"""Plot an evolutionary run (evolution, nsga2; any searcher works for the first
panel): every finished trial's validation accuracy in the order trials ended, sampled
points and bred children marked apart, with the best so far as a step line; and, when
the run recorded population snapshots, the population's fitness over the run (best,
median and worst member per snapshot; for nsga2, which has no scalar fitness, the
members' validation accuracy).

    analysis/plot_evolution.py runs/evo/results.h5 -o evolution.png

Reads /trials (status, best_val_accuracy, t_end, origin) and /populations of
results.h5. Files from runs still in progress, or written before lineage columns
existed, are fine: what is missing is left out.
"""
import argparse
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ORIGINS = ["sampled", "mutated", "crossed", "crossed+mutated"]


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def column(group, name, default=None, dtype=float):
    if group is None or name not in group:
        return default
    return np.asarray(group[name][()], dtype=dtype)


def load(path):
    with h5py.File(path, "r") as f:
        trials = f.get("trials")
        if trials is None or "best_val_accuracy" not in trials:
            sys.exit(f"{path}: no /trials/best_val_accuracy: not a lamarck results file")
        n = len(trials["best_val_accuracy"])
        d = {
            "status": ([text(s) for s in trials["status"][()]] if "status" in trials
                       else ["done"] * n),
            "acc": column(trials, "best_val_accuracy"),
            "t_end": column(trials, "t_end", np.full(n, np.nan)),
            "origin": column(trials, "origin", np.zeros(n, dtype=int), dtype=int),
        }
        pop = f.get("populations")
        d["pop"] = None
        if pop is not None and "snapshot" in pop and len(pop["snapshot"]) > 0:
            d["pop"] = {k: column(pop, k, dtype=int if k in ("snapshot", "event", "trial", "front")
                                  else float) for k in ("snapshot", "event", "trial", "front",
                                                        "fitness")}
    if len(d["status"]) != n or len(d["t_end"]) != n or len(d["origin"]) != n:
        sys.exit(f"{path}: /trials columns have different lengths")
    return d


def end_order(d):
    """Finished trials (done or stopped, with an accuracy) in the order they ended;
    trials without an end time go last, by id."""
    ok = [i for i, s in enumerate(d["status"])
          if s in ("done", "stopped") and np.isfinite(d["acc"][i])]
    def key(i):
        t = d["t_end"][i]
        return (not np.isfinite(t), t if np.isfinite(t) else 0, i)
    return sorted(ok, key=key)


def plot_trials(ax, d):
    order = end_order(d)
    if not order:
        ax.text(0.5, 0.5, "no finished trial", ha="center", va="center", transform=ax.transAxes)
        return
    x = np.arange(1, len(order) + 1)
    acc = d["acc"][order]
    origin = d["origin"][order]
    bred = origin > 0
    ax.scatter(x[~bred], acc[~bred], s=14, color="tab:gray", label="sampled", zorder=2)
    if bred.any():
        ax.scatter(x[bred], acc[bred], s=14, color="tab:orange", label="bred (mutation/crossover)",
                   zorder=2)
    ax.step(x, np.maximum.accumulate(acc), where="post", color="tab:blue", lw=2,
            label="best so far", zorder=3)
    ax.set_xlabel("trials finished")
    ax.set_ylabel("validation accuracy (trial's best)")
    ax.set_title("trials in the order they ended")
    ax.legend(loc="lower right", fontsize=8)


def plot_population(ax, pop, acc):
    """Fitness of the members per snapshot; nsga2 records no scalar fitness, so its
    members' validation accuracy stands in."""
    fitness = pop["fitness"]
    ylabel = "fitness"
    if not np.isfinite(fitness).any():
        ok = (pop["trial"] >= 0) & (pop["trial"] < len(acc))
        fitness = np.where(ok, acc[np.clip(pop["trial"], 0, len(acc) - 1)], np.nan)
        ylabel = "members' validation accuracy"
    snaps = np.unique(pop["snapshot"])
    event, best, med, worst = [], [], [], []
    for s in snaps:
        m = pop["snapshot"] == s
        fit = fitness[m]
        fit = fit[np.isfinite(fit)]
        if fit.size == 0:
            continue
        event.append(pop["event"][m][0])
        best.append(fit.max())
        med.append(np.median(fit))
        worst.append(fit.min())
    if not event:
        ax.text(0.5, 0.5, "no member with a fitness", ha="center", va="center",
                transform=ax.transAxes)
        return
    ax.fill_between(event, worst, best, color="tab:green", alpha=0.2, label="worst to best member")
    ax.plot(event, med, color="tab:green", lw=2, label="median member")
    ax.plot(event, best, color="tab:green", lw=0.8)
    ax.set_xlabel("snapshot event (evolution: trials ended; nsga2: generation or trials "
                  "ended)", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(f"population over {len(event)} snapshots")
    ax.legend(loc="lower right", fontsize=8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="results.h5 of a lamarck run")
    ap.add_argument("-o", "--output", default="evolution.png", help="PNG to write")
    a = ap.parse_args()
    d = load(a.results)
    panels = 2 if d["pop"] is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2), squeeze=False)
    plot_trials(axes[0][0], d)
    if panels == 2:
        plot_population(axes[0][1], d["pop"], d["acc"])
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
