#!/usr/bin/env bash
# Installs the dependencies, builds Lumen (Release, -j2) into build/, installs
# it into build/install (`cmake --install`), then builds the tutorial examples
# as an out-of-tree project against that prefix (find_package(Lumen)) and runs
# them (examples/run_all.sh). The example starts its own private local
# cluster at ray::Init() and stops it at ray::Shutdown().
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
BUILD_DIR="$(pwd)/${LUMEN_BUILD_DIR:-build}"
PREFIX="$BUILD_DIR/install"
cmake --install "$BUILD_DIR" --prefix "$PREFIX" >/dev/null
# Use the daemons just installed, and keep sessions and logs in a private
# directory that goes away afterwards (after stopping anything left in it).
export PATH="$PREFIX/bin:$PATH"
export LUMEN_BIN_DIR="$PREFIX/bin"
export LUMEN_EXAMPLES_BUILD="$BUILD_DIR/examples"
LUMEN_TEMP_DIR="$(mktemp -d /tmp/lumen-tutorial-XXXXXX)"
export LUMEN_TEMP_DIR
unset RAY_ADDRESS
cleanup() {
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "== run_tutorial.sh failed (exit $rc); last lines of the cluster logs: ==" >&2
    for log in "$LUMEN_TEMP_DIR"/session_*/logs/*; do
      [ -f "$log" ] || continue
      echo "-- $log" >&2
      tail -n 20 "$log" >&2
    done
  fi
  lumen stop --force --temp-dir "$LUMEN_TEMP_DIR" >/dev/null 2>&1 || true  # only this run's
  rm -rf "$LUMEN_TEMP_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
examples/run_all.sh "$PREFIX"
