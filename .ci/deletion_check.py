#!/usr/bin/env python3
"""Deletions in Postmark reach PostgreSQL through ACTIVATE_VERSION, and a failed server's rows stay.

    deletion_check.py SIM_OUT TAP TARGET_POSTGRES CONFIG.json CATALOG.json WORK_DIR   # PG* env

SIM_OUT is what `postmark-sim` printed (base_url, account_token, server lines); the simulator
must be fresh for this check (nothing deleted yet). TAP is the tap-postmark executable,
TARGET_POSTGRES MeltanoLabs' target-postgres, CONFIG.json the tap's config (account token) to
which `emit_activate_version_messages: true` is added, CATALOG.json a discovered catalog.

The tap's full-table streams and one incremental stream (`messages_outbound`) are piped into two
schemas, one with `hard_delete: true`, one with soft deletion (`_sdc_deleted_at`):

1. a first run loads everything;
2. through Postmark's own API, a (standard) template, a webhook, an inbound rule, a domain and a sender
   signature are deleted and a suppression is lifted; after the second run those rows are gone
   (hard) or carry `_sdc_deleted_at` (soft), and every other row is untouched;
3. a template of a second server is deleted and that server's token revoked (the simulator's
   control endpoint): the run fails for that server (exit 4), and no row of any server-scoped
   table is deleted, the deleted template's included;
4. with the token restored, the next run removes that template's row too.

One line per check; exit 1 at the first failure.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import singer_util  # noqa: E402  (catalog selection, shared with ecosystem.sh)

FULL_TABLE = {
    "templates": ["ServerID", "TemplateId"],
    "webhooks": ["ServerID", "ID"],
    "inbound_rules": ["ServerID", "ID"],
    "domains": ["ID"],
    "sender_signatures": ["ID"],
    "suppressions": ["ServerID", "MessageStream", "EmailAddress"],
}
INCREMENTAL = {"messages_outbound": ["ServerID", "MessageID"]}
TABLES = {**FULL_TABLE, **INCREMENTAL}
PARTIAL_FAILURE = 4


def fail(msg):
    print(f"FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


class Sim:
    """The simulator as a Postmark user sees it, plus its control endpoint."""

    def __init__(self, sim_out):
        self.servers = []
        for line in open(sim_out, encoding="utf-8"):
            parts = line.split()
            if parts and parts[0] == "base_url":
                self.base = parts[1]
            elif parts and parts[0] == "account_token":
                self.account = parts[1]
            elif parts and parts[0] == "server":
                self.servers.append((int(parts[1]), parts[-1]))

    def call(self, method, path, token=None, account=False, body=None):
        headers = {"Accept": "application/json"}
        if token:
            name = "X-Postmark-Account-Token" if account else "X-Postmark-Server-Token"
            headers[name] = token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def ok(self, method, path, **kw):
        status, answer = self.call(method, path, **kw)
        if status != 200 or (isinstance(answer, dict) and answer.get("ErrorCode", 0) != 0):
            fail(f"{method} {path}: HTTP {status} {answer}")
        return answer


def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def column(schema, table, name):
    """The column target-postgres made of a record field (its spelling may differ)."""
    cols = psql("SELECT column_name FROM information_schema.columns "
                f"WHERE table_schema = '{schema}' AND table_name = '{table}'")
    norm = {c.lower().replace("_", ""): c for c in cols}
    return norm.get(name.lower().replace("_", ""))


def rows(schema, table):
    """{key tuple: deleted?} of a table (deleted: `_sdc_deleted_at` set)."""
    keys = [column(schema, table, k) for k in TABLES[table]]
    if None in keys:
        fail(f"{schema}.{table}: no column for a key of {TABLES[table]}")
    deleted = column(schema, table, "_sdc_deleted_at")
    flag = f'"{deleted}" IS NOT NULL' if deleted else "false"
    arr = ", ".join(f'"{k}"::text' for k in keys)
    out = {}
    for line in psql(f'SELECT json_build_array({arr}, {flag})::text FROM "{schema}"."{table}"'):
        v = json.loads(line)
        out[tuple(v[:-1])] = v[-1]
    return out


def snapshot(schema):
    return {t: rows(schema, t) for t in TABLES}


class Pipeline:
    def __init__(self, tap, target, config, catalog, work):
        self.tap, self.target, self.work = tap, target, work
        cfg = json.load(open(config, encoding="utf-8"))
        cfg["emit_activate_version_messages"] = True
        self.config = os.path.join(work, "deletion-tap.json")
        json.dump(cfg, open(self.config, "w", encoding="utf-8"))
        self.catalog = os.path.join(work, "deletion-catalog.json")
        singer_util.select(catalog, self.catalog, lambda name: name in TABLES)
        self.runs = 0

    def run(self, schema, hard):
        """Tap piped into target-postgres; the tap's exit code (the target must succeed)."""
        self.runs += 1
        target_cfg = os.path.join(self.work, f"deletion-target-{schema}.json")
        json.dump({"host": os.environ["PGHOST"], "port": int(os.environ["PGPORT"]),
                   "user": os.environ["PGUSER"], "password": "postgres",
                   "database": os.environ["PGDATABASE"], "default_target_schema": schema,
                   "hard_delete": hard, "activate_version": True, "add_record_metadata": True},
                  open(target_cfg, "w", encoding="utf-8"))
        log = os.path.join(self.work, f"deletion-{self.runs}-{schema}")
        with open(log + ".tap.err", "w") as tap_err, open(log + ".target.log", "w") as tgt_log:
            tap = subprocess.Popen([self.tap, "--config", self.config, "--catalog", self.catalog],
                                   stdout=subprocess.PIPE, stderr=tap_err)
            tgt = subprocess.run([self.target, "--config", target_cfg], stdin=tap.stdout,
                                 stdout=tgt_log, stderr=subprocess.STDOUT)
            tap.stdout.close()
            code = tap.wait()
        if tgt.returncode != 0:
            fail(f"target-postgres exited {tgt.returncode} (log {log}.target.log)")
        return code, open(log + ".tap.err").read()


