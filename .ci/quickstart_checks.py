#!/usr/bin/env python3
"""The README's "Try it in five minutes", for .ci/quickstart.sh.

    quickstart_checks.py extract README.md            # the section's blocks as one bash script
    quickstart_checks.py after BLOCK WORK CLONE LOG   # checks once the block BLOCK has run
    quickstart_checks.py csv WORK CLONE LOG           # two runs into target-csv keep every row

`extract` takes every fenced block of the section that a `<!-- quickstart: NAME -->` line
introduces, in order, verbatim, and puts `qs_after NAME` after each (quickstart.sh defines it:
it calls `after`). A shell block of the section without that line is an error, so no command of
the section goes unrun. LOG is the output of the blocks; the tap's `summary:` lines in it, per
`meltano run` job, give the record count of each stream that the loaded files and tables must
match. Snapshots of the first runs are kept in WORK for the checks of the second ones.
"""

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))
import count_keys  # noqa: E402  (canonical key tuples, shared with ecosystem.sh)

SECTION = "## Try it in five minutes"
MARK = re.compile(r"^<!-- quickstart: ([a-z0-9-]+) -->$")
JOB = re.compile(r"Running job with name '([^']+)'")
# The tap's summary line in a Meltano log, as text (`INFO summary: …`) or parsed from its
# structured log (`[info     ] tap-postmark summary: …`).
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SUMMARY = re.compile(r"(?:INFO |\[info\s*\] tap-postmark )summary: (\w+): (\d+) records")
SEARCH = ["messages_outbound", "messages_opens", "messages_clicks", "messages_inbound", "bounces"]
JSONL_JOB = "dev:tap-postmark-to-target-jsonl"
PG_JOB = "dev:tap-postmark-to-target-postgres"
CSV_JOB = "dev:tap-postmark-to-target-csv"
SCHEMA = "tap_postmark"
# What CI keeps of a run: the report's screenshot.
ARTIFACTS = os.environ.get("TAP_POSTMARK_ARTIFACTS", "/tmp/tap-postmark-artifacts")


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


# --- extraction ----------------------------------------------------------------------------------

