#!/usr/bin/env bash
# systemd_units_test: installs the build into a fresh prefix the documented
# way (`cmake --install <build> --prefix P`), then checks the systemd units
# as installed: ExecStart names P's own lumen binary, and `systemd-analyze
# verify` accepts each unit alone and with the drop-in of docs/operations.md
# ("Run under systemd"). Needs systemd-analyze (Debian `systemd`, installed by
# scripts/install_deps.sh); without it the test is skipped (exit 77) saying so.
# The units must be Type=notify (NotifyAccess=main, a WatchdogSec, Restart=
# on-failure) around `lumen start ... --block`.
# Usage: tests/systemd_units_test.sh <build dir> <source dir>
set -euo pipefail
build_dir=$(cd "${1:?usage: systemd_units_test.sh <build dir> <source dir>}" && pwd)
source_dir=$(cd "${2:?usage: systemd_units_test.sh <build dir> <source dir>}" && pwd)
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd; scripts/install_deps.sh)"
  exit 77
fi
tmp=$(mktemp -d /tmp/lumen-units-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
units=$prefix/share/lumen/systemd
for unit in lumen-head lumen-worker-node; do
  file=$units/$unit.service
  [ -f "$file" ] || fail "$file was not installed"
  exec_start=$(sed -n 's/^ExecStart=//p' "$file")
  [[ "$exec_start" == "$prefix/bin/lumen start "* ]] ||
    fail "$unit: ExecStart is not $prefix/bin/lumen: $exec_start"
  [[ "$exec_start" == *"--node-ip-address \${LUMEN_NODE_IP}"* ]] ||
    fail "$unit: ExecStart has no --node-ip-address: $exec_start"
  grep -q '@' "$file" && fail "$unit: unexpanded @VARIABLE@ left: $(grep '@' "$file")"
  # `lumen start --block` speaks systemd's notify protocol (READY, STOPPING,
  # WATCHDOG; tests/integration_systemd_notify_test.cc): the unit must wait
  # for READY, accept it from the main process only, and use the watchdog.
  for setting in Type=notify NotifyAccess=main Restart=on-failure; do
    grep -qx "$setting" "$file" || fail "$unit: no $setting line"
  done
  grep -Eqx 'WatchdogSec=[1-9][0-9]*' "$file" || fail "$unit: no WatchdogSec=<seconds> line"
  [[ "$exec_start" == *" --block"* ]] || fail "$unit: ExecStart has no --block: $exec_start"
  if ! systemd-analyze verify "$file" >"$tmp/verify.out" 2>&1; then
    cat "$tmp/verify.out" >&2
    fail "systemd-analyze verify $file"
  fi
  if [ -s "$tmp/verify.out" ]; then cat "$tmp/verify.out" >&2; fail "$unit: verify printed warnings"; fi
done

# The drop-in of docs/operations.md, as `systemctl edit` would save it.
dropin=$(awk '/^<!-- drop-in -->/{f=1; next} f && /^```/{if (n++) exit; next} f' \
  "$source_dir/docs/operations.md")
[ -n "$dropin" ] || fail "docs/operations.md has no drop-in example (marked <!-- drop-in -->)"
[[ "$(printf '%s\n' "$dropin" | head -n 1)" == "[Service]" ]] ||
  fail "the drop-in example does not start with [Service]: $dropin"
mkdir -p "$units/lumen-head.service.d"
printf '%s\n' "$dropin" >"$units/lumen-head.service.d/override.conf"
if ! systemd-analyze verify "$units/lumen-head.service" >"$tmp/verify.out" 2>&1 ||
    [ -s "$tmp/verify.out" ]; then
  cat "$tmp/verify.out" >&2
  fail "systemd-analyze verify with the documented drop-in"
fi
echo "PASS: units installed under $prefix verify (with and without the drop-in)"
