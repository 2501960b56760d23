# 3 ranks, MLPs on two of Weka's tabular datasets: vote (16 categorical features,
# missing values) and credit-g (13 categorical, 7 numeric). Preprocessing (one-hot,
# imputation, standardization, missing-value indicators) is fit on the training split;
# every trial must finish and the best validation accuracy must beat the rate of the
# majority class. Also checks what `lamarck data list` says of the two files.
source "$(dirname "$0")/lib/common.bash"

# dataset_path NAME: the dataset file in $LAMARCK_DATA, else imported into the scratch
# directory from the weka package (installed, or extracted into .deps/ by jobs/setup.sh).
dataset_path() {
  local name=$1
  if [ -f "$LAMARCK_DATA/$name.h5" ]; then
    echo "$LAMARCK_DATA/$name.h5"
  else
    "$LAMARCK" data import "$name" --dir "$work/data" >&2 || return 1
    echo "$work/data/$name.h5"
  fi
}

# majority FILE: the share of the most frequent class among the training labels.
majority() {
  h5 "$1" 'np.bincount(f["train/y"][()]).max() / len(f["train/y"])'
}

mkdir -p list
for name in vote credit-g; do
  path=$(dataset_path "$name") || fail "cannot import $name (run jobs/setup.sh for Weka's files)"
  ln -s "$path" "list/$name.h5"
  cat > "$name.yaml" <<YAML
experiment: {name: $name, seed: 5, output: $work/run-$name, progress_interval: 1}
data: {dataset: $path, validation_fraction: 0.25}
training: {epochs: 12, batch_size: 32, lr: 0.05, momentum: 0.9}
model: {type: mlp, depth: 1, width: 32}
preprocessing: {scaler: standardize, missing_indicator: true}
search: {algorithm: random, trials: 4}
space:
  lr: {type: float, low: 0.01, high: 0.1, log: true}
  width: {type: int, low: 16, high: 64}
YAML
  run_mpi 3 run "$name.yaml" 2> "log-$name.txt" || { cat "log-$name.txt"; fail "$name: run exited non-zero"; }
  r=run-$name/results.h5
  [ -f "$r" ] || fail "$name: no results.h5"
  [ "$(h5 "$r" 'set(col("trials/status").tolist())')" = "{'done'}" ] ||
    fail "$name: statuses $(h5 "$r" 'col("trials/status")') $(h5 "$r" 'col("trials/reason")')"
  base=$(majority "$path")
  best=$(h5 "$r" 'f["trials/best_val_accuracy"][()].max()')
  echo "$name: best validation accuracy $best, majority class $base"
  [ "$("$PY" -c "print($best > $base)")" = True ] || fail "$name: $best does not beat the majority class ($base)"
done

"$LAMARCK" data list --dir list > list.txt || { cat list.txt; fail "data list"; }
grep -Eq '^vote +[0-9]+ +[0-9]+ +16 +2 +16 categorical, 0 numeric, missing values: yes$' list.txt ||
  { cat list.txt; fail "data list: vote"; }
grep -Eq '^credit-g +800 +200 +20 +2 +13 categorical, 7 numeric, missing values: no$' list.txt ||
  { cat list.txt; fail "data list: credit-g"; }
pass "tabular"
