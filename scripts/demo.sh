#!/usr/bin/env bash
# The README's main-job command: featurize -> train -> eval -> predict.
#   scripts/demo.sh                 on the project's own generated dataset (4 styles)
#   scripts/demo.sh DATASET_FOLDER  on a folder of labelled sub-folders (e.g. GTZAN genres_original/)
# Installs what is missing, builds, and writes everything under out/demo/ (out/<folder>/ for a dataset).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GENREKIT_TARGET=genrekit scripts/build.sh build >/dev/null  # the tool only: no tests, no benchmarks
gk="$root/build/bin/genrekit"
out="$root/out/demo"

if [ $# -ge 1 ]; then
  [ -d "$1" ] || { echo "demo: $1 is not a folder of labelled sub-folders" >&2; exit 1; }
  data=$(cd "$1" && pwd)
  out="$root/out/$(basename "$data")"
  echo "== dataset: $data (outputs in $out)"
else
  data="$out/audio"
  if [ ! -d "$data" ]; then
    echo "== generating the demo dataset (4 styles x 24 clips of 10 s) in $data"
    "$gk" synth -o "$data" --clips 24 --seconds 10 --seed 1
  fi
fi

mkdir -p "$out"

# A leak-free split by file: every 5th file of each label (in sorted order) is held out for
# testing; the model never sees those files, and eval/predict use only them.
echo "== splitting files: 80 % train, 20 % test, per label"
find "$data" -type f \( -iname '*.wav' -o -iname '*.au' -o -iname '*.aif' -o -iname '*.aiff' \
  -o -iname '*.flac' -o -iname '*.ogg' -o -iname '*.mp3' \) | LC_ALL=C sort |
  awk -v train="$out/train.manifest.csv" -v test="$out/test.manifest.csv" '
    BEGIN { print "path,label" > train; print "path,label" > test }
    { n = split($0, parts, "/"); label = parts[n - 1]; count[label]++
      if (count[label] % 5 == 0) print $0 "," label > test; else print $0 "," label > train }'
holdout=$(sed -n '2p' "$out/test.manifest.csv" | cut -d, -f1)

echo "== featurize"
"$gk" featurize --manifest "$out/train.manifest.csv" -o "$out/train.csv" -q
"$gk" featurize --manifest "$out/test.manifest.csv" -o "$out/test.csv" -q
echo "   $(($(wc -l < "$out/train.csv") - 1)) training rows, $(($(wc -l < "$out/test.csv") - 1)) test rows"

echo "== train"
"$gk" train --config configs/demo_mlp.json --data "$out/train.csv" --out "$out/model.safetensors"

echo "== eval on the held-out test files"
"$gk" eval --model "$out/model.safetensors" --data "$out/test.csv" --json "$out/eval.json" --svg "$out/confusion.svg"

echo "== predict a held-out clip: $holdout"
"$gk" predict --model "$out/model.safetensors" "$holdout" --top 3

shipped="$root/models/gtzan-default.safetensors"
if [ -f "$shipped" ]; then
  echo "== predict the same clip with the shipped GTZAN model"
  "$gk" predict --model "$shipped" "$holdout" --top 3
fi

echo "== done: model, log, eval report and confusion matrix are in $out/"
