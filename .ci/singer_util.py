#!/usr/bin/env python3
"""Small Singer helpers for .ci/ecosystem.sh.

    singer_util.py select-all CATALOG OUT        # every stream selected (message_events too)
    singer_util.py streams CATALOG               # stream names, one a line
    singer_util.py last-state TAP_OUTPUT OUT     # value of the last STATE message
    singer_util.py records TAP_OUTPUT            # "<records> <streams-with-records>"
    singer_util.py servers TAP_OUTPUT STREAM     # distinct ServerID values of STREAM's records
    singer_util.py with-tags CONFIG OUT TAG...   # CONFIG with stats_tags set to the TAGs
    singer_util.py tagged-stats TAP_OUTPUT TAG   # the stats_* streams per tag: Tag in every
                                                 # SCHEMA's key and row, no key twice, TAG and
                                                 # other tags found; "<rows> <tags> <streams>"
"""

import json
import sys


def messages(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def select(catalog, out, pick):
    """Writes `catalog` to `out` with the streams `pick(name)` keeps selected, the others not."""
    cat = json.load(open(catalog, encoding="utf-8"))
    for s in cat["streams"]:
        root = [m for m in s.get("metadata", []) if m.get("breadcrumb") == []]
        if not root:
            root = [{"breadcrumb": [], "metadata": {}}]
            s.setdefault("metadata", []).append(root[0])
        root[0]["metadata"]["selected"] = pick(s["stream"])
    json.dump(cat, open(out, "w", encoding="utf-8"))
    return cat


def select_all(catalog, out):
    cat = select(catalog, out, lambda _: True)
    print(f"{len(cat['streams'])} streams selected")


def tagged_stats(path, listed):
    """Checks the stats_* streams of a run with stats_tags; returns a problem or a summary."""
    keys, seen, tags, streams, rows = {}, set(), set(), set(), 0
    for m in messages(path):
        stream = m.get("stream", "")
        if not stream.startswith("stats_"):
            continue
        if m["type"] == "SCHEMA":
            keys[stream] = m["key_properties"]
            if keys[stream][:3] != ["ServerID", "MessageStream", "Tag"]:
                return f"{stream}: key {keys[stream]} does not begin ServerID, MessageStream, Tag"
        elif m["type"] == "RECORD":
            r = m["record"]
            if not isinstance(r.get("Tag"), str):
                return f"{stream}: a row without a string Tag: {r}"
            key = (stream,) + tuple(json.dumps(r.get(k)) for k in keys[stream])
            if key in seen:
                return f"{stream}: key {key} twice"
            seen.add(key)
            if r["Tag"]:
                rows += 1
                tags.add(r["Tag"])
                streams.add(stream)
    if listed not in tags or len(tags) < 2:
        return f"tags read: {sorted(tags)}; expected {listed!r} and the tags found"
    print(rows, len(tags), len(streams))
    return None


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "select-all" and len(argv) == 4:
        select_all(argv[2], argv[3])
    elif cmd == "streams" and len(argv) == 3:
        for s in json.load(open(argv[2], encoding="utf-8"))["streams"]:
            print(s["stream"])
    elif cmd == "opt-in" and len(argv) == 3:
        # The streams a catalog marks `selected-by-default: false`.
        for s in json.load(open(argv[2], encoding="utf-8"))["streams"]:
            root = [m for m in s.get("metadata", []) if m.get("breadcrumb") == []]
            if root and root[0]["metadata"].get("selected-by-default") is False:
                print(s["stream"])
    elif cmd == "last-state" and len(argv) == 4:
        value = None
        for m in messages(argv[2]):
            if m["type"] == "STATE":
                value = m["value"]
        if value is None:
            print("no STATE message", file=sys.stderr)
            return 1
        json.dump(value, open(argv[3], "w", encoding="utf-8"))
    elif cmd == "records" and len(argv) == 3:
        n, streams = 0, set()
        for m in messages(argv[2]):
            if m["type"] == "RECORD":
                n += 1
                streams.add(m["stream"])
        print(n, len(streams))
    elif cmd == "servers" and len(argv) == 4:
        ids = {
            m["record"].get("ServerID")
            for m in messages(argv[2])
            if m["type"] == "RECORD" and m["stream"] == argv[3]
        }
        print(" ".join(str(i) for i in sorted(ids, key=str)))
    elif cmd == "with-tags" and len(argv) >= 5:
        config = json.load(open(argv[2], encoding="utf-8"))
        config["stats_tags"] = argv[4:]
        json.dump(config, open(argv[3], "w", encoding="utf-8"))
    elif cmd == "tagged-stats" and len(argv) == 4:
        problem = tagged_stats(argv[2], argv[3])
        if problem:
            print(problem, file=sys.stderr)
            return 1
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
