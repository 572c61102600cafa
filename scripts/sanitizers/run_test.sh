#!/usr/bin/env bash
# Runs one test of a sanitizer build: `run_test.sh <test executable> [args]`.
# CMake makes it the launcher of every test when LUMEN_SANITIZER is set.
#
# Every sanitizer report of the test's process tree (the test itself, and
# the daemons and workers it spawns, whose stderr goes to session log files
# deleted at shutdown) goes to a file of a private directory (log_path=, one
# file per pid). The test fails when any such file exists, whatever its exit
# status, and the reports are printed to stderr, which
# `ctest --output-on-failure` shows. On SIGTERM or SIGINT (a ctest timeout)
# the test is stopped and its reports are printed all the same. The
# directory lives under $LUMEN_SANITIZER_REPORTS when set, where
# scripts/run_sanitizers.sh looks for reports of tests killed outright.
# The sanitizer options themselves (suppressions, halt_on_error, exit codes)
# come from the environment; scripts/run_sanitizers.sh sets them.
set -uo pipefail
root="${LUMEN_SANITIZER_REPORTS:-${TMPDIR:-/tmp}}"
reports=$(mktemp -d "$root/$(basename "$1").XXXXXX") || exit 2
for var in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS; do
  export "$var=${!var:-} log_path=$reports/report"
done

child=
stop() {
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  wait "$child" 2>/dev/null
  echo "run_test.sh: test stopped by a signal" >&2
  report 1
}
report() {
  local rc=$1 f found
  shopt -s nullglob
  found=("$reports"/report.*)
  if [ ${#found[@]} -gt 0 ]; then
    for f in "${found[@]}"; do
      echo "===== sanitizer report of pid ${f##*.} =====" >&2
      cat "$f" >&2
    done
    echo "FAILED: ${#found[@]} process(es) wrote sanitizer reports (test exit status $rc)" >&2
    [ "$rc" -eq 0 ] && rc=1
  fi
  rm -rf "$reports"
  exit "$rc"
}
trap stop TERM INT
"$@" &
child=$!
wait "$child"
rc=$?
report "$rc"
