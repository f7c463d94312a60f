#!/usr/bin/env bash
# Builds (Release) and runs every benchmark; each prints its ratio against the reference.
#   bench/run.sh            default flags (any x86-64)
#   bench/run.sh --native   -march=native build in build-native/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=build
extra=()
if [ "${1:-}" = "--native" ]; then build=build-native; extra=(-DGENREKIT_NATIVE=ON); fi
"$root/scripts/build.sh" "$build" -DGENREKIT_BUILD_BENCH=ON "${extra[@]}"
for b in "$root/$build"/bin/bench_*; do
  echo "=== $(basename "$b")"
  "$b"
done
echo "=== predict_latency"
"$root/bench/predict_latency.sh" "$root/$build"
