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
"$build/tutorial_actors"
"$build/tutorial_objects"  # ~800 MB arrays: needs a 4 GB /dev/shm and ~9 GB of RAM.
# The actor lifecycle cell needs a cluster that outlives one driver: a head
# node of this user's temp dir, two drivers one after the other, then stop.
lumen=$prefix/bin/lumen
"$lumen" start --head --port 0 --num-cpus 2 >/dev/null
stop_head() { "$lumen" stop --temp-dir "${LUMEN_TEMP_DIR:-/tmp/lumen-$(id -u)}" >/dev/null 2>&1 || true; }
trap stop_head EXIT
RAY_ADDRESS=auto "$build/tutorial_actors" lifecycle
RAY_ADDRESS=auto "$build/tutorial_actors" lifecycle-get
