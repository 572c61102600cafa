#!/usr/bin/env bash
# Installs the dependencies, builds everything (Release, -j2) into build/,
# runs Clang's thread-safety analysis over the classes whose state a lock
# guards (scripts/thread_safety_check.sh) and every test (unit and
# integration) with a per-test timeout; then
# scripts/run_sanitizers.sh builds build-asan/ (ASan+UBSan) and build-tsan/
# (TSan) and runs the unit and task integration tests under each.
# Exits non-zero when anything fails. Extra arguments go to ctest
# (e.g. `scripts/run_tests.sh -L integration`) and skip the sanitizer runs,
# as does LUMEN_SANITIZERS=off.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
# Every failed test of every phase is listed again at the very end (see
# scripts/ctest_logged.sh): CI shows only the tail of the log.
export LUMEN_FAILED_SUMMARY
LUMEN_FAILED_SUMMARY=$(mktemp "${TMPDIR:-/tmp}/lumen-failed.XXXXXX")
trap 'rm -f "$LUMEN_FAILED_SUMMARY"' EXIT
status=0
if ! scripts/thread_safety_check.sh "${LUMEN_BUILD_DIR:-build}"; then
  status=1
  echo "--- thread_safety_check: a guarded field used without its lock (see above) ---" >> "$LUMEN_FAILED_SUMMARY"
fi
scripts/ctest_logged.sh "${LUMEN_BUILD_DIR:-build}" release \
  -j"${LUMEN_JOBS:-2}" --timeout "${LUMEN_TEST_TIMEOUT:-600}" "$@" || status=1
if [ $# -eq 0 ] && [ "${LUMEN_SANITIZERS:-on}" != off ]; then
  scripts/run_sanitizers.sh || status=1
fi
if [ "$status" -eq 0 ]; then
  echo "=== run_tests.sh: every test passed ==="
else
  echo "=== run_tests.sh: FAILED ==="
  cat "$LUMEN_FAILED_SUMMARY"
fi
exit "$status"
