# Bad input gets a clear message and a non-zero exit on every path a user takes:
# lamarck validate, lamarck run under mpiexec, and the command line itself.
source "$(dirname "$0")/lib/common.bash"

# expect STATUS REGEX CMD...: CMD exits with STATUS and its stderr matches REGEX.
expect() {
  local want=$1 re=$2; shift 2
  local got=0
  "$@" > out.txt 2> err.txt || got=$?
  [ "$got" = "$want" ] || { cat err.txt; fail "'$*' exited $got, expected $want"; }
  grep -Eq -- "$re" err.txt || { cat err.txt; fail "'$*': message does not match /$re/"; }
}

digits_config > ok.yaml
echo "search: {algorithm: random, trials: 1}" >> ok.yaml
"$LAMARCK" validate ok.yaml > out.txt || fail "valid config rejected: $(cat out.txt)"

# malformed YAML: libyaml's error with line and column
{ digits_config; echo "search: {algorithm: random, trials: 1"; } > malformed.yaml
expect 2 "malformed\.yaml:[0-9]+:[0-9]+" "$LAMARCK" validate malformed.yaml
expect 2 "malformed\.yaml:[0-9]+:[0-9]+" run_mpi 2 run malformed.yaml

# unknown key, with the closest valid one
{ digits_config; echo "serch: {algorithm: random}"; } > unknown.yaml
expect 2 "unknown\.yaml:5:1.*serch.*search" "$LAMARCK" validate unknown.yaml
expect 2 "unknown\.yaml:5:1.*serch.*search" run_mpi 2 run unknown.yaml

# out-of-range value, at the value's position, naming the key
sed 's/lr: 0.05/lr: -1/' ok.yaml > range.yaml
expect 2 "range\.yaml:3:[0-9]+.*lr" "$LAMARCK" validate range.yaml
expect 2 "range\.yaml:3:[0-9]+.*lr" run_mpi 2 run range.yaml

# missing dataset file: names the path and the import command, data error (3)
sed "s|dataset: digits|dataset: $work/no-such-set.h5|" ok.yaml > nodata.yaml
expect 3 "no-such-set\.h5 not found; data\.dataset is a path" run_mpi 2 run nodata.yaml
mkdir -p empty
LAMARCK_DATA=$work/empty expect 3 "empty/digits\.h5 not found; create it with: lamarck data import digits" \
  run_mpi 2 run ok.yaml

# an existing run is not overwritten unless asked: a complete one says so, results
# without checkpoints are refused
run_mpi 2 run ok.yaml 2> /dev/null || fail "ok.yaml run"
expect 0 "already complete" run_mpi 2 run ok.yaml
rm -r run/checkpoints
expect 2 "already holds results\.h5.*--overwrite" run_mpi 2 run ok.yaml
run_mpi 2 run ok.yaml --overwrite 2> /dev/null || fail "--overwrite"

# the command line
expect 2 "unknown option '--bogus'" "$LAMARCK" run --bogus
expect 2 "unknown command 'frobnicate'" "$LAMARCK" frobnicate
expect 2 "no config file" "$LAMARCK" validate
expect 3 "no-such-results\.h5" "$LAMARCK" report no-such-results.h5
expect 2 "unknown dataset 'mnist-9000'" "$LAMARCK" data import mnist-9000 --dir d
# a corrupt dataset file is a data error, not a crash
mkdir -p baddata && head -c 4000 /dev/urandom > baddata/junk.h5
sed "s|dataset: digits|dataset: $work/baddata/junk.h5|" ok.yaml > junk.yaml
sed -i "s|output: $work/run|output: $work/run2|" junk.yaml
expect 3 "junk\.h5" run_mpi 2 run junk.yaml
for h in run validate data report; do "$LAMARCK" $h --help | grep -q "usage: .*lamarck" || fail "$h --help"; done
pass "bad_input"