def expect(cond, msg):
    if not cond:
        fail(msg)


def delete_some(sim):
    """Deletes one item of each full-table stream through Postmark's API; their keys."""
    server, token = sim.servers[0]
    gone = {t: set() for t in FULL_TABLE}
    t = sim.ok("GET", "/templates?count=500&offset=0&TemplateType=Standard",
               token=token)["Templates"][0]
    answer = sim.ok("DELETE", f"/templates/{t['TemplateId']}", token=token)
    expect(answer["Message"] == f"Template {t['TemplateId']} removed.", f"template: {answer}")
    gone["templates"].add((str(server), str(t["TemplateId"])))
    w = sim.ok("GET", "/webhooks", token=token)["Webhooks"][0]
    sim.ok("DELETE", f"/webhooks/{w['ID']}", token=token)
    gone["webhooks"].add((str(server), str(w["ID"])))
    r = sim.ok("GET", "/triggers/inboundrules?count=500&offset=0", token=token)["InboundRules"][0]
    sim.ok("DELETE", f"/triggers/inboundrules/{r['ID']}", token=token)
    gone["inbound_rules"].add((str(server), str(r["ID"])))
    d = sim.ok("GET", "/domains?count=500&offset=0", token=sim.account, account=True)["Domains"][0]
    sim.ok("DELETE", f"/domains/{d['ID']}", token=sim.account, account=True)
    gone["domains"].add((str(d["ID"]),))
    s = sim.ok("GET", "/senders?count=500&offset=0", token=sim.account,
               account=True)["SenderSignatures"][0]
    sim.ok("DELETE", f"/senders/{s['ID']}", token=sim.account, account=True)
    gone["sender_signatures"].add((str(s["ID"]),))
    dump = sim.ok("GET", "/message-streams/outbound/suppressions/dump", token=token)
    # Spam complaints cannot be lifted (Postmark answers Failed).
    address = next(x["EmailAddress"] for x in dump["Suppressions"]
                   if x["SuppressionReason"] != "SpamComplaint")
    lifted = sim.ok("POST", "/message-streams/outbound/suppressions/delete", token=token,
                    body={"Suppressions": [{"EmailAddress": address}]})
    expect(lifted["Suppressions"][0]["Status"] == "Deleted", f"suppression: {lifted}")
    gone["suppressions"].add((str(server), "outbound", address))
    return gone


