#!/usr/bin/env bash
# Installs what is missing, then configures and builds genrekit (Release) into
# the build directory given as $1 (default: build). Extra arguments go to cmake.
#   GENREKIT_TARGET=genrekit scripts/build.sh   builds that target only (the demo needs no tests)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shift || true
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$root/$build" -j"$(nproc)" ${GENREKIT_TARGET:+--target "$GENREKIT_TARGET"}
