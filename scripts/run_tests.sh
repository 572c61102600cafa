#!/usr/bin/env bash
# Installs the dependencies, builds everything (Release, -j2) into build/ and
# runs every test (unit and integration) with a per-test timeout.
# Exits non-zero when anything fails. Extra arguments go to ctest
# (e.g. `scripts/run_tests.sh -L integration`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
cd "${LUMEN_BUILD_DIR:-build}"
ctest --output-on-failure -j"${LUMEN_JOBS:-2}" --timeout "${LUMEN_TEST_TIMEOUT:-600}" "$@"
