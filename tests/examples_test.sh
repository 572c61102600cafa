#!/usr/bin/env bash
# examples_out_of_tree: installs the current build into a fresh prefix, builds
# examples/ against it as an out-of-tree project (find_package(Lumen)), runs
# the tutorial (which starts and stops a private local cluster) and checks its
# output. Leaves no files and no processes behind.
# Usage: tests/examples_test.sh <lumen build dir>
set -euo pipefail
build_dir=$(cd "${1:?usage: examples_test.sh <lumen build dir>}" && pwd)
examples=$(cd "$(dirname "$0")/../examples" && pwd)

tmp=$(mktemp -d /tmp/lumen-ex-XXXXXX)
prefix=$tmp/prefix
ex_build=$tmp/build
export LUMEN_TEMP_DIR=$tmp/t   # sessions, sockets and logs of the private cluster
export LUMEN_BIN_DIR=$prefix/bin  # the installed daemons, not the build tree's
unset RAY_ADDRESS

# Processes of this run: executables under $tmp (the installed daemons, the
# tutorial driver and its workers) or a command line mentioning $tmp.
ours() {
  local p exe
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$$" ] && continue
    exe=$(readlink "/proc/$p/exe" 2>/dev/null) || exe=""
    if [[ "$exe" == "$tmp"/* ]] || tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$tmp"; then
      echo "$p"
    fi
  done
}

cleanup() {
  local rc=$? pids
  # Scoped to this test's temp dir: a bare `lumen stop` stops every Lumen
  # process of the user, the clusters of tests running beside this one too.
  if [ -x "$prefix/bin/lumen" ]; then
    "$prefix/bin/lumen" stop --force --temp-dir "$LUMEN_TEMP_DIR" >/dev/null 2>&1 || true
  fi
  pids=$(ours || true)
  if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null || true; fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

shown=0
fail() {
  echo "FAIL: $*" >&2
  if [ -f "$tmp/out.txt" ] && [ "$shown" = 0 ]; then echo "--- tutorial_tasks output:" >&2; cat "$tmp/out.txt" >&2; fi
  for log in "$LUMEN_TEMP_DIR"/session_*/logs/*; do
    [ -f "$log" ] || continue
    echo "--- $log (last 30 lines)" >&2
    tail -n 30 "$log" >&2
  done
  exit 1
}

echo "== installing $build_dir into $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed (is everything built?)"; }
for b in lumen lumen-gcs lumen-raylet lumen-plasma lumen-worker; do
  [ -x "$prefix/bin/$b" ] || fail "$prefix/bin/$b not installed"
done
if ldd "$prefix/bin/lumen-worker" | grep -q "not found"; then
  ldd "$prefix/bin/lumen-worker" >&2
  fail "installed lumen-worker cannot find its libraries"
fi

echo "== building examples/ against the installed Lumen"
cmake -S "$examples" -B "$ex_build" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log" >&2; fail "configuring examples/ failed"; }
cmake --build "$ex_build" -j2 >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; fail "building examples/ failed"; }

echo "== running tutorial_tasks"
rc=0 shown=0
timeout -k 10 180 "$ex_build/tutorial_tasks" >"$tmp/out.txt" 2>&1 || rc=$?
cat "$tmp/out.txt"; shown=1
[ "$rc" -eq 0 ] || fail "tutorial_tasks exited with $rc (124: timed out)"

out=$tmp/out.txt
count() { grep -cF -- "$1" "$out" || true; }
[ "$(count 'Results: [0, 1, 4, 9, 16, 25, 36, 49]')" -eq 2 ] ||
  fail "expected 'Results: [0, 1, 4, 9, 16, 25, 36, 49]' twice (sequential and parallel)"
grep -qF -- "'CPU': 4.0" "$out" || fail "expected \"'CPU': 4.0\" in the cluster resources"
grep -qE -- '^\(fetch_data pid=[0-9]+\) ' "$out" || fail "expected a '(fetch_data pid=...)' prefixed worker line"
grep -qxF -- "Result: combined(['processed(data_from_db)', 'processed(data_from_api)', 'processed(data_from_cache)'])" "$out" ||
  fail "expected the combined DAG result"
[ "$(grep -cE '^Got result: [0-9]+$' "$out" || true)" -eq 10 ] || fail "expected ten 'Got result:' lines"
got=$(grep -E '^Got result: [0-9]+$' "$out" | sed 's/^Got result: //' | sort -n | tr '\n' ' ')
[ "$got" = "0 1 2 3 4 5 6 7 8 9 " ] || fail "expected results 0..9 from ray::Wait, got: $got"

echo "== running tutorial_actors"
out=$tmp/actors.txt
rc=0
timeout -k 10 180 "$ex_build/tutorial_actors" >"$out" 2>&1 || rc=$?
cat "$out"
[ "$rc" -eq 0 ] || fail "tutorial_actors exited with $rc (124: timed out)"
grep -qxF -- "Counter after increment: 11" "$out" || fail "expected 'Counter after increment: 11'"
grep -qxF -- "[12, 13, 14, 15, 16]" "$out" || fail "expected '[12, 13, 14, 15, 16]'"
# DataStore after ten writer tasks: key_5 -> 5, key_10 -> None.
grep -A2 -xF -- "== DataStore shared by ten tasks ==" "$out" | tail -2 | tr '\n' ' ' | grep -qxF -- "5 None " ||
  fail "expected the DataStore lines '5' and 'None'"

echo "== running tutorial_objects"
out=$tmp/objects.txt
rc=0
timeout -k 10 300 "$ex_build/tutorial_objects" >"$out" 2>&1 || rc=$?
cat "$out"
[ "$rc" -eq 0 ] || fail "tutorial_objects exited with $rc (124: timed out)"
grep -qE -- '^ObjectRef\([0-9a-f]{56}\)$' "$out" || fail "expected the array's 'ObjectRef(<hex>)' line"
grep -qxF -- "(10000, 10000)" "$out" || fail "expected the shape '(10000, 10000)'"
grep -qxF -- "all equal: yes" "$out" || fail "expected the five sums by ref to be equal"
grep -qE -- '^Speedup: [0-9]+\.[0-9]+x$' "$out" || fail "expected a measured 'Speedup: N.NNx'"
grep -qE -- '^Results \(all same\): [0-9]+\.[0-9]+$' "$out" || fail "expected 'Results (all same): <sum>'"

echo "== actor lifecycle: two drivers on a lumen start cluster"
"$prefix/bin/lumen" start --head --port 0 --num-cpus 2 >"$tmp/head.txt" 2>&1 ||
  { cat "$tmp/head.txt" >&2; fail "lumen start --head failed"; }
rc=0
RAY_ADDRESS=auto timeout -k 10 120 "$ex_build/tutorial_actors" lifecycle >"$tmp/life1.txt" 2>&1 || rc=$?
cat "$tmp/life1.txt"
[ "$rc" -eq 0 ] || fail "tutorial_actors lifecycle exited with $rc"
grep -qxF -- "worker-1 did work" "$tmp/life1.txt" || fail "expected 'worker-1 did work'"
[ "$(grep -cxF -- "global did work" "$tmp/life1.txt" || true)" -eq 2 ] || fail "expected 'global did work' twice"
grep -qE -- '^\(Worker pid=[0-9]+\) Worker worker-1 started$' "$tmp/life1.txt" ||
  fail "expected the actor's '(Worker pid=...) Worker worker-1 started' line"
rc=0
RAY_ADDRESS=auto timeout -k 10 120 "$ex_build/tutorial_actors" lifecycle-get >"$tmp/life2.txt" 2>&1 || rc=$?
cat "$tmp/life2.txt"
[ "$rc" -eq 0 ] || fail "tutorial_actors lifecycle-get exited with $rc (the detached actor did not outlive its driver?)"
grep -qxF -- "global did work (same actor, new driver)" "$tmp/life2.txt" || fail "expected the second driver to reach global_worker"
grep -qxF -- "global_worker killed: yes" "$tmp/life2.txt" || fail "expected global_worker to be killed"
"$prefix/bin/lumen" stop --temp-dir "$LUMEN_TEMP_DIR" >/dev/null 2>&1 || true

# ray::Shutdown stopped the private cluster: nothing of this run may remain.
left=""
for _ in $(seq 1 50); do
  left=$(ours || true)
  [ -z "$left" ] && break
  sleep 0.2
done
if [ -n "$left" ]; then
  for p in $left; do echo "left running: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2; done
  fail "processes of this run are still running after tutorial_tasks exited"
fi
echo "PASS: examples_out_of_tree"
