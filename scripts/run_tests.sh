#!/usr/bin/env bash
# Installs the dependencies, builds everything (Release, -j2) into build/ and
# runs every test (unit and integration) with a per-test timeout; then
# scripts/run_sanitizers.sh builds build-asan/ (ASan+UBSan) and build-tsan/
# (TSan) and runs the unit and task integration tests under each.
# Exits non-zero when anything fails. Extra arguments go to ctest
# (e.g. `scripts/run_tests.sh -L integration`) and skip the sanitizer runs,
# as does LUMEN_SANITIZERS=off.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
status=0
(cd "${LUMEN_BUILD_DIR:-build}" &&
  ctest --output-on-failure -j"${LUMEN_JOBS:-2}" --timeout "${LUMEN_TEST_TIMEOUT:-600}" "$@") ||
  status=1
if [ $# -eq 0 ] && [ "${LUMEN_SANITIZERS:-on}" != off ]; then
  scripts/run_sanitizers.sh || status=1
fi
exit "$status"
