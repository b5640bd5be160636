#!/usr/bin/env python3
"""What the `pii` mapping of meltano/meltano.yml let through into PostgreSQL.

    POSTMARK_PII_HASH_SEED=... pii_check.py TAP_OUTPUT.jsonl SCHEMA    # PG* environment for psql

TAP_OUTPUT.jsonl is the tap's own, unmapped output of the same account; SCHEMA holds what
`meltano run tap-postmark pii target-postgres` loaded from it. The check fails when:

* a table holds an e-mail address that is not `<sha256 of seed + address in lower case>@<its
  domain>` for an address of the tap's output: a plain address, or one hashed another way;
* a stream whose records carry addresses lost them, or their domains (each stream's hashed
  values must cover the domains of its addresses);
* an address seen in several streams does not give the same value in each of their tables;
* a person's name from an address field (`Name` of To/Cc/Bcc/*Full/FromFull, FromName, the
  display names of header text) is a value of any column;
* a body column (BODIES: TextBody, HtmlBody, Body, StrippedTextReply, Headers of the details
  streams and bounce dumps, a bounce's Content) holds a value;
* a table has fewer rows than the stream has distinct keys in the tap's output.

Every string of every column is read (jsonb columns walked down to their strings). One line per
stream, then a summary line; exit 1 after printing every problem found.
"""

import collections
import hashlib
import json
import os
import re
import subprocess
import sys

# An address as it occurs in text: a local part, @, a domain of two labels or more.
ADDRESS = re.compile(r"[\w.%+=!#$&'*/?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
HASHED = re.compile(r"^[0-9a-f]{64}@")
# Message bodies, per stream.
BODIES = {
    "messages_outbound_details": {"TextBody", "HtmlBody", "Body"},
    "messages_inbound_details": {"TextBody", "HtmlBody", "StrippedTextReply", "Headers"},
    "bounce_dumps": {"Body"},
    "bounces": {"Content"},
}
ADDRESS_OBJECTS = {"To", "Cc", "Bcc", "ToFull", "CcFull", "BccFull", "FromFull"}
HEADER_TEXT = {"From", "To", "Cc", "Bcc", "ReplyTo"}


def strings(value, path=()):
    """(path, string) for every string in a JSON value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(v, path + (k,))
    elif isinstance(value, list):
        for v in value:
            yield from strings(v, path + ("[]",))


def names_in(record):
    """Names of people next to addresses in a record."""
    found = set()
    if isinstance(record.get("FromName"), str):
        found.add(record["FromName"])
    for prop in ADDRESS_OBJECTS:
        value = record.get(prop)
        for obj in value if isinstance(value, list) else [value]:
            if isinstance(obj, dict) and isinstance(obj.get("Name"), str):
                found.add(obj["Name"])
    for prop in HEADER_TEXT:
        value = record.get(prop)
        if isinstance(value, str):
            for part in value.split(","):
                if "<" in part:
                    found.add(part.rpartition("<")[0].strip().strip('"').strip())
    return {n for n in found if len(n) >= 3}


def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return out.strip()


def main():
    tap_output, schema = sys.argv[1:3]
    seed = os.environ["POSTMARK_PII_HASH_SEED"]
    if not seed:
        sys.exit("POSTMARK_PII_HASH_SEED is empty")

    def hashed(address):
        address = address.lower()
        return hashlib.sha256((seed + address).encode()).hexdigest() + "@" + address.rpartition("@")[2]

    # The tap's own output: addresses and names per stream, distinct keys per stream.
    addresses = collections.defaultdict(set)  # stream -> addresses outside the bodies
    body_addresses = set()
    names = set()
    keys = collections.defaultdict(set)
    key_props = {}
    with open(tap_output, encoding="utf-8") as f:
        for line in f:
            msg = json.loads(line)
            if msg["type"] == "SCHEMA":
                key_props[msg["stream"]] = msg["key_properties"]
            elif msg["type"] == "RECORD":
                stream, record = msg["stream"], msg["record"]
                keys[stream].add(json.dumps([record.get(k) for k in key_props[stream]]))
                names |= names_in(record)
                for path, text in strings(record):
                    found = ADDRESS.findall(text)
                    in_body = path[0] in BODIES.get(stream, ())
                    (body_addresses if in_body else addresses[stream]).update(found)
    everyone = set().union(*addresses.values()) | body_addresses
    expected = {hashed(a) for a in everyone}

    tables = set(psql(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'").split())
    problems = []
    seen = collections.defaultdict(set)  # stream -> hashed values found in its table
    for stream in sorted(keys):
        if stream not in tables:
            problems.append(f"{stream}: no table {schema}.{stream}")
            continue
        rows = json.loads(psql(f'SELECT coalesce(json_agg(t), \'[]\') FROM "{schema}"."{stream}" t'))
        plain = collections.Counter()
        foreign = collections.Counter()
        leaked_names = collections.Counter()
        bodies = collections.Counter()
        for row in rows:
            for column, value in row.items():
                if column in BODIES.get(stream, ()) and value not in (None, "", []):
                    bodies[column] += 1
                for path, text in strings(value, (column,)):
                    if text in names:
                        leaked_names[".".join(path)] += 1
                    for a in ADDRESS.findall(text):
                        if not HASHED.match(a):
                            plain[".".join(path)] += 1
                        elif a not in expected:
                            foreign[".".join(path)] += 1
                        else:
                            seen[stream].add(a)
        for what, counter in (("plain addresses", plain), ("hashes of no address of the account", foreign),
                              ("names", leaked_names), ("non-empty bodies", bodies)):
            for column, n in sorted(counter.items()):
                problems.append(f"{stream}.{column}: {n} {what}")
        if len(rows) < len(keys[stream]):
            problems.append(f"{stream}: {len(rows)} rows for {len(keys[stream])} distinct keys")
        if addresses[stream]:
            want = {a.rpartition("@")[2].lower() for a in addresses[stream]}
            got = {h.rpartition("@")[2] for h in seen[stream]}
            if want - got:
                problems.append(f"{stream}: no hashed address of domain(s) {', '.join(sorted(want - got))}")
        print(f"{stream}: {len(rows)} rows, {len(addresses[stream])} distinct addresses in the tap's output, "
              f"{len(seen[stream])} distinct hashed ones in the table")

    # The same address, the same value in every stream's table.
    shared = 0
    unlike = collections.Counter()
    for address in everyone:
        streams = sorted(s for s in addresses if address in addresses[s] and s in tables)
        if len(streams) > 1:
            shared += 1
            missing = [s for s in streams if hashed(address) not in seen[s]]
            if missing:
                unlike[f"{', '.join(streams)}, not hashed alike in {', '.join(missing)}"] += 1
    for where, n in sorted(unlike.items()):
        problems.append(f"{n} addresses of {where}")

    for p in problems:
        print(f"PROBLEM {p}")
    if problems:
        sys.exit(1)
    print(f"{len(everyone)} distinct addresses of the account ({len(body_addresses)} in bodies), none in "
          f"plain text in {len(keys)} tables; {sum(len(v) for v in seen.values())} hashed values, "
          f"domains kept; {shared} addresses hashed alike across streams; {len(names)} names dropped")


if __name__ == "__main__":
    main()