def extract(readme):
    lines = Path(readme).read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index(SECTION)
    except ValueError:
        raise Failed(f"no '{SECTION}' section in {readme}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    out, names, i = [], [], start + 1
    while i < end:
        fence = re.match(r"^```(\w*)", lines[i])
        if not fence:
            i += 1
            continue
        close = next((j for j in range(i + 1, end) if lines[j] == "```"), None)
        check(close is not None, f"README line {i + 1}: unclosed code block")
        prev = next((lines[j] for j in range(i - 1, start, -1) if lines[j].strip()), "")
        mark = MARK.match(prev)
        if fence[1] in ("sh", "bash", "shell", ""):
            check(mark, f"README line {i + 1}: a shell block of the quick start without"
                        " '<!-- quickstart: NAME -->' before it")
        if mark:
            check(fence[1] in ("sh", "bash"), f"README line {i + 1}: quickstart block is not sh")
            names.append(mark[1])
            out.append(f"# --- README.md lines {i + 2}-{close}: {mark[1]}")
            out.extend(lines[i + 1:close])
            out.append(f"qs_after {mark[1]}")
        i = close + 1
    check(names, "no quickstart blocks")
    check(len(set(names)) == len(names), f"block names repeat: {names}")
    for required in ("simulator", "jsonl", "postgres", "again"):
        check(required in names, f"no '{required}' block (have {names})")
    print("\n".join(out))


# --- reading what the runs did -------------------------------------------------------------------

def jobs(log):
    """[(job name, {stream: records})] of every `meltano run` in LOG, in order."""
    found = []
    for line in open(log, encoding="utf-8", errors="replace"):
        line = ANSI.sub("", line)  # Meltano's colored log format, when it is used
        m = JOB.search(line)
        if m:
            found.append((m[1], {}))
            continue
        m = SUMMARY.search(line)
        if m and found:
            found[-1][1][m[1]] = int(m[2])
    return found


def runs_of(log, job, n):
    runs = [s for name, s in jobs(log) if name == job]
    check(len(runs) == n, f"{len(runs)} runs of {job} in the log, expected {n}")
    for i, s in enumerate(runs):
        check(s, f"run {i + 1} of {job}: no 'summary:' lines from the tap")
    return runs


def discover(work, clone):
    """The tap's own catalog."""
    cfg = Path(work) / "empty-config.json"
    cfg.write_text("{}")
    tap = Path(clone) / ".venv" / "bin" / "tap-postmark"
    out = subprocess.run([str(tap), "--config", str(cfg), "--discover"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["streams"]


def opt_in(found):
    """The streams of a discovered catalog the tap does not select by default (one request per
    record found)."""
    return {s["stream"] for s in found
            for m in s["metadata"] if m["breadcrumb"] == []
            and m["metadata"].get("selected-by-default") is False}


def catalog(found):
    """{stream: (key properties, {key: (type, format)})} of a discovered catalog."""
    streams = {}
    for s in found:
        root = next(m["metadata"] for m in s["metadata"] if m["breadcrumb"] == [])
        keys = root["table-key-properties"]
        props = s["schema"]["properties"]
        types = {k: (count_keys.main_type(props[k]), props[k].get("format")) for k in keys}
        streams[s["stream"]] = (keys, types)
    return streams


def jsonl_rows(path, keys, types):
    with open(path, encoding="utf-8") as f:
        return [count_keys.key_tuple(json.loads(l), keys, types) for l in f if l.strip()]


def csv_rows(paths, keys, types):
    rows = []
    for p in paths:
        with open(p, encoding="utf-8", newline="") as f:
            rows += [count_keys.key_tuple(r, keys, types) for r in csv.DictReader(f)]
    return rows


def pg_rows(stream, keys, types):
    os.environ.update(PGHOST="127.0.0.1", PGPORT="5432", PGUSER="postgres",
                      PGPASSWORD="postgres", PGDATABASE="postgres", PGTZ="UTC")
    cols = count_keys.psql("SELECT column_name FROM information_schema.columns "
                           f"WHERE table_schema = '{SCHEMA}' AND table_name = '{stream}'")
    check(cols, f"no table {SCHEMA}.{stream}")
    norm = {c.lower().replace("_", ""): c for c in cols}
    keycols = [norm[k.lower().replace("_", "")] for k in keys]
    arr = ", ".join(f'"{c}"' for c in keycols)
    lines = count_keys.psql(f'SELECT json_build_array({arr})::text FROM "{SCHEMA}"."{stream}"')
    return [tuple(count_keys.canon(v, *types[k]) for v, k in zip(json.loads(l), keys))
            for l in lines]


def save(work, name, value):
    (Path(work) / f"{name}.json").write_text(json.dumps(value))


def load(work, name):
    raw = json.loads((Path(work) / f"{name}.json").read_text())
    return {s: {"rows": v["rows"], "keys": {tuple(k) for k in v["keys"]}} for s, v in raw.items()}


def snapshot(found):
    return {s: {"rows": len(rows), "keys": sorted(set(rows), key=str)} for s, rows in found.items()}


def first_run(summary, read, what, left_out):
    """The first run: each stream holds exactly the records of its summary, each key once; the
    streams the tap does not select by default (`left_out`) were not synced."""
    synced = sorted(left_out & set(summary))
    check(not synced, f"{synced} synced: the ready project should leave them out")
    check(len(left_out) >= 4, f"streams not selected by default: {sorted(left_out)}")
    check(summary.get("messages_outbound", 0) > 0, "no messages_outbound records")
    found = {}
    for stream, n in sorted(summary.items()):
        rows = read(stream) if n else []
        check(len(rows) == n, f"{what} {stream}: {len(rows)} rows, the tap's summary says {n}")
        check(len(set(rows)) == n, f"{what} {stream}: {len(set(rows))} distinct keys in {n} rows")
        found[stream] = rows
    return found


def second_run(first, second_summary, first_summary, read, what, appends):
    """The second run keeps every key of the first; appending loaders add its records."""
    a = sum(first_summary[s] for s in SEARCH)
    b = sum(second_summary.get(s, 0) for s in SEARCH)
    check(0 < b <= 0.35 * a, f"{what}: the second run re-read {b} of {a} search records,"
                             " expected only the lookback")
    for stream, before in sorted(first.items()):
        rows = read(stream) if before["rows"] or second_summary.get(stream) else []
        missing = before["keys"] - set(rows)
        check(not missing, f"{what} {stream}: {len(missing)} keys of the first run lost,"
                           f" e.g. {sorted(missing, key=str)[0] if missing else ''}")
        expected = before["rows"] + second_summary.get(stream, 0) if appends else len(set(rows))
        check(len(rows) == expected, f"{what} {stream}: {len(rows)} rows after the second run,"
                                     f" expected {expected}")
    return a, b


# --- the checks after each block ----------------------------------------------------------------

def wait_for_simulator(clone):
    path = Path(clone) / "postmark-sim.txt"
    for _ in range(300):
        if path.exists() and "generated " in path.read_text():
            break
        time.sleep(0.1)
    text = path.read_text() if path.exists() else ""
    check("account_token " in text, "postmark-sim printed no account token")
    return next(l for l in text.splitlines() if l.startswith("generated "))


def after(block, work, clone, log):
    project = Path(clone) / "meltano"
    discovered = discover(work, clone) if block in ("jsonl", "postgres", "again") else []
    streams = catalog(discovered)

    def jsonl(stream):
        path = project / "output" / "jsonl" / f"{stream}.jsonl"
        check(path.exists(), f"{path} missing")
        return jsonl_rows(path, *streams[stream])

    def pg(stream):
        return pg_rows(stream, *streams[stream])

    if block == "simulator":
        return wait_for_simulator(clone)
    if block == "jsonl":
        text = open(log, encoding="utf-8", errors="replace").read()
        check("Plugin configuration is valid" in text, "meltano config test did not pass")
        (summary,) = runs_of(log, JSONL_JOB, 1)
        found = first_run(summary, jsonl, "JSON Lines", opt_in(discovered))
        files = {p.stem for p in (project / "output" / "jsonl").iterdir()}
        check(files <= set(summary), f"unexpected files: {sorted(files - set(summary))}")
        save(work, "jsonl-1", snapshot(found))
        return (f"config test passed; {len(found)} streams, {sum(summary.values())} records:"
                f" each file = its summary (messages_outbound {summary['messages_outbound']})")
    if block == "postgres":
        (summary,) = runs_of(log, PG_JOB, 1)
        found = first_run(summary, pg, "PostgreSQL", opt_in(discovered))
        # The simulator's account does not change, but the synced range ends 5 minutes before
        # each run, so a later run may hold a record more, never one less.
        jsonl_first = load(work, "jsonl-1")
        for stream, rows in found.items():
            lost = jsonl_first[stream]["keys"] - set(rows)
            check(not lost, f"{stream}: {len(lost)} keys of the JSON Lines run not in PostgreSQL")
        save(work, "pg-1", snapshot(found))
        return (f"{len(found)} tables, {sum(summary.values())} rows: each table = its summary;"
                f" every key of the JSON Lines files there")
    if block == "again":
        j1, j2 = runs_of(log, JSONL_JOB, 2)
        p1, p2 = runs_of(log, PG_JOB, 2)
        a, b = second_run(load(work, "jsonl-1"), j2, j1, jsonl, "JSON Lines", appends=True)
        second_run(load(work, "pg-1"), p2, p1, pg, "PostgreSQL", appends=False)
        return (f"second runs re-read {b} of {a} search records; JSON Lines appended them"
                f" ({j1['messages_outbound']} + {j2['messages_outbound']} messages_outbound"
                f" lines), PostgreSQL upserted them; every key of the first runs kept")
    if block == "analytics":
        runs_of(log, JSONL_JOB, 3)
        runs_of(log, PG_JOB, 3)
        python = project / ".meltano" / "utilities" / "dbt-duckdb" / "venv" / "bin" / "python"
        check(python.exists(), f"{python} missing: the dbt-duckdb utility is not installed")
        checks = Path(__file__).resolve().parent / "analytics_checks.py"
        run = subprocess.run([str(python), str(checks), clone, log, ARTIFACTS],
                             capture_output=True, text=True)
        check(run.returncode == 0, (run.stdout + run.stderr).strip()[-3000:])
        return run.stdout.strip()
    return ""


def csv_check(work, clone, log):
    """Two runs into target-csv: the first's files = its summaries; the second keeps them."""
    streams = catalog(discover(work, clone))
    out = Path(clone) / "meltano" / "output" / "csv"
    c1, c2 = runs_of(log, CSV_JOB, 2)
    jsonl_first = load(work, "jsonl-1")
    files = sorted(out.iterdir()) if out.is_dir() else []

    def stream_files(stream):
        return [p for p in files if p.name.startswith(stream + "-") and p.suffix == ".csv"]

    for stream in c1:
        # One file per stream and run (target-csv writes the header at the stream's SCHEMA).
        check(len(stream_files(stream)) == 2,
              f"CSV {stream}: files {[p.name for p in stream_files(stream)]}, expected one per run")
    first = {}
    for stream, n in c1.items():
        paths = stream_files(stream)
        rows = csv_rows(paths[:1], *streams[stream]) if n else []
        check(len(rows) == n and len(set(rows)) == n,
              f"CSV {stream}: first run's file has {len(rows)} rows, summary {n}")
        lost = jsonl_first[stream]["keys"] - set(rows)
        check(not lost, f"CSV {stream}: {len(lost)} keys of the JSON Lines run missing")
        first[stream] = {"rows": n, "keys": set(rows)}
    second_run(first, c2, c1, lambda s: csv_rows(stream_files(s), *streams[s]), "CSV",
               appends=True)
    return (f"{len(files)} files; run 1: each stream's file = its summary; run 2 added a file"
            f" per stream ({c2['messages_outbound']} messages_outbound rows); every key kept")


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "extract":
            extract(argv[2])
        elif len(argv) == 6 and argv[1] == "after":
            print(after(*argv[2:]))
        elif len(argv) == 5 and argv[1] == "csv":
            print(csv_check(*argv[2:]))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Failed as e:
        print(f"FAILED: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
