#!/usr/bin/env python3
"""The dbt package and its report after the README's "6. The analysis", for .ci/quickstart.sh.

    analytics_checks.py CLONE LOG ARTIFACTS

Run with the Python of the dbt-duckdb utility's virtual environment (it has duckdb). Checks:
- both dbt builds passed every test, the reconciliation with Postmark's statistics among them,
  and the DuckDB one took under two minutes beyond the sync;
- the reconciliation compared every measure on the complete days, and found none off;
- the daily mart equals the simulator's own statistics, asked for day by day over HTTP (sent,
  bounced, spam complaints, opens and clicks, unique ones too), and each send day's messages
  delivered, bounced and queued equal what the simulator says became of them
  (`/_sim/servers/{id}/outcomes`);
- DuckDB (built from target-jsonl's appended files) and PostgreSQL (target-postgres's upserted
  tables) give the same staging keys and the same daily mart on the complete days;
- a planted loss (one page of 500 opens dropped from the files) fails the reconciliation test;
- the report renders in headless Chromium with every chart drawn and no console error; its
  screenshot is kept in ARTIFACTS.
Prints one line of what it saw; exits 1 with the first problem.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import duckdb

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))
import count_keys  # noqa: E402  (psql)
from quickstart_checks import Failed, check  # noqa: E402

MARTS = "analytics_marts"
STAGING = "analytics_staging"
MEASURES = {  # reconciliation measure -> the simulator's overview key
    "sent": "Sent",
    "bounced": "Bounced",
    "smtp_api_errors": "SMTPApiErrors",
    "spam_complaints": "SpamComplaints",
    "opens": "Opens",
    "unique_opens": "UniqueOpens",
    "clicks": "TotalClicks",
    "unique_clicks": "UniqueLinksClicked",
}
DAILY = {  # daily mart column -> reconciliation measure
    "sent": "sent", "bounce_events": "bounced", "smtp_api_errors": "smtp_api_errors",
    "spam_complaints": "spam_complaints", "opens": "opens", "unique_opens": "unique_opens",
    "clicks": "clicks", "unique_clicks": "unique_clicks",
}
KEYS = {  # staging model -> (its key, its US-Eastern day column)
    "stg_postmark__messages": (["server_id", "message_id"], "received_date_eastern"),
    "stg_postmark__opens": (["server_id", "message_id", "recipient", "opened_at"], "opened_date_eastern"),
    "stg_postmark__clicks": (["server_id", "message_id", "recipient", "clicked_at", "original_link"],
                             "clicked_date_eastern"),
    "stg_postmark__bounces": (["server_id", "bounce_id"], "bounced_date_eastern"),
}
DAILY_COLUMNS = ["server_id", "message_stream", "tag", "activity_date", "sent", "delivered", "bounced",
                 "spam_complaints", "opens", "unique_opens", "clicks", "unique_clicks"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def dbt_runs(log):
    """The `Done. PASS=…` lines of the dbt builds in LOG, with their elapsed seconds."""
    text = open(log, encoding="utf-8", errors="replace").read()
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    done = re.findall(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)", text)
    took = [float(s) for s in re.findall(r"Finished running .* in [^(]*\(([\d.]+)s\)", text)]
    return done, took, text


def pg_values(columns, rest):
    """Rows of `select columns rest` in PostgreSQL, read through json (whatever a value holds)."""
    return [json.loads(line) for line in count_keys.psql(f"select json_build_array({columns})::text {rest}")]


def sim_tokens(clone):
    """{server ID: token} from postmark-sim.txt, and its base URL."""
    text = (Path(clone) / "postmark-sim.txt").read_text()
    url = re.search(r"^base_url (\S+)", text, re.M)[1]
    return {int(m[1]): m[2] for m in re.finditer(r"^server (\d+) .* (\S+)$", text, re.M)}, url


def sim_overview(url, token, stream, day):
    req = urllib.request.Request(
        f"{url}/stats/outbound?messagestream={stream}&fromdate={day}&todate={day}",
        headers={"X-Postmark-Server-Token": token, "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def against_simulator(con, clone):
    """The daily mart, summed over tags, equals the simulator's overview on complete days."""
    tokens, url = sim_tokens(clone)
    complete = con.execute(f"""
        select distinct server_id, message_stream, stats_date from {MARTS}.postmark__reconciliation
        where is_complete_day order by 1, 2, 3""").fetchall()
    check(complete, "no complete day to compare")
    cols = ", ".join(f"sum({c})" for c in DAILY)
    daily = {(s, ms, d): row for s, ms, d, *row in con.execute(f"""
        select server_id, message_stream, activity_date, {cols}
        from {MARTS}.postmark__daily_deliverability group by 1, 2, 3""").fetchall()}
    for server, stream, day in complete:
        truth = sim_overview(url, tokens[server], stream, day.isoformat())
        ours = daily.get((server, stream, day), [0] * len(DAILY))
        for (col, measure), n in zip(DAILY.items(), ours):
            want = truth[MEASURES[measure]]
            check(n == want, f"server {server} {stream} {day}: {col} {n}, the simulator says {want}")
    # What became of each message, by its send day: the simulator's own outcomes.
    outcomes = {(s, ms, d.isoformat()): row for s, ms, d, *row in con.execute(f"""
        select server_id, message_stream, received_date_eastern, count(*),
            count(*) filter (where delivery_outcome = 'delivered'),
            count(*) filter (where delivery_outcome = 'bounced'),
            count(*) filter (where delivery_outcome = 'queued')
        from {MARTS}.postmark__messages group by 1, 2, 3""").fetchall()}
    delivered = {(s, ms, d.isoformat()): n for s, ms, d, n in con.execute(f"""
        select server_id, message_stream, activity_date, sum(delivered)
        from {MARTS}.postmark__daily_deliverability group by 1, 2, 3""").fetchall()}
    wanted = {(s, ms, d.isoformat()) for s, ms, d in complete}
    for server in tokens:
        with urllib.request.urlopen(f"{url}/_sim/servers/{server}/outcomes", timeout=30) as r:
            truth = json.load(r)
        for row in truth:
            key = (server, row["MessageStream"], row["Date"])
            if key not in wanted:
                continue
            want = [row["Sent"], row["Delivered"], row["Bounced"], row["Queued"]]
            ours = outcomes.get(key, [0, 0, 0, 0])
            check(ours == want, f"{key}: sent, delivered, bounced, queued {ours}, the simulator says {want}")
            check(delivered.get(key, 0) == row["Delivered"], f"{key}: the daily mart's delivered {delivered.get(key, 0)}, the simulator says {row['Delivered']}")
    return len(complete)


