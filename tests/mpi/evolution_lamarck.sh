# Lamarckian aging evolution over MLPs, then over convolutional chains, then NSGA-II
# with inheritance, on digits with 4 ranks (issue 7): after the first
# population every child inherits its parent's trained weights through one Net2Net
# morph (trials/reason says which), so its first-epoch validation accuracy is at least
# its parent's final one (within 0.05), while the first population, trained from
# scratch with the same settings, starts far lower; every trial ends done (the kept
# states of the population are released at the end). Last, NSGA-II with the morphs that
# shrink a network.
source "$(dirname "$0")/lib/common.bash"
sed -e "s|output: runs/evolution_lamarck|output: $work/run|" \
    "$LAMARCK_SOURCE_DIR/inputs/evolution_lamarck.yaml" > evo.yaml
grep -q "inheritance: lamarckian" evo.yaml || fail "config not found"
run_mpi 4 run evo.yaml 2> log.txt || { tail -20 log.txt; fail "run exited non-zero"; }
r=run/results.h5
[ "$(h5 $r 'len(f["trials/id"])')" = 16 ] || fail "trial count"
[ "$(h5 $r 'set(col("trials/status").tolist())')" = "{'done'}" ] || fail "statuses $(h5 $r 'col("trials/reason").tolist()')"
cat > inherit.py <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
dec = lambda v: [x.decode() if isinstance(x, bytes) else x for x in v]
reason, origin = dec(f["trials/reason"][()]), f["trials/parent0"][()]
ct, ce, cv = f["curves/trial"][()], f["curves/epoch"][()], f["curves/val_accuracy"][()]
def acc(t, e):
    m = (ct == t) & (ce == e)
    assert m.any(), f"trial {t} has no epoch {e}"
    return float(cv[m][0])
def final(t):
    m = ct == t
    return float(cv[m][np.argmax(ce[m])])
scratch = [acc(t, 1) for t in range(4)]
assert all(p < 0 for p in origin[:4]), "the first population has parents"
kids = [t for t, r in enumerate(reason) if r.startswith("inherited from trial ")]
assert len(kids) >= 8, f"only {len(kids)} inheriting children: {reason}"
for t in kids:
    p = int(origin[t])
    assert f"trial {p}:" in reason[t], f"trial {t}: parent {p}, reason {reason[t]}"
    assert int(f["trials/epochs"][t]) == 2, f"trial {t} trained {f['trials/epochs'][t]} epochs"
    a, b = final(p), acc(t, 1)
    print(f"trial {t} <- {p}: parent's final {a:.4f}, child's epoch 1 {b:.4f} | {reason[t]}")
    assert b >= a - 0.05, f"trial {t} starts at {b:.4f}, its parent {p} ended at {a:.4f}"
c1 = np.mean([acc(t, 1) for t in kids])
print(f"from scratch, epoch 1: {np.round(scratch, 4).tolist()} (mean {np.mean(scratch):.4f}); "
      f"inherited, epoch 1: mean {c1:.4f}")
assert c1 > np.mean(scratch) + 0.25, "inherited children do not start above scratch"
PYEOF
"$PY" inherit.py $r > inherit.txt 2>&1 || { cat inherit.txt; fail "inheritance"; }
cat inherit.txt

# Convolutional chains of 2 stages, convs of one width (so every morph deepens): a conv
# layer deepens by a conv + BN + ReLU whose normalization undoes the statistics it
# meets; every child starts within 0.05 of its parent's final accuracy, far above the
# first population's first epochs, and every layer keeps its stage.
cat > conv.yaml <<YAML
experiment: {name: lc, seed: 1, output: $work/conv, progress_interval: 60}
data: {dataset: digits, validation_fraction: 0.2}
training: {epochs: 6, batch_size: 64, lr: 0.01, momentum: 0.5}
model:
  space: chain
  architecture: {min_depth: 2, max_depth: 6, types: [conv], kernels: [3], widths: [16], strides: [1], skips: none, stages: 2, stem_filters: 8}
