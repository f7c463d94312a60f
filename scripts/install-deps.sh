#!/usr/bin/env bash
# Installs the Debian packages genrekit builds with, if any are missing.
# As root it runs apt-get; otherwise it prints the exact command and stops.
#   scripts/install-deps.sh           what the build needs (the demo path)
#   scripts/install-deps.sh --test    also what the extra test checks use (scripts/test.sh)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libeigen3-dev        # matrices for the DSP and the neural nets
  libsndfile1-dev      # audio decoding: wav, au, aiff, flac, ogg, mp3
  libkissfft-dev       # FFT for the STFT
  libsoxr-dev          # resampling (the resampler librosa itself moved to)
  libmpg123-dev        # mp3 decoding, quietly (libsndfile's own use of it prints to stderr)
  libcli11-dev         # command-line parsing
  nlohmann-json3-dev   # JSON configs, model metadata, reports
  libpng-dev           # images embedded in the SVG pictures (spectrograms, Grad-CAM)
  libgtest-dev         # unit and golden tests
  libbenchmark-dev     # benchmarks in bench/
)
# Only for tests: without them the check that needs them skips, saying so.
test_packages=(
  qemu-user            # scripts/qemu-check.sh: the featurizer on emulated AVX2-only and SSE-only CPUs
  parallel             # test_shard: the GNU parallel recipe of the README (featurize --shard)
  openmpi-bin          # test_mpi_train: mpirun -np 2 and 4 data-parallel training (GENREKIT_MPI)
  libopenmpi-dev
  chromium             # test_plots: renders every kind of SVG picture in a real browser
  libxml2-utils        # test_plots: xmllint checks that every SVG is well-formed XML
  clang libfuzzer-14-dev  # scripts/fuzz.sh: the libFuzzer harnesses in fuzz/
)
[ "${1:-}" = "--test" ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "genrekit needs these Debian packages: ${missing[*]}" >&2
  echo "Run as root:  $cmd" >&2
  exit 1
fi
echo "Installing: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
