#!/usr/bin/env bash
# The featurizer on CPUs this machine is not, so the AVX2 and baseline kernels are chosen by the
# CPU itself rather than by GENREKIT_ISA: qemu-x86_64 -cpu Haswell (AVX2 + FMA, no AVX-512) and
# -cpu Nehalem (neither). For each emulated CPU:
#   1. `genrekit info` reports that instruction set, in use and supported;
#   2. FeaturizeKaggle.ThreeDevTracks30sMatchTheKaggleCsv (tests/test_featurize_kaggle.cpp) passes:
#      blues.00000, metal.00000 and classical.00000 against the Kaggle CSV, rtol 1e-4;
#   3. `genrekit featurize` of those three tracks writes the same bytes as on this machine's own
#      CPU (the bits contract: every instruction set gives the same features).
# Skips, saying why, when qemu-x86_64 (Debian package qemu-user) or the shared data is absent.
# Takes a few minutes (emulation is ~100x slower than the native run).
#   scripts/qemu-check.sh [build-dir]      default: build (needs genrekit and test_featurize_kaggle)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/${1:-build}/bin

skip() { echo "qemu-check: skipped: $*"; exit 0; }
[ "$(uname -m)" = x86_64 ] || skip "not an x86-64 machine"
command -v qemu-x86_64 >/dev/null || skip "qemu-x86_64 not found (Debian package qemu-user; scripts/install-deps.sh --test)"
shared=${GENREKIT_SHARED:-$root/../shared}
audio=$shared/data/gtzan-dev/genres_original
tracks=("$audio/blues/blues.00000.wav" "$audio/metal/metal.00000.wav" "$audio/classical/classical.00000.wav")
for t in "${tracks[@]}" "$shared/data/gtzan-dev/features_30_sec.csv"; do
  [ -f "$t" ] || skip "shared data not found ($t; set GENREKIT_SHARED)"
done
for b in genrekit test_featurize_kaggle; do
  [ -x "$bin/$b" ] || { echo "qemu-check: $bin/$b not built" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GENREKIT_SHARED=$shared
unset GENREKIT_ISA  # the emulated CPU alone decides
"$bin/genrekit" featurize "${tracks[@]}" -o "$tmp/native.csv" --quiet

failed=0
fail() { echo "qemu-check: FAILED on $cpu: $*"; failed=1; }
for spec in Haswell:avx2 Nehalem:baseline; do
  cpu=${spec%%:*} isa=${spec#*:}
  start=$SECONDS
  # qemu warns on stderr about host features TCG lacks (pcid, rtm, ...): not ours, dropped.
  qemu=(qemu-x86_64 -cpu "$cpu")
  info=$("${qemu[@]}" "$bin/genrekit" info 2>/dev/null | grep '^instruction set:' || true)
  [[ $info == "instruction set: $isa in use, $isa supported by this CPU"* ]] || fail "genrekit info says '$info', expected $isa"
  if "${qemu[@]}" "$bin/test_featurize_kaggle" --gtest_filter=FeaturizeKaggle.ThreeDevTracks30sMatchTheKaggleCsv \
       >"$tmp/$cpu.test.log" 2>&1 && grep -q '^\[  PASSED  \] 1 test' "$tmp/$cpu.test.log"; then
    grep -m1 -A3 "^\[30 s mode" "$tmp/$cpu.test.log" | sed 's/^/  /'
  else
    grep -v "^qemu-x86_64: warning" "$tmp/$cpu.test.log" | tail -40
    fail "golden comparison (log above)"
  fi
  "${qemu[@]}" "$bin/genrekit" featurize "${tracks[@]}" -o "$tmp/$cpu.csv" --quiet 2>/dev/null || fail "featurize exited $?"
  cmp -s "$tmp/native.csv" "$tmp/$cpu.csv" || fail "featurize output differs from the native run's bytes"
  echo "qemu-check: $cpu ($isa): $([ $failed = 0 ] && echo ok || echo FAILED) in $((SECONDS - start)) s"
done
exit $failed
