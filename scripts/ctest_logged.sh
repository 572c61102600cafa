#!/usr/bin/env bash
# Runs ctest in build directory $1 (the rest of the arguments go to ctest,
# after --output-on-failure) and, when any test fails, appends to the file
# named by $LUMEN_FAILED_SUMMARY (if set) a block naming the phase ($2), each
# failed test and the last lines ctest printed for it. CI shows only the tail
# of its log: scripts/run_tests.sh prints that summary last, so a failure
# early in a long run is still seen. Exits with ctest's status.
set -uo pipefail
dir=$1 phase=$2
shift 2
log=$(mktemp "${TMPDIR:-/tmp}/lumen-ctest.XXXXXX")
# Made before ctest starts: a LastTestsFailed.log newer than it is this run's
# (the log itself is written until ctest's last line, after that file).
stamp=$(mktemp "${TMPDIR:-/tmp}/lumen-ctest-stamp.XXXXXX")
trap 'rm -f "$log" "$stamp"' EXIT
(cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ] && [ -n "${LUMEN_FAILED_SUMMARY:-}" ]; then
  {
    echo "--- $phase ($dir): ctest exited $status"
    failed="$dir/Testing/Temporary/LastTestsFailed.log"
    if [ -s "$failed" ] && [ "$failed" -nt "$stamp" ]; then
      while IFS=: read -r _ name; do
        echo "  FAILED: $name"
        # The status line of the test, then the output ctest printed for it.
        grep -n -m1 -E "Test +#[0-9]+: $name \.+.*(Failed|Timeout|Exception|Not Run)" "$log" |
          cut -d: -f1 | while read -r line; do
            sed -n "${line},$((line + 60))p" "$log" | sed 's/^/    | /'
          done
      done < "$failed"
    else
      tail -n 20 "$log" | sed 's/^/    | /'
    fi
  } >> "$LUMEN_FAILED_SUMMARY"
fi
exit "$status"
