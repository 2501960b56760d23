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
          python3-matplotlib)

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

# scikit-learn's bundled digits come out of the python3-sklearn .deb without installing
# it (and its dependencies): only the data file is needed.
digits_csv=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
if [ ! -f "$digits_csv" ]; then
  digits_csv="$root/.deps/sklearn/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
  if [ ! -f "$digits_csv" ]; then
    say "extracting digits.csv.gz from the python3-sklearn package"
    mkdir -p .deps/deb && rm -rf .deps/sklearn
    (cd .deps/deb && rm -f python3-sklearn_*.deb &&
     { apt-get download python3-sklearn >/dev/null 2>&1 ||
       { ${sudo:-} apt-get update -q >/dev/null && apt-get download python3-sklearn >/dev/null; }; })
    dpkg-deb -x .deps/deb/python3-sklearn_*.deb .deps/sklearn
  fi
fi

say "building (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE="${LAMARCK_BUILD_TYPE:-Release}" \
      -DLAMARCK_WERROR="${LAMARCK_WERROR:-OFF}" >/dev/null
cmake --build build -j "$(nproc)"

mkdir -p data
[ -f data/fashion-mnist.h5 ] || build/lamarck data import fashion-mnist --dir data
[ -f data/digits.h5 ] || build/lamarck data import digits --source "$digits_csv" --dir data
say "done: build/lamarck, data/fashion-mnist.h5, data/digits.h5"
