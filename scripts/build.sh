#!/usr/bin/env bash
# Configures and builds Lumen (Release) into build/ with -j2 (or $LUMEN_JOBS).
# Usage: scripts/build.sh [extra cmake --build args, e.g. --target lumen]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${LUMEN_BUILD_DIR:-build}"
JOBS="${LUMEN_JOBS:-2}"
GENERATOR=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  GENERATOR=(-G Ninja)
fi
cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" -j"$JOBS" "$@"
