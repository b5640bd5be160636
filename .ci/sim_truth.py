#!/usr/bin/env python3
"""An independent reading of the simulator, compared with the tap's own output.

    sim_truth.py SIM_OUT START_DATE END_DATE TRUTH.json

SIM_OUT is what `postmark-sim` printed (base_url, account_token, `server <id> "<name>" <token>`);
TRUTH.json is `count_keys.py truth` of the tap's output for [START_DATE, END_DATE). This client
shares no code with the tap: it pages each list endpoint plainly (no date windows: the account is
small enough for Postmark's 10,000-row ceiling), filters records by their own timestamps in
Python, and builds the key set each stream must have. Statistics are not re-derived here.
"""

import datetime as dt
import http.client
import json
import sys
import urllib.parse
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from count_keys import canon, read_truth  # noqa: E402

UTC = dt.timezone.utc
EASTERN = ZoneInfo("America/New_York")


class Api:
    def __init__(self, base_url):
        u = urllib.parse.urlsplit(base_url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.requests = 0

    def get(self, path, token, account=False, **params):
        query = urllib.parse.urlencode(params)
        header = "X-Postmark-Account-Token" if account else "X-Postmark-Server-Token"
        self.conn.request("GET", f"{path}?{query}" if query else path,
                          headers={header: token, "Accept": "application/json"})
        resp = self.conn.getresponse()
        body = resp.read()
        self.requests += 1
        if resp.status != 200:
            raise SystemExit(f"GET {path} {params}: HTTP {resp.status} {body[:200]!r}")
        return json.loads(body)

    def pages(self, path, token, field, account=False, count="count", offset="offset", **params):
        out, off = [], 0
        while True:
            page = self.get(path, token, account, **{count: 500, offset: off}, **params)
            total = page["TotalCount"]
            if total > 10000:
                raise SystemExit(f"{path} {params}: {total} rows, too many for a plain reader")
            out.extend(page[field])
            off += 500
            if off >= total or not page[field]:
                return out


def read_sim(path):
    sim = {"servers": {}}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in ("base_url", "account_token"):
            sim[parts[0]] = parts[1]
        elif parts and parts[0] == "server":
            sim["servers"][int(parts[1])] = parts[-1]
    return sim


def instant(s):
    return dt.datetime.fromisoformat(s).astimezone(UTC)


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    sim = read_sim(argv[1])
    start = dt.datetime.fromisoformat(argv[2]).replace(tzinfo=UTC)
    end = instant(argv[3].replace("Z", "+00:00"))
    truth = read_truth(argv[4])
    api = Api(sim["base_url"])
    acct = sim["account_token"]
    keys = {name: set() for name in (
        "servers", "domains", "sender_signatures", "server", "message_streams", "templates",
        "webhooks", "inbound_rules", "suppressions", "messages_outbound", "messages_opens",
        "messages_clicks", "messages_inbound", "bounces", "message_events")}

    def add(stream, **fields):
        s = truth[stream]
        unknown = [k for k in s["key_properties"] if k not in fields]
        if unknown:
            raise SystemExit(f"{stream}: the tap's key {s['key_properties']} has {unknown},"
                             f" which this reader does not derive (it knows {sorted(fields)})")
        keys[stream].add(tuple(canon(fields[k], *s["types"][k]) for k in s["key_properties"]))

    def in_range(ts):
        return start <= instant(ts) < end

    for x in api.pages("/servers", acct, "Servers", account=True):
        add("servers", ID=x["ID"])
    for x in api.pages("/domains", acct, "Domains", account=True):
        add("domains", ID=x["ID"])
    for x in api.pages("/senders", acct, "SenderSignatures", account=True):
        add("sender_signatures", ID=x["ID"])

    for sid, tok in sorted(sim["servers"].items()):
        add("server", ServerID=sid, ID=api.get("/server", tok)["ID"])
        streams = api.get("/message-streams", tok, IncludeArchivedStreams="true")["MessageStreams"]
        for ms in streams:
            add("message_streams", ServerID=sid, ID=ms["ID"])
            for x in api.get(f"/message-streams/{ms['ID']}/suppressions/dump", tok)["Suppressions"]:
                add("suppressions", ServerID=sid, MessageStream=ms["ID"],
                    EmailAddress=x["EmailAddress"])
        for x in api.pages("/templates", tok, "Templates", count="Count", offset="Offset"):
            add("templates", ServerID=sid, TemplateId=x["TemplateId"])
        for x in api.get("/webhooks", tok)["Webhooks"]:
            add("webhooks", ServerID=sid, ID=x["ID"])
        for x in api.pages("/triggers/inboundrules", tok, "InboundRules"):
            add("inbound_rules", ServerID=sid, ID=x["ID"])

        outbound = [ms["ID"] for ms in streams if ms["MessageStreamType"] != "Inbound"]
        for ms in outbound:
            for m in api.pages("/messages/outbound", tok, "Messages", messagestream=ms):
                if in_range(m["ReceivedAt"]):
                    add("messages_outbound", ServerID=sid, MessageID=m["MessageID"])
                    details = api.get(f"/messages/outbound/{m['MessageID']}/details", tok)
                    for e in details["MessageEvents"]:
                        add("message_events", ServerID=sid, MessageID=m["MessageID"],
                            Recipient=e["Recipient"], Type=e["Type"], ReceivedAt=e["ReceivedAt"])
            for o in api.pages("/messages/outbound/opens", tok, "Opens", messagestream=ms):
                if in_range(o["ReceivedAt"]):
                    add("messages_opens", ServerID=sid, MessageID=o["MessageID"],
                        Recipient=o["Recipient"], ReceivedAt=o["ReceivedAt"])
            for c in api.pages("/messages/outbound/clicks", tok, "Clicks", messagestream=ms):
                if in_range(c["ReceivedAt"]):
                    add("messages_clicks", ServerID=sid, MessageID=c["MessageID"],
                        Recipient=c["Recipient"], ReceivedAt=c["ReceivedAt"],
                        OriginalLink=c["OriginalLink"])
        for ms in [s["ID"] for s in streams]:
            for b in api.pages("/bounces", tok, "Bounces", messagestream=ms):
                if in_range(b["BouncedAt"]):
                    add("bounces", ServerID=sid, ID=b["ID"])
        # Inbound messages carry no receive time: ask Postmark's own (Eastern, inclusive) filter.
        naive = lambda t: t.astimezone(EASTERN).strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
        for m in api.pages("/messages/inbound", tok, "InboundMessages",
                           fromdate=naive(start), todate=naive(end)):
            add("messages_inbound", ServerID=sid, MessageID=m["MessageID"])

    bad = 0
    for name, found in keys.items():
        tap = truth[name]["keyset"]
        missing, extra = found - tap, tap - found
        if missing or extra:
            bad += 1
            print(f"  {name}: MISMATCH simulator={len(found)} tap={len(tap)};"
                  f" missing from the tap: {sorted(missing, key=str)[:3]};"
                  f" not in the simulator: {sorted(extra, key=str)[:3]}")
        else:
            print(f"  {name}: ok {len(found)} keys")
    print(f"simulator read independently ({api.requests} requests):"
          f" {len(keys) - bad}/{len(keys)} streams equal to the tap's output")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
