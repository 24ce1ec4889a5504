#!/bin/bash
# Profiles chosen measurements of a benchmark run, system-wide (the server, its load clients
# and PostgreSQL's backends), with perf. The bench logs "measuring measurement=… clients=…"
# as each measurement starts; each PHASES entry waits for its pattern, then samples.
#
#   PHASES='adjust credits" clients=16|3|bus16;projection="audit_log"|4|rebuild_audit' \
#     docs/benchmarks/profile.sh --events 200000
#   perf report -i /tmp/igny8-profile/bus16.data --no-children --sort comm,dso
#
# Needs a release build (`cargo build --release -p api`; line tables are on for perf) and
# perf (Debian: linux-perf), run as root or with perf_event_paranoid <= 1.
set -euo pipefail
out=${OUT:-/tmp/igny8-profile}
mkdir -p "$out"
bin=${BIN:-target/release/igny8-admin}
log="$out/bench.log"
NO_COLOR=1 "$bin" bench --out "$out/report" "$@" > "$out/table.md" 2> "$log" &
bench=$!
IFS=';' read -ra phases <<< "${PHASES:?set PHASES to pattern|seconds|label;...}"
for phase in "${phases[@]}"; do
  IFS='|' read -r pattern seconds label <<< "$phase"
  until sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -qF -- "$pattern"; do
    kill -0 "$bench" 2>/dev/null || { echo "bench ended before '$pattern'"; break 2; }
    sleep 0.2
  done
  sleep 0.5
  perf record -a --call-graph dwarf,16384 -F 199 -o "$out/$label.data" -- sleep "$seconds" >/dev/null 2>&1
  echo "profiled $label -> $out/$label.data"
done
wait "$bench"
cat "$out/table.md"
