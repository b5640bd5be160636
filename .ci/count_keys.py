#!/usr/bin/env python3
"""Key sets per stream: from the tap's own Singer output, and checked in what a target loaded.

    count_keys.py truth TAP_OUTPUT.jsonl TRUTH.json     # distinct key tuples per stream
    count_keys.py postgres TRUTH.json SCHEMA            # tables via psql (PG* environment)
    count_keys.py jsonl TRUTH.json DIR                  # target-jsonl: DIR/<stream>.jsonl
    count_keys.py csv TRUTH.json DIR                    # target-csv: DIR/<stream>[-<time>].csv
    count_keys.py values TAP_OUTPUT.jsonl postgres SCHEMA   # every value of every row, too
    count_keys.py values TAP_OUTPUT.jsonl jsonl DIR

Keys are compared in one canonical form: integers as integers, `date-time` values as UTC with
six fractional digits, `date` values as YYYY-MM-DD, so a PostgreSQL timestamp, a CSV cell and the
tap's JSON string of the same instant compare equal. Each check prints one line per stream and
exits 1 on the first kind of mismatch it finds (after printing them all).
"""

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

# Message bodies (the *_details streams, bounce dumps) exceed csv's default 128 KiB field limit.
csv.field_size_limit(1 << 30)

UTC = dt.timezone.utc


def canon(value, typ, fmt):
    if value is None or value == "":
        return None
    if fmt == "date-time":
        if isinstance(value, str):
            t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        else:
            t = value
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if fmt == "date":
        return str(value)[:10]
    if typ == "integer":
        return int(value)
    return str(value)


def main_type(prop):
    t = prop.get("type", "string")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "string")
    return t


def key_tuple(record, keys, types):
    return tuple(canon(record.get(k), *types[k]) for k in keys)


def read_truth(path):
    raw = json.loads(Path(path).read_text())
    for s in raw.values():
        s["keyset"] = {tuple(k) for k in s["keys"]}
    return raw


def truth(tap_output, out_path):
    streams = {}
    with open(tap_output, encoding="utf-8") as f:
        for line in f:
            msg = json.loads(line)
            if msg["type"] == "SCHEMA":
                props = msg["schema"]["properties"]
                keys = msg["key_properties"]
                types = {k: (main_type(props[k]), props[k].get("format")) for k in keys}
                s = streams.setdefault(msg["stream"], {"records": 0, "keys": set()})
                s["key_properties"], s["types"] = keys, types
            elif msg["type"] == "RECORD":
                s = streams[msg["stream"]]
                s["records"] += 1
                s["keys"].add(key_tuple(msg["record"], s["key_properties"], s["types"]))
    repeated = 0
    for name, s in sorted(streams.items()):
        dup = s["records"] - len(s["keys"])
        repeated += dup
        note = f" ({dup} repeated keys)" if dup else ""
        print(f"  {name}: {s['records']} records, {len(s['keys'])} distinct keys{note}")
        s["keys"] = sorted(s["keys"], key=lambda k: json.dumps(k, sort_keys=True))
    Path(out_path).write_text(json.dumps(streams))
    total = sum(s["records"] for s in streams.values())
    print(f"truth: {len(streams)} streams, {total} records, {repeated} repeated keys")


def report(kind, results):
    bad = [r for r in results if r[1]]
    for name, problem, detail in results:
        print(f"  {name}: {'MISMATCH ' + problem if problem else 'ok'} {detail}")
    print(f"{kind}: {len(results) - len(bad)}/{len(results)} streams equal to the tap's output")
    return 1 if bad else 0


def compare(name, s, rows, exact_rows):
    """rows: list of key tuples found in the target; exact_rows: the row count it must have."""
    found = set(rows)
    missing = s["keyset"] - found
    extra = found - s["keyset"]
    detail = f"rows={len(rows)} distinct_keys={len(found)} tap_keys={len(s['keyset'])}"
    if missing:
        return name, f"{len(missing)} keys missing, e.g. {sorted(missing, key=str)[0]}", detail
    if extra:
        return name, f"{len(extra)} unexpected keys, e.g. {sorted(extra, key=str)[0]}", detail
    if len(rows) != exact_rows:
        return name, f"{len(rows)} rows, expected {exact_rows}", detail
    return name, "", detail


def psql(sql):
    out = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if line]


