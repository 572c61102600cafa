#!/usr/bin/env bash
# task_events_overhead: the cost of task events (docs/observability.md) on
# tasks_bench and many_tasks, measured with events on and off in one run:
# each bench runs ROUNDS times, alternating LUMEN_TASK_EVENTS=1 and =0 (so
# the machine's drift hits both alike; odd rounds run on first, even rounds
# off first, so that neither side always follows the other's cluster
# teardown), and each figure is printed as the median with events on, off,
# and the change. Budget: at most 5% worse.
# Usage: bench/task_events_overhead.sh [build dir] [rounds] [many_tasks n...]
set -euo pipefail
build=${1:-build}
rounds=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# "name value" lines of one bench's output.
figures() {
  awk '/^single_client_tasks_(sync|async)/ {print $1, $2}
       /^many_tasks n=/ {sub("n=", "", $2); print "many_tasks_n=" $2, $3}' "$1"
}

for round in $(seq "$rounds"); do
  order="1 0"; [ $((round % 2)) = 1 ] || order="0 1"
  for events in $order; do
    LUMEN_TASK_EVENTS=$events "$build/bin/tasks_bench" > "$out/tasks.$events.$round" 2>/dev/null
    # CPU of many_tasks and every process it waited for (its private
    # cluster: GCS, raylet, workers), per task submitted, in µs.
    LUMEN_TASK_EVENTS=$events /usr/bin/time -f "%U %S" -o "$out/cpu.$events.$round" \
      "$build/bin/many_tasks" "${sizes[@]}" > "$out/many.$events.$round" 2>/dev/null
    ntasks=0; for n in "${sizes[@]}"; do ntasks=$((ntasks + n)); done
    awk -v n="$ntasks" '{print "many_tasks_cpu_us_per_task", 1e6 * ($1 + $2) / n}' "$out/cpu.$events.$round" |
      sed "s/^/$events /" >> "$out/all"
    for f in "$out"/tasks."$events"."$round" "$out"/many."$events"."$round"; do figures "$f"; done |
      sed "s/^/$events /" >> "$out/all"
  done
done

printf '%-34s %12s %12s %8s %8s\n' figure events_on events_off change paired
# `paired`: the median of each round's own change (on against the off run
# next to it), which the machine's drift between rounds moves less.
awk '{v[$2 " " $1] = v[$2 " " $1] " " $3; names[$2] = 1}
     function median(list,   a, n, i, j, t) {
       n = split(list, a, " ")
       for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
       return a[int((n + 1) / 2)]
     }
     END {
       for (name in names) {
         on = median(v[name " 1"]); off = median(v[name " 0"])
         n = split(v[name " 1"], a, " "); split(v[name " 0"], b, " "); pairs = ""
         for (i = 1; i <= n; i++) if (b[i] + 0 != 0) pairs = pairs " " 100 * (a[i] - b[i]) / b[i]
         printf "%-34s %12.1f %12.1f %+7.1f%% %+7.1f%%\n", name, on, off, 100 * (on - off) / off, median(pairs)
       }
     }' "$out/all" | sort
echo "(rates: higher is better; cpu_us_per_task: lower is better, the whole cluster's CPU incl. startup; change = on vs off of the medians of $rounds rounds each; paired = median of the rounds' own changes)"