search: {algorithm: evolution, trials: 20, population: 4, sample_size: 2, survivor: oldest, inheritance: lamarckian, inherit_epochs: 2}
YAML
run_mpi 4 run conv.yaml 2> conv_log.txt || { tail -20 conv_log.txt; fail "conv run exited non-zero"; }
cat > conv.py <<'PYEOF'
import re, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
dec = lambda v: [x.decode() if isinstance(x, bytes) else x for x in v]
reason, par, text = dec(f["trials/reason"][()]), f["trials/parent0"][()], dec(f["genomes/text"][()])
assert set(dec(f["trials/status"][()])) == {"done"}, reason
ct, ce, cv = f["curves/trial"][()], f["curves/epoch"][()], f["curves/val_accuracy"][()]
first = lambda t: float(cv[(ct == t) & (ce == 1)][0])
final = lambda t: float(cv[ct == t][np.argmax(ce[ct == t])])
def layers(t):  # [(stage, description)] per chain layer
    out, stage = [], -1
    for line in text[t].splitlines():
        if line.strip().startswith("stage "): stage += 1
        m = re.match(r"\s*l(\d+): (.*)", line)
        if m: out.append((stage, m.group(2)))
    return out
deep, kids = 0, []
for t, r in enumerate(reason):
    if not r.startswith("inherited from trial "): continue
    p = int(par[t])
    assert first(t) >= final(p) - 0.05, f"trial {t} starts at {first(t):.4f}, parent {p} ended at {final(p):.4f}"
    kids.append(first(t))
    m = re.search(r"Net2Deeper after layer (\d+)", r)
    assert m, r
    L, a, b = int(m.group(1)), layers(p), layers(t)
    assert a[L][1].startswith("conv "), (a[L], r)
    assert b[L + 1][1].startswith("conv ") and b[L + 1][0] == a[L][0], (b[L + 1], a[L])
    assert [x[0] for x in b[:L + 1] + b[L + 2:]] == [x[0] for x in a], (a, b)
    deep += 1
    print(f"trial {t} <- {p}: {r}; parent's final {final(p):.4f}, child's epoch 1 {first(t):.4f}")
scratch = [first(t) for t in range(4)]
print(f"from scratch, epoch 1: mean {np.mean(scratch):.4f}; {deep} deepened children, epoch 1: mean {np.mean(kids):.4f}")
assert deep >= 8, f"only {deep} conv layers were deepened: {reason}"
assert np.mean(kids) > np.mean(scratch) + 0.25, "deepened children do not start above scratch"
PYEOF
"$PY" conv.py conv/results.h5 > conv.txt 2>&1 || { cat conv.txt; fail "conv inheritance"; }
cat conv.txt

# NSGA-II (steady mode) with inheritance under a cosine schedule: about inherit_prob of
# the children are widened or deepened copies of members, the others train from
# scratch; every inheriting child starts near its parent's final accuracy and runs its
# own cosine over its 2 epochs (its last epoch ends at a learning rate near 0, where a
# schedule over training.epochs would still be at 3/4 of the initial rate). The run is
# stopped by SIGUSR1 after a few checkpoints and continued on 3 ranks: the members'
# kept states and the interrupted children's schedules come back with it.
cat > moo.yaml <<YAML
experiment: {name: ln, seed: 3, output: $work/moo, progress_interval: 60, checkpoint_interval: 0.5}
data: {dataset: digits, validation_fraction: 0.2}
training: {epochs: 6, batch_size: 64, lr: 0.01, momentum: 0.5, schedule: cosine}
model:
  space: chain
  architecture: {min_depth: 2, max_depth: 6, types: [conv], kernels: [3], widths: [8, 16, 32], strides: [1], skips: none, stages: 2, stem_filters: 8}
search: {algorithm: nsga2, mode: steady, trials: 20, population: 4, objective1: val_accuracy, objective2: params, inheritance: lamarckian, inherit_epochs: 2, inherit_prob: 0.75}
YAML
"$MPIEXEC" -n 4 --oversubscribe "$LAMARCK" run moo.yaml 2> moo_log.txt &
pid=$!
for _ in $(seq 600); do grep -q "checkpoint 4 written" moo_log.txt && break; sleep 0.05; done
kill -USR1 $pid 2> /dev/null || true
st=0; wait $pid || st=$?
[ "$st" = 4 ] || [ "$st" = 0 ] || { tail -20 moo_log.txt; fail "nsga2 run: exit status $st"; }
run_mpi 3 run moo.yaml 2> moo_resume.txt || { tail -20 moo_resume.txt; fail "nsga2 resume"; }
[ "$st" = 0 ] || grep -q "resumed from checkpoint" moo_resume.txt || fail "nsga2 did not resume"
echo "nsga2: the first run exited with status $st (4: stopped after a checkpoint), then went on with 3 ranks"
cat > moo.py <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
dec = lambda v: [x.decode() if isinstance(x, bytes) else x for x in v]
reason, par = dec(f["trials/reason"][()]), f["trials/parent0"][()]
assert set(dec(f["trials/status"][()])) == {"done"}, reason
ct, ce, cv, cl = (f["curves/" + k][()] for k in ("trial", "epoch", "val_accuracy", "lr"))
first = lambda t: float(cv[(ct == t) & (ce == 1)][0])
final = lambda t: float(cv[ct == t][np.argmax(ce[ct == t])])
last_lr = lambda t: float(cl[ct == t][np.argmax(ce[ct == t])])
kids = [t for t, r in enumerate(reason) if r.startswith("inherited from trial ")]
for t in kids:
    p = int(par[t])
    print(f"trial {t} <- {p}: {reason[t]}; parent's final {final(p):.4f}, child's epoch 1 "
          f"{first(t):.4f}, last learning rate {last_lr(t):.5f}")
    assert int(f["trials/epochs"][t]) == 2, f"trial {t} trained {f['trials/epochs'][t]} epochs"
    assert first(t) >= final(p) - 0.05, f"trial {t} starts at {first(t):.4f}, parent {p} ended at {final(p):.4f}"
    assert last_lr(t) < 0.05 * 0.01, f"trial {t} ends its cosine at {last_lr(t)}"
