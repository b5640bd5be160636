#!/usr/bin/env python3
"""Checks of what Meltano did with tap-postmark, for .ci/ecosystem.sh.

    meltano_checks.py select LIST CATALOG            # `meltano select --list --all` output
    meltano_checks.py about MELTANO_OUT DIRECT_OUT   # `meltano invoke --about` == the tap's own
    meltano_checks.py state STATE_JSON END           # `meltano state get` holds the tap's bookmarks
    meltano_checks.py incremental LOG1 LOG2 END LOOKBACK_HOURS
    meltano_checks.py touched SCHEMA SINCE LOG2 END LOOKBACK_HOURS   # rows the 2nd run upserted
    meltano_checks.py logs OK_LOG FAILED_LOG      # Meltano parsed every line of the tap's log

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


# An INFO line of the tap in a Meltano log: `tap-postmark INFO …` as text, or, parsed from the
# tap's structured log, `[info     ] tap-postmark …`.
TAP_LINE = r"(?:INFO |\[info\s*\] tap-postmark )"


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
        m = re.search(TAP_LINE + r"summary: (\w+): (\d+) records", line)
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
        m = re.search(TAP_LINE + r"(\w+): server (\d+) stream (\S+): (\S+) \u2192 (\S+)", line)
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


def tap_events(path):
    """The events of Meltano's JSON log (`--log-format=json`) that came from the tap's stderr."""
    events = []
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("name") == "tap-postmark":
            events.append(event)
    return events


def parsed(events, path, least):
    """Every tap line reached Meltano parsed by its singer-sdk parser: a line it could not parse
    (one without a required key, or not JSON) comes through as plain text, without the tap's
    logger, pid and app name."""
    if len(events) < least:
        fail(f"{path}: {len(events)} lines from the tap")
    for e in events:
        if not (e.get("plugin_logger", "").startswith("tap_postmark") and "pid" in e
                and e.get("app_name") == "tap-postmark"):
            fail(f"{path}: a tap line Meltano did not parse: {json.dumps(e)[:300]}")


def logs(ok_log, failed_log):
    ok = tap_events(ok_log)
    parsed(ok, ok_log, 10)
    counts = [e for e in ok if (e.get("metric_info") or {}).get("metric") == "record_count"]
    per_stream = [e for e in counts if "server_id" in e["metric_info"]["tags"]]
    if not per_stream:
        fail(f"{ok_log}: no record_count metric of a stream on a server")
    for e in counts:
        if e.get("stream_name") != e["metric_info"]["tags"]["endpoint"]:
            fail(f"record_count of {e['metric_info']['tags']} has stream_name {e.get('stream_name')!r}")
    summaries = {}
    for e in ok:
        m = re.match(r"summary: (\w+): ", e.get("event", ""))
        if m:
            if e.get("stream_name") != m[1]:
                fail(f"summary of {m[1]} has stream_name {e.get('stream_name')!r}")
            summaries[m[1]] = e
    if len(summaries) < 20:
        fail(f"{ok_log}: summaries of {len(summaries)} streams")
    failed = tap_events(failed_log)
    parsed(failed, failed_log, 1)
    errors = [e for e in failed if (e.get("plugin_exception") or {}).get("type") == "AuthError"]
    if not errors or errors[-1].get("level") != "critical":
        fail(f"{failed_log}: no critical line with an AuthError exception")
    print(f"{len(ok)} tap lines parsed, {len(summaries)} stream summaries and {len(counts)} "
          f"record_count metrics with their stream_name; the refused token's line: "
          f"{errors[-1]['level']} {errors[-1]['plugin_exception']['type']}")


def main(argv):
    cmd, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    table = {"select": (select, 2), "about": (about, 2), "state": (state, 2),
             "incremental": (incremental, 4), "touched": (touched, 5), "logs": (logs, 2)}
    if cmd not in table or len(args) != table[cmd][1]:
        print(__doc__, file=sys.stderr)
        return 2
    table[cmd][0](*args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
