#!/usr/bin/env bash
# The README's test command: install what is missing, configure, build, run
# every test with failures shown.
#   scripts/test.sh              Release build in build/, all tests (the kernel and golden ones once
#                                per instruction set), then the featurizer on emulated CPUs
#                                (scripts/qemu-check.sh)
#   scripts/test.sh --sanitize   AddressSanitizer + UBSan build in build-sanitize/,
#                                all tests but the whole-dataset ones (too slow there)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh --test  # the build's packages and the test-only ones (qemu-user)
if [ "${1:-}" = "--sanitize" ]; then
  scripts/build.sh build-sanitize -DGENREKIT_SANITIZE=address,undefined -DGENREKIT_BUILD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-sanitize --output-on-failure -j"$(nproc)" -E 'AllDev|Dataset'
else
  scripts/build.sh build -DGENREKIT_BUILD_BENCH=ON
  ctest --test-dir build --output-on-failure -j"$(nproc)"
  scripts/qemu-check.sh build
fi