print(f"{len(kids)} inheriting children of 16")
assert len(kids) >= 6, f"only {len(kids)} inheriting children: {reason}"
assert len(f["pareto/trial"][()]) >= 1
PYEOF
"$PY" moo.py moo/results.h5 > moo.txt 2>&1 || { cat moo.txt; fail "nsga2 inheritance"; }
cat moo.txt

# NSGA-II with the shrinking morphs too (inherit_shrink): narrower layers (keeping the
# filters of largest L1 norm) and removed layers (conv, separable conv or pooling whose
# output has its input's channels), built from the parent's weights on the worker and
# trained on from there; every trial ends done (none fails to inherit: a strided layer
# removed before a pooling changes that pooling's padding, not its weights; a layer whose
# output a skip also reads is not narrowed), every shrinking child has fewer parameters
# (or, a pooling removed, as many) than its parent and starts far above the first
# population's first epochs.
cat > shrink.yaml <<YAML
experiment: {name: ls, seed: 2, output: $work/shrink, progress_interval: 60}
data: {dataset: digits, validation_fraction: 0.2}
training: {epochs: 6, batch_size: 64, lr: 0.01, momentum: 0.5}
model:
  space: chain
  architecture: {min_depth: 2, max_depth: 6, types: [conv, sep_conv, max_pool], kernels: [3], widths: [8, 16], strides: [1, 2], skips: add, stages: 2, stem_filters: 8}
search: {algorithm: nsga2, mode: steady, trials: 30, population: 4, objective1: val_accuracy, objective2: params, inheritance: lamarckian, inherit_epochs: 2, inherit_prob: 1, inherit_shrink: true}
YAML
run_mpi 4 run shrink.yaml 2> shrink_log.txt || { tail -20 shrink_log.txt; fail "shrinking run"; }
cat > shrink.py <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
dec = lambda v: [x.decode() if isinstance(x, bytes) else x for x in v]
reason, par, params = dec(f["trials/reason"][()]), f["trials/parent0"][()], f["trials/params"][()]
assert set(dec(f["trials/status"][()])) == {"done"}, reason
ct, ce, cv = (f["curves/" + k][()] for k in ("trial", "epoch", "val_accuracy"))
first = lambda t: float(cv[(ct == t) & (ce == 1)][0])
final = lambda t: float(cv[ct == t][np.argmax(ce[ct == t])])
scratch = np.mean([first(t) for t in range(4)])
shrunk = [t for t, r in enumerate(reason) if "Narrower" in r or "removed" in r]
for t in shrunk:
    p = int(par[t])
    print(f"trial {t} <- {p}: {reason[t]}; params {params[p]} -> {params[t]}, parent's final "
          f"{final(p):.4f}, child's epoch 1 {first(t):.4f}")
    assert params[t] < params[p] or ("removed" in reason[t] and params[t] == params[p]), t
narrow = sum("Narrower" in reason[t] for t in shrunk)
print(f"{narrow} narrower, {len(shrunk) - narrow} with a layer removed; first population's "
      f"epoch 1: mean {scratch:.4f}, shrinking children's: {np.mean([first(t) for t in shrunk]):.4f}")
assert narrow >= 1 and len(shrunk) - narrow >= 1 and len(shrunk) >= 4, reason
assert np.mean([first(t) for t in shrunk]) > scratch + 0.2
PYEOF
"$PY" shrink.py shrink/results.h5 > shrink.txt 2>&1 || { cat shrink.txt; fail "shrinking morphs"; }
cat shrink.txt
pass "evolution_lamarck"
