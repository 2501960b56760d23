#!/usr/bin/env bash
# Sets lamarck up on a Debian 12 machine: installs the Debian packages it needs (with
# sudo when not root), builds it into build/, and imports the datasets into data/.
# Safe to run again: each step is skipped when already done.
#
#   bash jobs/setup.sh            # packages, build, datasets
#   LAMARCK_BUILD_TYPE=Debug bash jobs/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

packages=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
          libscalapack-openmpi-dev libopenblas-dev liblapacke-dev libdnnl-dev libyaml-dev
          libcmocka-dev zlib1g-dev dataset-fashion-mnist python3-h5py python3-numpy
          python3-matplotlib
          slurmctld slurmd slurm-client munge)   # a single-node Slurm for tests/slurm

say() { printf '[setup] %s\n' "$*"; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
    echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Dataset files come out of Debian packages without installing them (nor their
# dependencies, such as Java for weka): scikit-learn's bundled CSVs from
# python3-sklearn, Weka's example ARFF files from weka. Each is extracted into
# .deps/<name>/ unless the package is installed; lamarck looks there too.
# extract_deb PACKAGE DIR CHECK: unpacks PACKAGE's .deb into .deps/DIR unless
# CHECK (a path inside the package) exists on the system or already under .deps/DIR.
extract_deb() {
  local pkg=$1 dir=$2 check=$3
  [ -e "$check" ] || [ -e "$check.gz" ] || [ -e "$root/.deps/$dir$check" ] || [ -e "$root/.deps/$dir$check.gz" ] && return 0
  say "extracting $dir's files from the $pkg package"
  mkdir -p .deps/deb && rm -rf ".deps/$dir"
  (cd .deps/deb && rm -f "${pkg}"_*.deb &&
   { apt-get download "$pkg" >/dev/null 2>&1 ||
     { ${sudo:-} apt-get update -q >/dev/null && apt-get download "$pkg" >/dev/null; }; })
  dpkg-deb -x .deps/deb/"${pkg}"_*.deb ".deps/$dir"
}
sklearn_data=/usr/lib/python3/dist-packages/sklearn/datasets/data
weka_examples=/usr/share/doc/weka/examples
extract_deb python3-sklearn sklearn "$sklearn_data/wine_data.csv"
extract_deb weka weka "$weka_examples/vote.arff"

say "building (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE="${LAMARCK_BUILD_TYPE:-Release}" \
      -DLAMARCK_WERROR="${LAMARCK_WERROR:-OFF}" >/dev/null
cmake --build build -j "$(nproc)"

mkdir -p data
# lamarck finds the package files on the system or under .deps/ of this tree.
export LAMARCK_SOURCE_DIR="$root"
datasets=(fashion-mnist digits iris wine breast-cancer vote soybean credit-g diabetes segment
          ionosphere glass)
for d in "${datasets[@]}"; do
  [ -f "data/$d.h5" ] || build/lamarck data import "$d" --dir data
done
say "done: build/lamarck; datasets in data/ (list them: build/lamarck data list)"
