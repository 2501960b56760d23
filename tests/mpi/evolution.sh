# Aging evolution and NSGA-II on 3 ranks: every trial after the first population is bred
# from recorded parents, the population snapshots and the Pareto front are written, and
# the analysis scripts draw them.
source "$(dirname "$0")/lib/common.bash"
for algo in evolution nsga2; do
  { digits_config; cat <<YAML
search: {algorithm: $algo, trials: 14, population: 4}
space:
  lr: {type: float, low: 0.005, high: 0.2, log: true}
  width: {type: categorical, values: [16, 32, 64, 128]}
YAML
  } | sed -e 's/epochs: 4,/epochs: 2,/' -e "s|output: $work/run|output: $work/$algo|" > $algo.yaml
  run_mpi 3 run $algo.yaml 2> $algo.log || { tail -20 $algo.log; fail "$algo run"; }
  r=$algo/results.h5
  [ "$(h5 $r 'len(f["trials/id"])')" = 14 ] || fail "$algo: trials"
  [ "$(h5 $r 'int((f["trials/parent0"][()][4:] >= 0).sum())')" = 10 ] || fail "$algo: bred trials lack parents"
  [ "$(h5 $r 'len(f["populations/trial"]) > 0 and len(f["pareto/trial"]) > 0')" = True ] || fail "$algo: populations or front missing"
done
"$PY" "$LAMARCK_SOURCE_DIR/analysis/plot_evolution.py" evolution/results.h5 -o evo.png > /dev/null || fail "evolution plot"
"$PY" "$LAMARCK_SOURCE_DIR/analysis/plot_pareto.py" nsga2/results.h5 -o pareto.png > /dev/null || fail "pareto plot"
[ -s evo.png ] && [ -s pareto.png ] || fail "plots missing"
pass "evolution"