def check_after(schema, hard, before, after, gone, why):
    """Rows of `gone` deleted (hard) or marked (soft); every other row as before."""
    for table in TABLES:
        b, a = before[table], after[table]
        removed = gone.get(table, set())
        expect(removed <= set(b), f"{schema}.{table}: {removed - set(b)} were never loaded")
        for key in removed:
            if hard:
                expect(key not in a, f"{schema}.{table}: {key} still there {why}")
            else:
                expect(a.get(key) is True, f"{schema}.{table}: {key} not marked deleted {why}")
        for key, was_deleted in b.items():
            if key in removed or was_deleted:
                continue
            expect(key in a, f"{schema}.{table}: {key} lost {why}")
            expect(a[key] is False, f"{schema}.{table}: {key} marked deleted {why}")


def main(argv):
    if len(argv) != 7:
        fail(__doc__.strip().splitlines()[2].strip())
    sim = Sim(argv[1])
    pipe = Pipeline(argv[2], argv[3], argv[4], argv[5], argv[6])
    schemas = {"tap_postmark_hard_delete": True, "tap_postmark_soft_delete": False}
    before = {}
    for schema, hard in schemas.items():
        code, err = pipe.run(schema, hard)
        expect(code == 0, f"first run into {schema} exited {code}: {err[-2000:]}")
        before[schema] = snapshot(schema)
        counts = {t: len(r) for t, r in before[schema].items()}
        expect(all(counts.values()), f"{schema}: empty tables after the first run: {counts}")
    print(f"first run: {sum(len(r) for r in before[schema].values())} rows in each schema")

    gone = delete_some(sim)
    for schema, hard in schemas.items():
        code, err = pipe.run(schema, hard)
        expect(code == 0, f"second run into {schema} exited {code}: {err[-2000:]}")
        after = snapshot(schema)
        check_after(schema, hard, before[schema], after, gone, "after the deletions")
        before[schema] = after
    n = sum(len(k) for k in gone.values())
    print(f"deleted in Postmark: {n} items of {len(gone)} streams; gone (hard) or marked "
          "_sdc_deleted_at (soft) after the next run, every other row untouched, "
          "messages_outbound (incremental) untouched")

    failing, token = sim.servers[1]
    t = sim.ok("GET", "/templates?count=500&offset=0&TemplateType=Standard",
               token=token)["Templates"][0]
    sim.ok("DELETE", f"/templates/{t['TemplateId']}", token=token)
    sim.ok("POST", f"/_sim/servers/{failing}/revoke")
    for schema, hard in schemas.items():
        code, err = pipe.run(schema, hard)
        expect(code == PARTIAL_FAILURE, f"run with server {failing} revoked into {schema} "
               f"exited {code}, expected {PARTIAL_FAILURE}: {err[-2000:]}")
        after = snapshot(schema)
        check_after(schema, hard, before[schema], after, {}, f"with server {failing} failing")
        key = (str(failing), str(t["TemplateId"]))
        expect(key in after["templates"] and after["templates"][key] is False,
               f"{schema}: the failed server's deleted template {key} was removed")
    print(f"server {failing} failing (exit {PARTIAL_FAILURE}): no row deleted or marked, its "
          f"deleted template {t['TemplateId']} kept")

    sim.ok("POST", f"/_sim/servers/{failing}/restore")
    for schema, hard in schemas.items():
        code, err = pipe.run(schema, hard)
        expect(code == 0, f"run after the restore into {schema} exited {code}: {err[-2000:]}")
        after = snapshot(schema)
        gone = {"templates": {(str(failing), str(t["TemplateId"]))}}
        check_after(schema, hard, before[schema], after, gone, "once the server is back")
    print(f"server {failing} back: its deleted template removed by the next run; "
          f"{pipe.runs} runs into 2 schemas")


if __name__ == "__main__":
    main(sys.argv)
