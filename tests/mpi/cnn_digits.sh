# The model becomes a CNN by configuration alone; trials record their parameter count,
# forward FLOPs per example and measured latency (objectives for multi-objective search).
source "$(dirname "$0")/lib/common.bash"
digits_config | sed -e 's/model: {type: mlp, depth: 1, width: 64}/model: {type: cnn, conv_layers: 1, filters: 8, depth: 1, width: 32, batchnorm: true}/' \
                    -e 's/epochs: 4,/epochs: 3,/' > cnn.yaml
cat >> cnn.yaml <<YAML
search: {algorithm: random, trials: 3}
space:
  lr: {type: float, low: 0.02, high: 0.1, log: true}
  flip: {type: categorical, values: [false, true]}
YAML
grep -q "type: cnn" cnn.yaml || fail "config not rewritten"
run_mpi 3 run cnn.yaml 2> log.txt || { tail -20 log.txt; fail "run exited non-zero"; }
r=run/results.h5
[ "$(h5 $r 'set(col("trials/status").tolist())')" = "{'done'}" ] || fail "statuses"
[ "$(h5 $r 'f["trials/best_val_accuracy"][()].max() > 0.5')" = True ] || fail "accuracy $(h5 $r 'f["trials/best_val_accuracy"][()].tolist()')"
[ "$(h5 $r 'bool((f["trials/flops"][()] > 0).all() and (f["trials/latency"][()] > 0).all() and (f["trials/params"][()] > 0).all())')" = True ] || fail "params/flops/latency not recorded"
pass "cnn_digits"
