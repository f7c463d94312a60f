#!/usr/bin/env bash
# Fuzzes genrekit's input readers with libFuzzer under AddressSanitizer + UBSan:
#   scripts/fuzz.sh [SECONDS [HARNESS...]]   each harness in fuzz/ (or those named, e.g. fuzz_csv)
#                                            for SECONDS (default 60), one after another
# Builds only the harnesses, with clang, in build-fuzz/. Each harness starts from a seed corpus
# made of the project's own fixtures (fuzz/seeds/<kind>/: small audio files, CSVs, and links to
# tests/data/ models and configs/) and the inputs that once crashed it (fuzz/regressions/), and
# keeps what it finds in build-fuzz/corpus/<harness>/. A crash is saved as
# build-fuzz/crashes/<harness>/crash-* (reproduce: build-fuzz/bin/<harness> <that file>) and
# makes the script fail; once fixed, the input goes to fuzz/regressions/<harness>/, which the
# test suite replays (ctest -R fuzz_regressions).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
harnesses=(fuzz_audio fuzz_csv fuzz_model fuzz_config)
[ $# -gt 1 ] && harnesses=("${@:2}")
scripts/install-deps.sh --test  # clang and libFuzzer are test packages
build=${GENREKIT_FUZZ_BUILD:-build-fuzz}  # the build directory
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGENREKIT_FUZZ=ON \
  -DGENREKIT_SANITIZE=address,undefined -DGENREKIT_BUILD_TESTS=OFF -DGENREKIT_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null

export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 LSAN_OPTIONS=suppressions=$root/fuzz/lsan.supp
failed=0
summary="harness        seconds  execs/s     execs  corpus  crashes"
for h in "${harnesses[@]}"; do
  corpus=$build/corpus/$h crashes=$build/crashes/$h log=$build/fuzz-$h.log
  cmake --build "$build" -j"$(nproc)" --target "$h"  # each harness builds only the layers it reads with
  rm -rf "$crashes" && mkdir -p "$corpus" "$crashes"  # only this run's crashes count
  status=0
  "$build/bin/$h" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$corpus" "fuzz/seeds/${h#fuzz_}" "fuzz/regressions/$h" >"$log" 2>&1 || status=$?
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(find "$crashes" -type f | wc -l)
  summary+=$(printf '\n%-14s %7s  %7s  %8s  %6s  %7s' "$h" "$seconds" "${rate:-?}" "${execs:-?}" "$(find "$corpus" -type f | wc -l)" "$found")
  if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    echo "$h: FAILED (exit $status); log: $log" >&2
    grep -m5 -E 'ERROR|runtime error|non-genrekit|cannot read back|Test unit written' "$log" >&2 || tail -20 "$log" >&2
  fi
done
echo "$summary"
exit $failed
