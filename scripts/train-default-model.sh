#!/usr/bin/env bash
# Trains the model that ships with genrekit (models/gtzan-default.safetensors, used by
# `genrekit predict` without --model) from the Kaggle GTZAN CSV, and checks that it is the
# committed file bit for bit (same x86-64 instruction set: see README).
#   scripts/train-default-model.sh           # train, compare with the committed file (exit 1 if they differ)
#   scripts/train-default-model.sh --write   # train and replace the committed file
# The shared data folder is ../shared beside the project root, or $GENREKIT_SHARED.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${GENREKIT_SHARED:-../shared}
[ -r "$shared/data/gtzan-dev/features_30_sec.csv" ] || { echo "$shared/data/gtzan-dev/features_30_sec.csv: not found (set GENREKIT_SHARED)" >&2; exit 1; }
[ -x build/bin/genrekit ] || scripts/build.sh
model=models/gtzan-default.safetensors
new=build/gtzan-default.new.safetensors
# The model stores the CSV path as given: train from a folder where it is ../shared/..., wherever the data is.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$(cd "$shared" && pwd)" "$work/shared"
mkdir "$work/root"
(cd "$work/root" && "$root/build/bin/genrekit" train --config "$root/configs/gtzan_default.json" \
   --data ../shared/data/gtzan-dev/features_30_sec.csv --out "$root/$new" --quiet)
rm -f "$new.log.csv"
if [ "${1:-}" = --write ]; then
  mkdir -p models
  mv "$new" "$model"
  echo "wrote $model ($(sha256sum "$model" | cut -c1-16))"
elif cmp -s "$new" "$model"; then
  echo "$model: identical to the committed file, bit for bit ($(sha256sum "$model" | cut -c1-16))"
  rm -f "$new"
else
  echo "$model: the model trained now ($new) differs from the committed file" >&2
  exit 1
fi
