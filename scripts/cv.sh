#!/usr/bin/env bash
# k-fold cross-validation by track with any training config: trains fold 0..k-1 with
#   --set split.kind=kfold --set split.k=K --set split.fold=F
# and prints each fold's test accuracy (track level for segment and spectrogram models) and
# the mean +- sample standard deviation.
#   scripts/cv.sh build-cnn/bin/genrekit configs/cnn_gtzan.json 5 [--set key=value ...]
set -euo pipefail
bin=$1; cfg=$2; k=$3; shift 3
out=$(mktemp -d)
accs=()
for ((f = 0; f < k; f++)); do
  "$bin" train --config "$cfg" --quiet --set split.kind=kfold --set split.k="$k" --set split.fold="$f" "$@" \
    --out "$out/fold$f.safetensors" > "$out/fold$f.log"
  line=$(grep '^metrics: ' "$out/fold$f.log" | sed 's/^metrics: //')
  acc=$(echo "$line" | grep -o '"test":{[^}]*}' | grep -o '"track_accuracy":[0-9.e-]*' | cut -d: -f2 || true)
  [ -n "$acc" ] || acc=$(echo "$line" | grep -o '"test":{[^}]*}' | grep -o '"accuracy":[0-9.e-]*' | cut -d: -f2)
  echo "fold $f: test accuracy $acc"
  accs+=("$acc")
done
printf '%s\n' "${accs[@]}" | awk -v k="$k" '{s+=$1; ss+=$1*$1; n++} END {m=s/n; sd=(n>1)?sqrt((ss-n*m*m)/(n-1)):0; printf "mean %.4f +- %.4f (sd over %d folds)\n", m, sd, n}'
echo "logs and models: $out"
