# The ranking-model stopping rule in a real run: a model trained by `lamarck rank train`
# on the shipped meta-dataset (tabular and image MLP curves) stops trials of a random
# search on digits; without stopping.model the rule is a config error naming the key.
source "$(dirname "$0")/lib/common.bash"
meta="$LAMARCK_SOURCE_DIR/meta/mlp.h5"
[ -f "$meta" ] || fail "no $meta"
OMP_NUM_THREADS=1 "$LAMARCK" rank train "$meta" -o model.bin --exclude digits --steps 300 > train.txt 2>&1 || { cat train.txt; fail "rank train"; }
digits_config | sed -e 's/epochs: 4,/epochs: 8,/' -e 's/lr: 0.05,/lr: 0.02,/' > stop.yaml
cat >> stop.yaml <<YAML
search: {algorithm: random, trials: 12}
stopping: {rule: rank, model: $work/model.bin, delta: 0.45, grace_epochs: 2, min_trials: 2}
space:
  lr: {type: float, low: 0.0005, high: 0.3, log: true}
  width: {type: categorical, values: [8, 16, 64, 128]}
YAML
run_mpi 3 run stop.yaml 2> log.txt || { tail -20 log.txt; fail "run exited non-zero"; }
r=run/results.h5
n_stopped=$(h5 $r 'int((col("trials/status") == "stopped").sum())')
echo "trials stopped by the ranking model: $n_stopped of 12"
[ "$n_stopped" -ge 1 ] || fail "the rank rule stopped nothing: $(h5 $r 'col("trials/status").tolist()')"
[ "$(h5 $r 'int((col("trials/status") == "done").sum()) >= 2')" = True ] || fail "too few trials finished"
[ "$(h5 $r 'bool((f["trials/epochs"][()][col("trials/status") == "stopped"] < 8).all())')" = True ] || fail "stopped trials trained every epoch"
sed -e "s|, model: $work/model.bin||" stop.yaml > nomodel.yaml
run_mpi 2 run nomodel.yaml --output "$work/run2" > /dev/null 2> err.txt && fail "rank without a model ran"
grep -q "stopping.model" err.txt || { cat err.txt; fail "message does not name stopping.model"; }
pass "rank_stopper"
