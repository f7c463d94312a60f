#!/bin/sh
# Artist groups for GTZAN from Sturm's artist-filtered 3-fold split: each fold's test list is one
# group, so no artist is in two groups. Sturm's filter leaves out 52 of the 1000 tracks (repeats,
# distortions, mislabellings); they have no group.
#   scripts/gtzan-artist-groups.sh OUT_DIR [SHARED_DIR]
# writes OUT_DIR/gtzan_artist_groups.csv (track,group; for --groups) and
# OUT_DIR/features_30_sec_grouped.csv (the Kaggle CSV's 948 grouped rows plus a `group` column).
set -eu
out=${1:?usage: scripts/gtzan-artist-groups.sh OUT_DIR [SHARED_DIR]}
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${2:-${GENREKIT_SHARED:-$here/../shared}}
folds=$shared/data/splits/sturm_artist_filtered_3fold
csv=$shared/data/gtzan-dev/features_30_sec.csv
for f in "$folds/f1_test.txt" "$csv"; do [ -r "$f" ] || { echo "$f: not found (give SHARED_DIR or set GENREKIT_SHARED)" >&2; exit 1; }; done
mkdir -p "$out"
# "./blues_00012.wav" -> "blues.00012,sturm1"
{ echo "track,group"
  for k in 1 2 3; do sed -e 's#^\./##' -e 's#_\([0-9]*\)\.wav.*#.\1#' -e "s#\$#,sturm$k#" "$folds/f${k}_test.txt"; done
} > "$out/gtzan_artist_groups.csv.tmp"
awk -F, 'NR == FNR { if (FNR > 1) g[$1] = $2; next }
         FNR == 1 { print $0 ",group"; next }
         { t = $1; sub(/\.wav$/, "", t); if (t in g) print $0 "," g[t] }' \
    "$out/gtzan_artist_groups.csv.tmp" "$csv" > "$out/features_30_sec_grouped.csv.tmp"
mv "$out/gtzan_artist_groups.csv.tmp" "$out/gtzan_artist_groups.csv"
mv "$out/features_30_sec_grouped.csv.tmp" "$out/features_30_sec_grouped.csv"
echo "wrote $out/gtzan_artist_groups.csv ($(($(wc -l < "$out/gtzan_artist_groups.csv") - 1)) tracks) and $out/features_30_sec_grouped.csv"
