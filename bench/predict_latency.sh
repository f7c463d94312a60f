#!/usr/bin/env bash
# Issue #4 benchmark: `genrekit predict` of one 30 s wav, from process start to output.
# Target <= 150 ms. Trains a small model on the Kaggle CSV first (not timed).
#   bench/predict_latency.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shared=${GENREKIT_SHARED:-$root/../shared}
gk="$build/bin/genrekit"
[ -x "$gk" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[ -d "$shared/data" ] || { echo "shared data not found: set GENREKIT_SHARED" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$gk" train --config "$root/configs/mlp_gtzan30.json" --out "$tmp/model.safetensors" > /dev/null
wav="$shared/data/gtzan-dev/genres_original/blues/blues.00000.wav"
"$gk" predict --model "$tmp/model.safetensors" "$wav" > /dev/null  # warm the page cache
times=()
for _ in $(seq 1 15); do
  start=$(date +%s%N)
  "$gk" predict --model "$tmp/model.safetensors" "$wav" > /dev/null
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000000 )))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n '8p')
echo "predict, one 30 s wav, process start to output: median ${median} ms of 15 runs (target 150 ms: $(awk -v m="$median" 'BEGIN{printf "%.2fx", 150/m}') of target); load: $(cut -d' ' -f1-3 /proc/loadavg)"
