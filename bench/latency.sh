#!/usr/bin/env bash
# Latency benchmark: whole syncs against the standalone simulator answering every request
# LATENCY_MS late, where wall time is set by how many requests are in flight, not by CPU.
# Each row gives the requests made, the wall time, the floor (requests x latency / concurrency),
# wall / floor and peak RSS.
#
#   bench/latency.sh                     every row: (a) server token, every default stream;
#                                        (b) account token, 10 servers; (c) message_events only;
#                                        (d) rows (a) and (c) at concurrency 1, 4 and 16;
#                                        (e) row (a) with ten times the messages, as many as (b);
#                                        (f) messages_outbound, then messages_outbound_details, with
#                                        LARGE_BODY_RATE of the messages given a body of ~1 MiB
#   ROWS="a c" bench/latency.sh          only these rows
#   LATENCY_MS=100 DAYS=3 PER_DAY=300    the simulated latency and account (defaults shown)
#
# Prints one Markdown table row per run (the latency table of BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
latency=${LATENCY_MS:-100}
days=${DAYS:-3}
per_day=${PER_DAY:-300}
rows=${ROWS:-"a b c d e f"}
large_body_rate=${LARGE_BODY_RATE:-0.05}

cargo build --release --quiet --bins
bin=target/release
work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_sim() { # servers [messages per day [more simulator options]]
  "$bin/postmark-sim" --port 0 --servers "$1" --days "$days" --messages-per-day "${2:-$per_day}" \
    --spike-messages 0 --latency-ms "$latency" "${@:3}" > "$work/sim.out" 2>"$work/sim.err" &
  sim_pid=$!
  for _ in $(seq 100); do grep -q '^generated' "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
}
stop_sim() { kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=; }

# run LABEL MODE(server|account) STREAMS(default|message_events) CONCURRENCY
run() {
  local label=$1 mode=$2 streams=$3 concurrency=$4
  local url token key start
  url=$(awk '/^base_url/ {print $2}' "$work/sim.out")
  if [ "$mode" = account ]; then
    key=postmark_account_token; token=$(awk '/^account_token/ {print $2}' "$work/sim.out")
  else
    key=postmark_server_token; token=$(awk '/^server / {print $NF; exit}' "$work/sim.out")
  fi
  start=$(date -u -d "$((days + 1)) days ago" +%Y-%m-%d)
  cat > "$work/config.json" <<JSON
{"$key": "$token", "base_url": "$url", "start_date": "$start",
 "max_concurrent_requests": $concurrency, "progress_interval_seconds": 3600}
JSON
  local catalog=()
  if [ "$streams" != default ]; then
    "$bin/tap-postmark" --discover | python3 -c '
import json, sys
c = json.load(sys.stdin)
for s in c["streams"]:
    s["metadata"][0]["metadata"]["selected"] = s["tap_stream_id"] == sys.argv[1]
json.dump(c, sys.stdout)' "$streams" > "$work/catalog.json"
    catalog=(--catalog "$work/catalog.json")
  fi
  /usr/bin/time -f "%e %M" -o "$work/time" \
    "$bin/tap-postmark" --config "$work/config.json" "${catalog[@]}" > /dev/null 2> "$work/tap.err"
  read -r wall rss_kb < "$work/time"
  python3 - "$label" "$mode" "$streams" "$concurrency" "$work/tap.err" "$wall" "$rss_kb" "$latency" <<'PY'
import re, sys
label, mode, streams, c, log, wall, rss, latency = sys.argv[1:]
c, wall, rss, latency = int(c), float(wall), int(rss), int(latency)
text = open(log).read()
done = re.search(r"^INFO sync finished in [0-9.]+s: (\d+) requests", text, re.M)
if not done:
    sys.exit("the sync did not finish:\n" + text[-2000:])
requests = int(done.group(1))
records = sum(int(n) for n in re.findall(r"^INFO summary: \w+: (\d+) records", text, re.M))
floor = requests * latency / 1000 / c
print(f"| {label} | {mode} | {streams} | {c} | {records:,} | {requests:,} | {wall:.1f} | {floor:.1f} | {wall / floor:.2f} | {rss / 1024:.1f} | {requests / wall:.1f} |")
PY
}

echo "Latency ${latency} ms, ${days} days of ${per_day} messages per server per day"
echo
echo "| row | token | streams | concurrency | records | requests | wall s | floor s | wall ÷ floor | peak RSS MiB | requests/s |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for row in $rows; do
  case $row in
    a) start_sim 1; run a server default 4; stop_sim ;;
    b) start_sim 10; run b account default 4; stop_sim ;;
    c) start_sim 1; run c server message_events 4; stop_sim ;;
    d) start_sim 1
       for c in 1 4 16; do run d server default "$c"; run d server message_events "$c"; done
       stop_sim ;;
    e) start_sim 1 $((per_day * 10)); run e server default 4; stop_sim ;;
    f) start_sim 1 "$per_day" --large-body-rate "$large_body_rate"
       run f server messages_outbound 4; run f server messages_outbound_details 4; stop_sim ;;
  esac
done