def same_rows(con, columns, relation, where):
    """The rows of `relation` in DuckDB and in PostgreSQL, as text, or a failure naming the
    difference; returns how many."""
    select = ", ".join(f"cast({c} as varchar)" for c in columns)
    # Timestamps print alike in both (UTC, no zone) but for a fraction's trailing zeros.
    norm = lambda rows: {tuple(re.sub(r"(\.\d*?)0+$", r"\1", str(v)).rstrip(".") for v in r) for r in rows}
    ours = norm(con.execute(f"select {select} from {relation} {where}").fetchall())
    theirs = norm(pg_values(select.replace("varchar", "text"), f"from {relation} {where}"))
    check(ours == theirs, f"{relation}: DuckDB and PostgreSQL differ ({len(ours - theirs)} rows only in"
                          f" DuckDB, {len(theirs - ours)} only in PostgreSQL)")
    return len(ours)


def duckdb_equals_postgres(con):
    """Same staging keys and the same daily mart before the last day of either load."""
    last_day = (f"from (select max(stats_date) as d from {STAGING}.stg_postmark__stats_overview"
                f" group by server_id, message_stream) as x")
    last = min(con.execute(f"select min(d) {last_day}").fetchone()[0].isoformat(),
               pg_values("min(d)", last_day)[0][0])
    keys = sum(same_rows(con, key, f"{STAGING}.{model}", f"where {day} < date '{last}'")
               for model, (key, day) in KEYS.items())
    daily = same_rows(con, DAILY_COLUMNS, f"{MARTS}.postmark__daily_deliverability",
                      f"where activity_date < date '{last}'")
    return keys, daily


