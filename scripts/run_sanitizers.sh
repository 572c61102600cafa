#!/usr/bin/env bash
# Builds Lumen under AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ and under ThreadSanitizer into build-tsan/ (-j2 or $LUMEN_JOBS,
# benchmarks off, -O1 -g1; see LUMEN_SANITIZER in CMakeLists.txt; only the
# targets the runs below need) and runs
# under each the unit tests (every test without the `integration` label) and
# the task and actor integration tests (tasks_test, tasks_nested_test,
# tasks_gpu_test, tasks_scale_test, tasks_lease_test, actors_test),
# with a per-test timeout. Exits non-zero if any test fails or any process
# (test, daemon or worker) writes a sanitizer report: ctest starts the tests
# through scripts/sanitizers/run_test.sh, which checks for reports.
# Usage: scripts/run_sanitizers.sh [address] [thread]   (default: both)
# Extra ctest arguments may be given in $LUMEN_SANITIZER_CTEST_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS="${LUMEN_JOBS:-2}"
TIMEOUT="${LUMEN_TEST_TIMEOUT:-600}"
SUPP="$ROOT/scripts/sanitizers"
TASK_TESTS='^(tasks(_nested|_gpu|_scale|_lease)?|actors)_test$'
read -r -a CTEST_EXTRA <<< "${LUMEN_SANITIZER_CTEST_ARGS:-}"
SANITIZERS=("$@")
[ ${#SANITIZERS[@]} -eq 0 ] && SANITIZERS=(address thread)

# Options for every process the tests start (children inherit them).
# run_test.sh adds log_path= per test and fails a test whose process tree
# wrote any report. So TSan and UBSan need not halt: the cluster keeps
# running, the test ends normally and one run shows every report (a daemon
# that halted would leave the test waiting for it until the timeout). ASan
# always halts at its first error. Suppressions: third-party code only.
# detect_leaks covers the tests and the daemons (stopped with SIGTERM, they
# exit normally); workers are SIGKILLed by their raylet and skip it.
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=1 check_initialization_order=1 strict_init_order=1 detect_stack_use_after_return=1"
# (ASan, LSan and UBSan need no suppressions: none of their reports so far
# came from third-party code. Add scripts/sanitizers/{lsan,ubsan}.supp and a
# suppressions= here if one ever does.)
export LSAN_OPTIONS=""
export UBSAN_OPTIONS="halt_on_error=0 print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 suppressions=$SUPP/tsan.supp"
# Reports of a test killed outright (no chance to print them) stay here.
export LUMEN_SANITIZER_REPORTS
LUMEN_SANITIZER_REPORTS=$(mktemp -d "${TMPDIR:-/tmp}/lumen-sanitizers.XXXXXX")
trap 'rm -rf "$LUMEN_SANITIZER_REPORTS"' EXIT

status=0
for san in "${SANITIZERS[@]}"; do
  case "$san" in
    address) dir=build-asan ;;
    thread) dir=build-tsan ;;
    *) echo "unknown sanitizer '$san' (address or thread)" >&2; exit 2 ;;
  esac
  GENERATOR=()
  if command -v ninja >/dev/null 2>&1 && [ ! -f "$dir/CMakeCache.txt" ]; then
    GENERATOR=(-G Ninja)
  fi
  echo "=== $san sanitizer: building $dir ==="
  start=$SECONDS
  cmake -S . -B "$dir" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLUMEN_SANITIZER="$san" -DLUMEN_BUILD_BENCH=OFF >/dev/null
  # Only what the sanitizer runs use: their test executables (tests run by a
  # script in tests/ need only the daemons) and the daemons and workers the
  # tests start. The other integration tests, their drivers and the examples
  # are left out: about a third of the tree, minutes of CI per sanitizer.
  targets=(lumen lumen-gcs lumen-raylet lumen-plasma lumen-worker lumen-dashboard
           lumen-raylet-fake-worker)
  while read -r name; do
    [ -e "tests/$name.sh" ] || targets+=("$name")
  done < <( (cd "$dir" && { ctest -N -LE integration; ctest -N -R "$TASK_TESTS"; }) |
              sed -n 's/^ *Test *#[0-9]*: //p')
  cmake --build "$dir" -j"$JOBS" --target "${targets[@]}"
  echo "=== $san sanitizer: built in $((SECONDS - start)) s; running tests ==="
  start=$SECONDS
  scripts/ctest_logged.sh "$dir" "$san unit" -j"$JOBS" --timeout "$TIMEOUT" -LE integration \
    "${CTEST_EXTRA[@]}" || status=1
  scripts/ctest_logged.sh "$dir" "$san tasks" -j"$JOBS" --timeout "$TIMEOUT" -R "$TASK_TESTS" \
    "${CTEST_EXTRA[@]}" || status=1
  echo "=== $san sanitizer: tests took $((SECONDS - start)) s ==="
  for f in "$LUMEN_SANITIZER_REPORTS"/*/report.*; do
    [ -e "$f" ] || continue
    echo "===== sanitizer report of a killed test: $f =====" >&2
    cat "$f" >&2
    [ -n "${LUMEN_FAILED_SUMMARY:-}" ] &&
      { echo "--- $san: sanitizer report of a killed test: $f"; head -n 30 "$f"; } >> "$LUMEN_FAILED_SUMMARY"
    status=1
  done
  rm -rf "${LUMEN_SANITIZER_REPORTS:?}"/*
done
exit "$status"
