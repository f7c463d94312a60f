#!/usr/bin/env bash
# `genrekit predict` of one 30 s wav, from process start to output (target: median <= 60 ms).
#   bench/predict_latency.sh [MODEL] [BUILD_DIR]
# MODEL defaults to the shipped models/gtzan-default.safetensors; without it a model is trained
# from configs/mlp_gtzan30.json first (not timed). Prints the median wall time of 15 runs, the
# median CPU time (user + sys: what the machine's other load does not change much) and the
# page faults of one run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-}
build=${2:-$root/build}
shared=${GENREKIT_SHARED:-$root/../shared}
gk="$build/bin/genrekit"
[ -x "$gk" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[ -d "$shared/data" ] || { echo "shared data not found: set GENREKIT_SHARED" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$model" ] && [ -f "$root/models/gtzan-default.safetensors" ]; then model="$root/models/gtzan-default.safetensors"; fi
if [ -z "$model" ]; then
  model="$tmp/model.safetensors"
  "$gk" train --config "$root/configs/mlp_gtzan30.json" --out "$model" > /dev/null
fi
wav="$shared/data/gtzan-dev/genres_original/blues/blues.00000.wav"
"$gk" predict --model "$model" "$wav" > /dev/null  # warm the page cache
walls=() cpus=()
for _ in $(seq 1 15); do
  start=$(date +%s%N)
  /usr/bin/time -f "%U %S %R" -o "$tmp/time" "$gk" predict --model "$model" "$wav" > /dev/null
  end=$(date +%s%N)
  walls+=($(( (end - start) / 1000000 )))
  cpus+=($(awk '{printf "%d", ($1 + $2) * 1000}' "$tmp/time"))
  faults=$(awk '{print $3}' "$tmp/time")
done
median() { printf '%s\n' "$@" | sort -n | sed -n '8p'; }
wall=$(median "${walls[@]}")
echo "predict, one 30 s wav, process start to output ($(basename "$model")): median ${wall} ms wall, $(median "${cpus[@]}") ms CPU (user+sys, 10 ms resolution) of 15 runs; ${faults} minor page faults (target 60 ms: $(awk -v m="$wall" 'BEGIN{printf "%.2fx", 60/m}') of target); load: $(cut -d' ' -f1-3 /proc/loadavg)"