def planted_loss(project, work):
    """One page of opens (500 rows) dropped from the files fails the reconciliation test."""
    src = project / "output" / "jsonl"
    lossy = Path(work) / "lossy-jsonl"
    shutil.copytree(src, lossy)
    opens = (lossy / "messages_opens.jsonl").read_text().splitlines(keepends=True)
    check(len(opens) > 2000, f"only {len(opens)} opens")
    (lossy / "messages_opens.jsonl").write_text("".join(opens[:1000] + opens[1500:]))
    env = dict(os.environ, POSTMARK_JSONL_DIR=str(lossy), POSTMARK_DUCKDB_PATH=str(Path(work) / "lossy.duckdb"),
               DBT_PROFILES_DIR=str(project.parent / "transform"), POSTMARK_DBT_TARGET="duckdb")
    dbt = Path(sys.executable).parent / "dbt"
    run = subprocess.run([str(dbt), "build", "--project-dir", str(project.parent / "transform"),
                          "--target-path", str(Path(work) / "lossy-target")],
                         env=env, capture_output=True, text=True, cwd=work)
    out = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout)
    check(run.returncode != 0, "dbt build passed with 500 opens dropped")
    failed = re.search(r"FAIL (\d+) assert_marts_reconcile_with_postmark_statistics", out)
    check(failed, "the planted loss did not fail the reconciliation test:\n" + out[-2000:])
    others = re.findall(r"\d+ of \d+ (?:FAIL \d+|ERROR) (\S+)", out)
    check(set(others) <= {"assert_marts_reconcile_with_postmark_statistics"}, f"other failures: {others}")
    return int(failed[1])


def browser(report, artifacts):
    """Renders the report in headless Chromium: charts drawn, no console error, a screenshot."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    check(chromium, "no chromium")
    profile = tempfile.mkdtemp()
    base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(base + ["--virtual-time-budget=3000", "--dump-dom", report.as_uri()],
                         capture_output=True, text=True, timeout=120)
    drawn = re.search(r'data-charts-drawn="(\d+)"', dom.stdout)
    check(drawn and int(drawn[1]) == 5, f"charts drawn: {drawn[1] if drawn else 'none'} of 5")
    console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    check(not console, f"console errors: {console[:3]}")
    check("http://" not in report.read_text().replace("http://www.w3.org", "")
          and "https://" not in report.read_text(), "the report refers to the network")
    shot = Path(artifacts) / "postmark-report.png"
    subprocess.run(base + ["--window-size=1000,2200", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, timeout=120, cwd=profile)
    check(shot.exists() and shot.stat().st_size > 20000, f"no screenshot at {shot}")
    shutil.rmtree(profile, ignore_errors=True)
    return shot


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    clone, log, artifacts = Path(argv[1]), argv[2], Path(argv[3])
    project = clone / "meltano"
    artifacts.mkdir(parents=True, exist_ok=True)
    os.environ.update(PGHOST="127.0.0.1", PGPORT="5432", PGUSER="postgres", PGPASSWORD="postgres",
                      PGDATABASE="postgres", PGTZ="UTC")
    try:
        done, took, text = dbt_runs(log)
        check(len(done) == 2, f"{len(done)} dbt builds in the log, expected 2")
        for passed, warn, error, skip in done:
            check(error == "0" and skip == "0" and warn == "0", f"dbt build: PASS={passed} WARN={warn} ERROR={error} SKIP={skip}")
        check("PASS assert_marts_reconcile_with_postmark_statistics" in text or
              re.search(r"PASS\s+assert_marts_reconcile_with_postmark_statistics", text),
              "the reconciliation test did not pass")
        check(took and took[0] < 120, f"the DuckDB build took {took[0] if took else '?'} s")
        con = duckdb.connect(str(project / "output" / "postmark.duckdb"), read_only=True)
        measured = con.execute(f"select count(*), count(distinct measure) from {MARTS}.postmark__reconciliation where is_complete_day").fetchone()
        check(measured[0] > 0 and measured[1] == len(MEASURES), f"reconciliation: {measured}")
        days = against_simulator(con, clone)
        keys, daily = duckdb_equals_postgres(con)
        work = tempfile.mkdtemp()
        lost = planted_loss(project, work)
        shutil.rmtree(work, ignore_errors=True)
        shot = browser(project / "output" / "postmark-report.html", artifacts)
    except Failed as e:
        print(f"FAILED: {e}")
        return 1
    print(f"dbt builds PASS={done[0][0]} and PASS={done[1][0]} (DuckDB in {took[0]:.1f}s);"
          f" {measured[0]} day counts reconciled; {days} complete days equal to the simulator's statistics;"
          f" DuckDB = PostgreSQL on {keys} staging keys and {daily} daily rows;"
          f" 500 opens dropped: {lost} reconciliation failures; report drawn, screenshot {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
