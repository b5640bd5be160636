#!/usr/bin/env bash
# Benchmark: sync N outbound messages plus their opens from the standalone simulator on loopback,
# then fetch the same requests with a minimal client (the floor), and report both.
#
#   bench/run.sh [N ...]            default: 100000 1000000
#   LATENCY_MS=100 bench/run.sh 20000   the same with simulated latency per answer
#   CONCURRENCY=4                   the tap's max_concurrent_requests (and the floor's)
#   PLACEMENT=split                 the simulator on CPU 0, the tap and the floor on the others
#                                   (the default with 2+ CPUs: Postmark's servers do not share
#                                   the tap's CPU); PLACEMENT=shared lets them all share every CPU
#
# Prints one Markdown table row per N (the table of BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
concurrency=${CONCURRENCY:-4}
latency=${LATENCY_MS:-0}
days=10
cpus=$(nproc)
placement=${PLACEMENT:-split}
if [ "$placement" = split ] && { [ "$cpus" -lt 2 ] || ! command -v taskset >/dev/null; }; then
  echo "PLACEMENT=split needs 2+ CPUs and taskset; using shared" >&2
  placement=shared
fi
if [ "$placement" = split ]; then
  on_sim=(taskset -c 0)
  on_client=(taskset -c "1-$((cpus - 1))")
else
  on_sim=()
  on_client=()
fi

# Every binary of the workspace in one build (the floor's dependencies are the tap's), which is
# the build the wheels and `cargo run --release` reuse.
cargo build --release --quiet --locked --workspace --bins
bin=target/release
work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "Placement: $placement ($cpus CPUs), concurrency $concurrency, latency ${latency} ms"
echo
echo "| N outbound | records | wall s | records/s | CPU s per 100k | peak RSS MiB | requests (probes) | requests ÷ ceil(records/500) | floor wall s | tap/floor |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
  # The simulator's outbound streams together hold about 1.45 x messages_per_day per day.
  per_day=$(( n * 100 / (days * 145) + 1 ))
  "${on_sim[@]}" "$bin/postmark-sim" --port 0 --servers 1 --days "$days" --messages-per-day "$per_day" \
    --spike-messages 0 --latency-ms "$latency" > "$work/sim.out" 2>"$work/sim.err" &
  sim_pid=$!
  for _ in $(seq 100); do grep -q '^generated' "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
  url=$(awk '/^base_url/ {print $2}' "$work/sim.out")
  token=$(awk '/^server / {print $NF; exit}' "$work/sim.out")
  start=$(date -u -d "$((days + 1)) days ago" +%Y-%m-%d)
  cat > "$work/config.json" <<JSON
{"postmark_server_token": "$token", "base_url": "$url", "start_date": "$start",
 "max_concurrent_requests": $concurrency, "log_level": "debug", "progress_interval_seconds": 3600}
JSON
  "$bin/tap-postmark" --discover | python3 -c '
import json, sys
c = json.load(sys.stdin)
for s in c["streams"]:
    s["metadata"][0]["metadata"]["selected"] = s["tap_stream_id"] in ("messages_outbound", "messages_opens")
json.dump(c, sys.stdout)' > "$work/catalog.json"

  /usr/bin/time -f "%e %U %S %M" -o "$work/time" \
    "${on_client[@]}" "$bin/tap-postmark" --config "$work/config.json" --catalog "$work/catalog.json" \
    > /dev/null 2> "$work/tap.err"
  read -r wall user sys rss_kb < "$work/time"
  outbound=$(sed -n 's/^INFO summary: messages_outbound: \([0-9]*\) records.*/\1/p' "$work/tap.err")
  opens=$(sed -n 's/^INFO summary: messages_opens: \([0-9]*\) records.*/\1/p' "$work/tap.err")
  records=$(( outbound + opens ))
  requests=$(grep -c '^DEBUG GET ' "$work/tap.err")
  probes=$(grep -c 'more than paging reaches; splitting' "$work/tap.err" || true)
  floor=$("${on_client[@]}" "$bin/floor" "$url" "$token" "$concurrency" "$work/tap.err" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
  python3 - "$outbound" "$records" "$wall" "$user" "$sys" "$rss_kb" "$requests" "$floor" "$probes" <<'PY'
import math, sys
outbound, records, wall, user, sys_, rss, requests, floor, probes = sys.argv[1:]
records, outbound, requests, rss, probes = int(records), int(outbound), int(requests), int(rss), int(probes)
wall, cpu, floor = float(wall), float(user) + float(sys_), float(floor)
pages = math.ceil(records / 500)
print(f"| {outbound:,} | {records:,} | {wall:.1f} | {records / wall:,.0f} | {cpu * 100000 / records:.2f} "
      f"| {rss / 1024:.1f} | {requests:,} ({probes}) | {(requests - probes) / pages:.3f} | {floor:.1f} | {wall / floor:.2f} |")
PY
  kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=
done
