#!/usr/bin/env bash
# Installs the dependencies, builds Lumen (Release, -j2) into build/ and runs
# the tutorial examples (examples/run_all.sh). Without examples it shows the
# cluster life cycle instead: lumen start --head, lumen status, lumen stop.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
BIN="$(pwd)/${LUMEN_BUILD_DIR:-build}/bin"
export PATH="$BIN:$PATH"
if [ -x examples/run_all.sh ]; then
  exec examples/run_all.sh
fi
echo "== no examples/run_all.sh yet: starting, inspecting and stopping a local cluster =="
LUMEN_TEMP_DIR="$(mktemp -d /tmp/lumen-tutorial-XXXXXX)"
export LUMEN_TEMP_DIR
trap 'lumen stop --force >/dev/null 2>&1 || true; rm -rf "$LUMEN_TEMP_DIR"' EXIT
lumen start --head --port 0 --num-cpus 2 --object-store-memory 100000000
lumen status
lumen stop
