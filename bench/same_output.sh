#!/usr/bin/env bash
# Proves a refactor changed no output: syncs the same simulated accounts with two tap binaries
# and compares their stdout byte for byte, each line's `time_extracted` blanked (the one part
# of stdout that depends on the clock). Every run has a fixed start and end.
#
#   bench/same_output.sh OLD_TAP NEW_TAP      e.g. a build of the commit before, and this one
#
# Cases: the benchmark's account (one server, about 100,000 messages and their opens); the
# default account (3 servers, 30 days, a day past the 10,000 ceiling) through the account token
# with every stream, message_events included; the same through one server token, default streams.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1
new=$2
cargo build --release --quiet -p postmark-sim
sim_bin=target/release/postmark-sim
work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

blank() { sed -E 's/"time_extracted":"[^"]*"/"time_extracted":""/' "$1"; }

# case NAME SIM_ARGS... -- CONFIG_KIND(account|server) STREAMS(all|default|bench)
case_() {
  local name=$1; shift
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  local kind=$1 streams=$2
  "$sim_bin" --port 0 "${args[@]}" > "$work/sim.out" 2>/dev/null &
  sim_pid=$!
  for _ in $(seq 200); do grep -q '^generated' "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
  local url token key
  url=$(awk '/^base_url/ {print $2}' "$work/sim.out")
  if [ "$kind" = account ]; then
    key=postmark_account_token; token=$(awk '/^account_token/ {print $2}' "$work/sim.out")
  else
    key=postmark_server_token; token=$(awk '/^server / {print $NF; exit}' "$work/sim.out")
  fi
  local start end
  start=$(date -u -d "46 days ago" +%Y-%m-%dT00:00:00Z)
  end=$(date -u -d "10 minutes ago" +%Y-%m-%dT%H:%M:00Z)
  echo "{\"$key\": \"$token\", \"base_url\": \"$url\", \"start_date\": \"$start\", \"end_date\": \"$end\"}" > "$work/config.json"
  "$new" --discover | python3 -c '
import json, sys
c = json.load(sys.stdin)
for s in c["streams"]:
    m = s["metadata"][0]["metadata"]
    m["selected"] = {"all": True, "default": m["selected-by-default"],
                     "bench": s["tap_stream_id"] in ("messages_outbound", "messages_opens")}[sys.argv[1]]
json.dump(c, sys.stdout)' "$streams" > "$work/catalog.json"
  for which in old new; do
    local bin=$old
    [ "$which" = new ] && bin=$new
    "$bin" --config "$work/config.json" --catalog "$work/catalog.json" > "$work/$which.jsonl" 2> "$work/$which.err" \
      || { tail -3 "$work/$which.err"; echo "$name: $which failed"; exit 1; }
  done
  kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=
  if cmp -s <(blank "$work/old.jsonl") <(blank "$work/new.jsonl"); then
    echo "$name: identical ($(wc -l < "$work/new.jsonl") lines, $(wc -c < "$work/new.jsonl") bytes)"
  else
    echo "$name: DIFFERENT"; diff <(blank "$work/old.jsonl") <(blank "$work/new.jsonl") | head -5; exit 1
  fi
}

case_ benchmark --servers 1 --days 10 --messages-per-day 6900 --spike-messages 0 -- server bench
case_ account-all-streams --servers 3 --days 30 -- account all
case_ server-default-streams --servers 3 --days 30 -- server default
