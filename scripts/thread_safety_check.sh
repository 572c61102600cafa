#!/usr/bin/env bash
# thread_safety_check: Clang's thread-safety analysis (-Wthread-safety) over
# every class whose state is guarded by a lock (ABSL_GUARDED_BY and friends,
# docs/workers.md "Threads"): the .cc of each annotated header, and every
# .cc that carries annotations itself. A field read or written without its
# mutex, or a helper called without the lock it requires, fails the check.
# The project builds with GCC, which ignores the annotations; this parses
# the same sources with Clang (-fsyntax-only, no code generated).
# Usage: scripts/thread_safety_check.sh BUILD_DIR   (for its generated protos)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: $0 BUILD_DIR}
clang=$(command -v clang++ || command -v clang++-14 || true)
if [ -z "$clang" ]; then
  echo "thread_safety_check: clang++ not found (apt-get install clang)" >&2
  exit 1
fi
dirs=(common gcs raylet plasma worker deploy)
mapfile -t annotated < <(grep -rlE 'ABSL_(GUARDED_BY|EXCLUSIVE_LOCKS_REQUIRED|LOCKS_EXCLUDED)' \
  --include='*.h' --include='*.cc' "${dirs[@]}" | sort)
files=()
for f in "${annotated[@]}"; do
  case "$f" in
    *.cc) files+=("$f") ;;
    *.h) [ -f "${f%.h}.cc" ] && files+=("${f%.h}.cc") ;;
  esac
done
mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u)
echo "thread_safety_check: ${#files[@]} files"
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -I{} "$clang" -std=gnu++20 -fsyntax-only -pthread -DNDEBUG \
    -DGLOG_CUSTOM_PREFIX_SUPPORT -Iinclude -I. -I"$build" \
    -Wthread-safety -Werror=thread-safety -Wno-unknown-warning-option {}
echo "thread_safety_check: clean"
