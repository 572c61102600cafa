#!/usr/bin/env bash
# Builds the tutorial examples against an installed Lumen and runs them.
# Usage: examples/run_all.sh <lumen install prefix>
set -euo pipefail
prefix=${1:?usage: run_all.sh <lumen install prefix>}
here=$(cd "$(dirname "$0")" && pwd)
build=${LUMEN_EXAMPLES_BUILD:-$here/../build-examples}
cmake -S "$here" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$build" -j2 >/dev/null
"$build/tutorial_tasks"
