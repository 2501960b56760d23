# Hyperband (R = 9, eta = 3) on 4 ranks: every bracket completes with Algorithm 1's sizes;
# promoted trials continue from the epoch where they paused, from their own weights (their
# loss goes on from where it was, not from a fresh start), on whichever worker is free:
# kept states move between ranks and arrive bitwise identical (checksums checked on
# arrival and against the state paused); the same seed gives the same tables.
source "$(dirname "$0")/lib/common.bash"
{ digits_config; cat <<YAML
search: {algorithm: hyperband, eta: 3}
space:
  lr: {type: float, low: 0.005, high: 0.2, log: true}
  width: {type: categorical, values: [32, 64, 128]}
YAML
} | sed -e 's/epochs: 4,/epochs: 9,/' > hb.yaml
LAMARCK_LOG=debug run_mpi 4 run hb.yaml 2> log.txt || { tail -30 log.txt; fail "run exited non-zero"; }
r=run/results.h5
# Algorithm 1 for R = 9, eta = 3: brackets s = 2, 1, 0 start 9, 5, 3 configurations
[ "$(h5 $r '[int((f["trials/bracket"][()] == s).sum()) for s in (2, 1, 0)]')" = "[9, 5, 3]" ] || fail "bracket sizes $(h5 $r 'f["trials/bracket"][()].tolist()')"
# every bracket reaches R = 9 epochs with floor(n_i / eta) kept per rung: 4 + 1 promotions
[ "$(h5 $r 'all((f["trials/epochs"][()][f["trials/bracket"][()] == s] == 9).sum() == k for s, k in ((2, 1), (1, 1), (0, 3)))')" = True ] || fail "brackets incomplete"
[ "$(h5 $r 'len(f["promotions/trial"])')" = 5 ] || fail "promotions $(h5 $r 'len(f["promotions/trial"])')"
[ "$(once $r)" = ok ] || fail "curve rows not continuous"
# after a promotion, training goes on from the paused weights: the next epoch's loss is
# near the last one, well below the trial's first-epoch loss (a restart would repeat it)
"$PY" - "$r" <<'PYEOF' || fail "a promoted trial did not continue from its weights"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
tr, ep, loss = f["curves/trial"][()], f["curves/epoch"][()], f["curves/train_loss"][()]
L = {(t, e): l for t, e, l in zip(tr, ep, loss)}
for t, e in zip(f["promotions/trial"][()], f["promotions/epoch"][()]):
    before, after, first = L[(t, e)], L[(t, e + 1)], L[(t, 1)]
    print(f"trial {t}: loss {first:.4f} at epoch 1, {before:.4f} at {e}, {after:.4f} at {e + 1}")
    assert after < 0.75 * first and after < 1.5 * before + 0.02, (t, e)
PYEOF
moved=$(h5 $r 'f.attrs["snapshot_transfers"]'); local=$(h5 $r 'f.attrs["snapshot_local"]')
echo "kept states: $moved sent between workers, $local resumed in place"
[ $((moved + local)) = 5 ] || fail "resumes $moved + $local, expected 5"
[ "$(grep -c 'snapshot [0-9a-f]* verified' log.txt)" = 5 ] || fail "not every resumed state was verified"
"$PY" "$LAMARCK_SOURCE_DIR/analysis/plot_hyperband.py" "$r" -o brackets.png > /dev/null || fail "plot"
[ -s brackets.png ] || fail "no plot"
run_mpi 4 run hb.yaml --output again 2> /dev/null || fail "second run"
res=$(same_tables $r again/results.h5)
[ "$res" = same ] || fail "same seed, different tables: $res"
# Whether a promoted trial finds its holder busy depends on timing: on a fast machine every
# resume may happen in place, so the transfer is looked for over up to three runs.
moved=$((moved + $(h5 again/results.h5 'f.attrs["snapshot_transfers"]')))
if [ "$moved" -lt 1 ]; then
  LAMARCK_LOG=debug run_mpi 4 run hb.yaml --output third 2> log3.txt || fail "third run"
  moved=$(h5 third/results.h5 'f.attrs["snapshot_transfers"]')
  [ "$(grep -c 'snapshot [0-9a-f]* verified' log3.txt)" = 5 ] || fail "not every resumed state was verified (third run)"
fi
[ "$moved" -ge 1 ] || fail "no kept state moved between workers in three runs"
pass "hyperband"