def postgres(truth_path, schema):
    t = read_truth(truth_path)
    tables = set(psql(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'"))
    results = []
    for name, s in sorted(t.items()):
        if name not in tables:
            results.append((name, "table missing", ""))
            continue
        cols = psql(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{schema}' AND table_name = '{name}'"
        )
        norm = {c.lower().replace("_", ""): c for c in cols}
        try:
            keycols = [norm[k.lower().replace("_", "")] for k in s["key_properties"]]
        except KeyError as e:
            results.append((name, f"key column {e} missing", ""))
            continue
        arr = ", ".join(f'"{c}"' for c in keycols)
        lines = psql(f'SELECT json_build_array({arr})::text FROM "{schema}"."{name}"')
        rows = [
            tuple(canon(v, *s["types"][k]) for v, k in zip(json.loads(l), s["key_properties"]))
            for l in lines
        ]
        # Upserting target: one row per key, whatever the tap repeated.
        results.append(compare(name, s, rows, len(s["keyset"])))
    extra = tables - set(t)
    if extra:
        print(f"  (tables not in the tap's output: {sorted(extra)})")
    return report(f"postgres schema {schema}", results)


def files(kind, truth_path, directory):
    t = read_truth(truth_path)
    d = Path(directory)
    present = {p.name for p in d.iterdir()} if d.is_dir() else set()
    results = []
    for name, s in sorted(t.items()):
        # <stream>.<kind>, or one file of a run: <stream>-<time>.<kind> (stream names have no "-")
        paths = [d / f"{name}.{kind}"] + sorted(d.glob(f"{name}-*.{kind}"))
        paths = [p for p in paths if p.exists()]
        if len(paths) != 1:
            results.append((name, f"{len(paths)} files {[p.name for p in paths]}", ""))
            continue
        path = paths[0]
        present.discard(path.name)
        with open(path, encoding="utf-8", newline="") as f:
            if kind == "jsonl":
                records = [json.loads(l) for l in f if l.strip()]
            else:
                records = list(csv.DictReader(f))
        rows = [key_tuple(r, s["key_properties"], s["types"]) for r in records]
        # Appending targets fed one run: one row per RECORD the tap wrote.
        results.append(compare(name, s, rows, s["records"]))
    if present:
        results.append(("(directory)", f"unexpected files {sorted(present)}", ""))
    return report(f"{kind} files in {directory}", results)


def same(a, b, prop):
    fmt = prop.get("format")
    if a is None or b is None:
        return a is None and b is None
    if fmt in ("date-time", "date"):
        return canon(a, "string", fmt) == canon(b, "string", fmt)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return a == b


def values(tap_output, kind, where):
    """Every property of every RECORD (last one per key) equals the loaded row's value."""
    schemas, records = {}, {}
    with open(tap_output, encoding="utf-8") as f:
        for line in f:
            msg = json.loads(line)
            if msg["type"] == "SCHEMA":
                schemas[msg["stream"]] = msg
            elif msg["type"] == "RECORD":
                records.setdefault(msg["stream"], []).append(msg["record"])
    results = []
    for name, sm in sorted(schemas.items()):
        props = sm["schema"]["properties"]
        keys = sm["key_properties"]
        types = {k: (main_type(props[k]), props[k].get("format")) for k in keys}
        if kind == "postgres":
            rows = [json.loads(l) for l in psql(f'SELECT row_to_json(t)::text FROM "{where}"."{name}" t')]
        else:
            with open(Path(where) / f"{name}.jsonl", encoding="utf-8") as f:
                rows = [json.loads(l) for l in f if l.strip()]
        loaded = {key_tuple(r, keys, types): r for r in rows}
        expected = {key_tuple(r, keys, types): r for r in records.get(name, [])}
        wrong, example = 0, ""
        for k, rec in expected.items():
            row = loaded.get(k)
            for field, prop in props.items():
                if row is None or not same(rec.get(field), row.get(field), prop):
                    wrong += 1
                    if not example:
                        got = "no row" if row is None else repr(row.get(field))[:80]
                        example = f"e.g. {field}: tap {repr(rec.get(field))[:80]}, loaded {got}"
                    break
        detail = f"{len(expected)} rows x {len(props)} columns"
        results.append((name, f"{wrong} rows differ, {example}" if wrong else "", detail))
    bad = [r for r in results if r[1]]
    for name, problem, detail in results:
        print(f"  {name}: {'MISMATCH ' + problem if problem else 'ok'} {detail}")
    print(f"{kind} {where}: every value of {len(results) - len(bad)}/{len(results)} streams"
          " equal to the tap's records")
    return 1 if bad else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "truth":
        truth(argv[2], argv[3])
        return 0
    if len(argv) == 4 and argv[1] == "postgres":
        return postgres(argv[2], argv[3])
    if len(argv) == 4 and argv[1] in ("jsonl", "csv"):
        return files(argv[1], argv[2], argv[3])
    if len(argv) == 5 and argv[1] == "values" and argv[3] in ("postgres", "jsonl"):
        return values(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
