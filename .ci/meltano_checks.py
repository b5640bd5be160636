#!/usr/bin/env python3
"""Checks of what Meltano did with tap-postmark, for .ci/ecosystem.sh.

    meltano_checks.py select LIST CATALOG            # `meltano select --list --all` output
    meltano_checks.py about MELTANO_OUT DIRECT_OUT   # `meltano invoke --about` == the tap's own
    meltano_checks.py state STATE_JSON END           # `meltano state get` holds the tap's bookmarks
    meltano_checks.py incremental LOG1 LOG2 END LOOKBACK_HOURS
    meltano_checks.py touched SCHEMA SINCE LOG2 END LOOKBACK_HOURS   # rows the 2nd run upserted

LOG1/LOG2 are the logs of two `meltano run`s; the tap's per-stream `summary:` lines and search
window lines are read from them.
"""

import datetime as dt
import json
import re
import subprocess
import sys

SEARCH = {  # stream -> replication key (as a PostgreSQL column)
    "messages_outbound": "ReceivedAt",
    "messages_opens": "ReceivedAt",
    "messages_clicks": "ReceivedAt",
    "messages_inbound": None,  # bookmarked on Postmark's hidden receive clock
    "bounces": "BouncedAt",
    "message_events": None,  # messages new since the bookmark (less the lookback); events come later than the send
}


def instant(s):
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc)


def fail(msg):
    print(f"FAILED: {msg}")
    sys.exit(1)


def select(list_path, catalog_path):
    streams = {s["stream"] for s in json.load(open(catalog_path))["streams"]}
    status = {}
    for line in open(list_path, encoding="utf-8"):
        m = re.match(r"\s*\[(\w+)\s*\]\s+([^.\s]+)\.(\S+)", line)
        if m:
            status.setdefault(m[2], []).append(m[1])
    missing = sorted(streams - set(status))
    excluded = sorted(s for s, st in status.items() if "excluded" in st)
    if missing or excluded:
        fail(f"streams not listed: {missing}; streams with excluded properties: {excluded}")
    props = sum(len(v) for v in status.values())
    print(f"{len(streams)}/{len(streams)} streams selected with all {props} properties"
          f" (message_events: {'message_events' in status})")


def about(meltano_out, direct_out):
    text = open(meltano_out, encoding="utf-8").read()
    a = json.loads(text[text.index("{"):])
    b = json.load(open(direct_out))
    if a != b:
        fail("meltano invoke --about differs from tap-postmark --about")
    print(f"same JSON as the tap's own --about: {len(a['capabilities'])} capabilities,"
          f" {len(a['settings']['properties'])} settings")


def state(state_path, end):
    text = open(state_path, encoding="utf-8").read()
    st = json.loads(text[text.index("{"):])
    bookmarks = st.get("singer_state", {}).get("bookmarks")
    if not bookmarks:
        fail(f"no singer_state.bookmarks in {text[:200]}")
    end_t = instant(end)
    n = 0
    for stream in ("messages_outbound", "messages_opens", "messages_clicks", "bounces"):
        per_server = bookmarks.get(stream) or fail(f"no bookmark for {stream}")
        for server, per_stream in per_server.items():
            for ms, value in per_stream.items():
                n += 1
                if instant(value) != end_t:
                    fail(f"{stream} {server}/{ms} bookmark {value}, expected {end}")
    stats = [s for s in bookmarks if s.startswith("stats_")]
    print(f"{len(bookmarks)} streams bookmarked; {n} search bookmarks all at end_date {end};"
          f" {len(stats)} statistics streams")


def summaries(log_path):
    counts = {}
    for line in open(log_path, encoding="utf-8", errors="replace"):
        m = re.search(r"INFO summary: (\w+): (\d+) records", line)
        if m:
            counts[m[1]] = int(m[2])
    if not counts:
        fail(f"no 'summary:' lines from the tap in {log_path}")
    return counts


def incremental(log1, log2, end, lookback):
    first, second = summaries(log1), summaries(log2)
    expected_start = instant(end) - dt.timedelta(hours=float(lookback))
    windows = 0
    for line in open(log2, encoding="utf-8", errors="replace"):
        m = re.search(r"INFO (\w+): server (\d+) stream (\S+): (\S+) \u2192 (\S+)", line)
        if m and m[1] in SEARCH:
            windows += 1
            if instant(m[4]) != expected_start:
                fail(f"second run read {m[1]} {m[2]}/{m[3]} from {m[4]},"
                     f" expected end_date - lookback = {expected_start:%Y-%m-%dT%H:%M:%SZ}")
    if windows == 0:
        fail("no search window lines in the second run's log")
    a = sum(first[s] for s in SEARCH)
    b = sum(second[s] for s in SEARCH)
    for s in SEARCH:
        if second[s] > first[s]:
            fail(f"{s}: second run {second[s]} records > first run {first[s]}")
    if not 0 < b <= 0.35 * a:
        fail(f"second run re-read {b} of {a} search records (expected a small, non-zero share)")
    print(f"second run: {windows} search windows all from end_date - {lookback}h;"
          f" {b} search records vs {a} in the first run ({100 * b / a:.1f}%);"
          f" all streams {sum(second.values())} vs {sum(first.values())} records")


def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return out.strip()


def touched(schema, since, log2, end, lookback):
    second = summaries(log2)
    lower = instant(end) - dt.timedelta(hours=float(lookback))
    parts = []
    for stream, key in SEARCH.items():
        n = int(psql(f"SELECT count(*) FROM \"{schema}\".\"{stream}\" "
                     f"WHERE _sdc_batched_at >= '{since}'"))
        if n != second[stream]:
            fail(f"{stream}: {n} rows upserted by the second run, the tap sent {second[stream]}")
        if key and n:
            low = psql(f"SELECT min(\"{key}\") FROM \"{schema}\".\"{stream}\" "
                       f"WHERE _sdc_batched_at >= '{since}'")
            if instant(low) < lower:
                fail(f"{stream}: second run upserted a row with {key} {low} before {lower}")
        parts.append(f"{stream}={n}")
    print("rows upserted by the second run = records it sent, all inside the lookback: "
          + " ".join(parts))


def main(argv):
    cmd, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    table = {"select": (select, 2), "about": (about, 2), "state": (state, 2),
             "incremental": (incremental, 4), "touched": (touched, 5)}
    if cmd not in table or len(args) != table[cmd][1]:
        print(__doc__, file=sys.stderr)
        return 2
    table[cmd][0](*args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
