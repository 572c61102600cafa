#!/usr/bin/env bash
# operations_doc_test: runs the "Walk-through" of docs/operations.md as
# written, from a freshly installed prefix (`cmake --install`), and fails
# when a documented command exits otherwise than documented or a documented
# output line is missing. In the walk-through's ```console block each
# "$ command" line is run with bash (`# exits N`: expected status, else 0);
# the lines up to the next "$ " must each match a whole line of the
# command's output (stdout and stderr), "…" matching any text.
# Made safe to run beside other tests: its own HOME and LUMEN_TEMP_DIR, a
# free port in place of 6379, `lumen stop` given --temp-dir, and
# ./my_driver a small driver (tests/operator_driver.cc). Leaves no process
# and no file behind.
# Usage: tests/operations_doc_test.sh <build dir> <source dir>
set -euo pipefail
build_dir=$(cd "${1:?usage: operations_doc_test.sh <build dir> <source dir>}" && pwd)
source_dir=$(cd "${2:?usage: operations_doc_test.sh <build dir> <source dir>}" && pwd)
doc=$source_dir/docs/operations.md

tmp=$(mktemp -d /tmp/lumen-doc-XXXXXX)
prefix=$tmp/prefix
export HOME=$tmp/home LUMEN_TEMP_DIR=$tmp/t
mkdir -m 700 "$HOME"
unset RAY_ADDRESS LUMEN_TOKEN LUMEN_TOKEN_FILE LUMEN_NODE_IP LUMEN_BIN_DIR
export PATH=$prefix/bin:$PATH

cleanup() {
  local rc=$? p exe
  if [ -x "$prefix/bin/lumen" ]; then
    "$prefix/bin/lumen" stop --force --temp-dir "$LUMEN_TEMP_DIR" >/dev/null 2>&1 || true
  fi
  for p in /proc/[0-9]*; do  # Anything still running from $tmp.
    p=${p#/proc/}
    exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
    if [[ "$exe" == "$tmp"/* ]]; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "FAIL: $*" >&2
  for log in "$LUMEN_TEMP_DIR"/session_2*/logs/*; do
    [ -f "$log" ] || continue
    echo "--- $log (last 20 lines)" >&2
    tail -n 20 "$log" >&2
  done
  exit 1
}

cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
cat >"$tmp/my_driver" <<DRIVER
#!/bin/sh
exec "$build_dir/bin/operator_driver" run "\$@"
DRIVER
chmod +x "$tmp/my_driver"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
  shuf -i 20000-60000 -n 1)

# The walk-through's console block.
block=$(awk '/^## Walk-through/{w=1} w && /^```console/{f=1; next} f && /^```/{exit} f' "$doc")
[ -n "$block" ] || fail "docs/operations.md has no \`\`\`console block under \"## Walk-through\""

# A whole-line ERE for an expected line: literal text, "…" for anything.
pattern_of() {
  printf '%s' "$1" | sed -e 's/[][\.*^$+?(){}|/]/\\&/g' -e 's/…/.*/g'
}

ran=0
run_command() {  # $1: the command as documented; $2: expected lines
  local cmd=$1 expected=$2 want=0 status=0 out line
  if [[ "$cmd" =~ \#\ exits\ ([0-9]+)[[:space:]]*$ ]]; then want=${BASH_REMATCH[1]}; fi
  cmd=${cmd%%#*}
  cmd=${cmd//6379/$port}
  if [[ "$cmd" =~ ^lumen\ stop ]]; then cmd="$cmd --temp-dir $LUMEN_TEMP_DIR"; fi
  out=$(cd "$tmp" && timeout 120 bash -c "$cmd" 2>&1) || status=$?
  ran=$((ran + 1))
  [ "$status" = "$want" ] || fail "\`$cmd\` exited $status, documented $want; output:
$out"
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    line=${line//6379/$port}
    grep -qxE -- "$(pattern_of "$line")" <<<"$out" ||
      fail "\`$cmd\`: documented line not in its output: \"$line\"; output:
$out"
  done <<<"$expected"
  echo "ok: $cmd"
}

cmd="" expected=""
while IFS= read -r line; do
  if [[ "$line" == '$ '* ]]; then
    if [ -n "$cmd" ]; then run_command "$cmd" "$expected"; fi
    cmd=${line#\$ } expected=""
  else
    expected+="$line"$'\n'
  fi
done <<<"$block"
if [ -n "$cmd" ]; then run_command "$cmd" "$expected"; fi
[ "$ran" -ge 6 ] || fail "only $ran commands in the walk-through"
echo "PASS: $ran documented commands hold"
