# Random search over a small NASNet cell space on digits with 4 ranks: every trial
# trains a network decoded from its genome, and results.h5 holds each trial's genome
# (/genomes, with the space's description), parameters and FLOPs; `lamarck space`
# samples the same space and turns recorded genomes back into networks.
source "$(dirname "$0")/lib/common.bash"
digits_config | sed -e 's/model: {type: mlp, depth: 1, width: 64}/model: {space: cell, architecture: {blocks: 2, cells: 1, filters: 8, stages: 2}, constraints: {max_params: 20000}}/' \
                    -e 's/epochs: 4,/epochs: 2,/' > nas.yaml
cat >> nas.yaml <<YAML
search: {algorithm: random, trials: 6}
space:
  lr: {type: float, low: 0.02, high: 0.1, log: true}
YAML
grep -q "space: cell" nas.yaml || fail "config not rewritten"

"$LAMARCK" space sample nas.yaml -n 3 > sample.txt 2> err.txt || { cat err.txt; fail "space sample exited non-zero"; }
[ "$(grep -c '^architecture ' sample.txt)" = 3 ] || { cat sample.txt; fail "space sample did not print 3 architectures"; }
grep -q "params" sample.txt || { cat sample.txt; fail "space sample prints no parameter count"; }

run_mpi 4 run nas.yaml 2> log.txt || { tail -20 log.txt; fail "run exited non-zero"; }
r=run/results.h5
[ "$(h5 $r 'len(f["trials/id"])')" = 6 ] || fail "trial count"
[ "$(h5 $r 'set(col("trials/status").tolist())')" = "{'done'}" ] || fail "statuses $(h5 $r 'col("trials/reason").tolist()')"
[ "$(h5 $r 'f["genomes/genome"].shape == (6, 16)')" = True ] || fail "genome table shape $(h5 $r 'f["genomes/genome"].shape')"
[ "$(h5 $r 'str(f["genomes"].attrs["space"]).find("family=cell") >= 0')" = True ] || fail "space description"
# The genome is the trial's point: the arch.* columns of /trials/hp, in order.
[ "$(h5 $r 'all((f["trials/hp/"+n][()] == f["genomes/genome"][:, i]).all() for i, n in enumerate(x.decode() if isinstance(x, bytes) else x for x in f["genomes"].attrs["gene_names"]))')" = True ] || fail "genomes differ from the trials' points"
[ "$(h5 $r 'bool((f["trials/params"][()] > 0).all() and (f["trials/params"][()] <= 20000).all() and (f["trials/flops"][()] > 0).all())')" = True ] || fail "params/flops $(h5 $r 'f["trials/params"][()].tolist()')"
[ "$(h5 $r 'len(set(f["genomes/hash"][()].tolist())) > 1')" = True ] || fail "all genomes hash equal"
[ "$(h5 $r 'f["trials/best_val_accuracy"][()].max() > 0.3')" = True ] || fail "accuracy $(h5 $r 'f["trials/best_val_accuracy"][()].tolist()')"

"$LAMARCK" space show $r --trial 2 > show.txt 2> err.txt || { cat err.txt; fail "space show exited non-zero"; }
grep -q "^trial 2:" show.txt || { cat show.txt; fail "space show output"; }
"$LAMARCK" space show $r --trial 99 > /dev/null 2> err.txt && fail "space show accepted a missing trial"
grep -q "no trial 99" err.txt || { cat err.txt; fail "missing trial message"; }
pass "nas_cells"
