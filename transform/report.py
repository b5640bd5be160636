#!/usr/bin/env python3
"""The Postmark report: one self-contained HTML page made from the dbt marts in DuckDB.

    python report.py [--duckdb postmark.duckdb] [--out postmark-report.html]

Daily volume and outcome, the rates over time, the top bounce reasons and domains, opens by
email client, and the reconciliation with Postmark's own statistics. Charts are inline SVG and
the styles inline: the page needs no network to be viewed. Needs only the `duckdb` package
(dbt-duckdb installs it).
"""

import argparse
import datetime as dt
import html
import sys

import duckdb

MARTS = "analytics_marts"
COLORS = {"delivered": "#2e7d32", "bounced": "#c62828", "queued": "#9e9e9e"}
RATE_COLORS = ["#1565c0", "#c62828", "#6a1b9a", "#ef6c00", "#00838f"]


def esc(v):
    return html.escape(str(v), quote=True)


def rows(con, sql):
    return con.execute(sql).fetchall()


def stacked_bars(days, series, title):
    """Daily bars stacked by outcome: days = [(date, {outcome: n})]."""
    w, h, left, bottom = 900, 260, 50, 30
    top = max((sum(v.values()) for _, v in days), default=0) or 1
    bw = (w - left - 10) / max(len(days), 1)
    marks = []
    for i, (day, counts) in enumerate(days):
        y = h - bottom
        for name in series:
            n = counts.get(name, 0)
            if n <= 0:
                continue
            bh = (h - bottom - 10) * n / top
            y -= bh
            marks.append(
                f'<rect class="mark" x="{left + i * bw + 1:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" '
                f'height="{bh:.1f}" fill="{COLORS[name]}"><title>{esc(day)} {esc(name)}: {n}</title></rect>'
            )
    labels = "".join(
        f'<text x="{left + i * bw + bw / 2:.1f}" y="{h - 12}" text-anchor="middle">{esc(str(d)[5:])}</text>'
        for i, (d, _) in enumerate(days)
        if len(days) <= 16 or i % max(len(days) // 10, 1) == 0
    )
    legend = " ".join(f'<span style="color:{COLORS[s]}">&#9632; {esc(s)}</span>' for s in series)
    return chart(title, w, h, marks, labels + axis(left, h, bottom, top), legend)


def lines(days, series, title):
    """Daily lines of rates: days = [(date, {name: share})]."""
    w, h, left, bottom = 900, 260, 50, 30
    top = max((v for _, d in days for v in d.values()), default=0) or 1
    step = (w - left - 20) / max(len(days) - 1, 1)
    marks = []
    for k, name in enumerate(series):
        pts = " ".join(
            f"{left + i * step:.1f},{h - bottom - (h - bottom - 10) * d.get(name, 0) / top:.1f}"
            for i, (_, d) in enumerate(days)
        )
        marks.append(
            f'<polyline class="mark" fill="none" stroke-width="2" stroke="{RATE_COLORS[k]}" points="{pts}">'
            f"<title>{esc(name)}</title></polyline>"
        )
    legend = " ".join(
        f'<span style="color:{RATE_COLORS[k]}">&#9632; {esc(s)}</span>' for k, s in enumerate(series)
    )
    ticks = axis(left, h, bottom, top, percent=True)
    return chart(title, w, h, marks, ticks, legend)


def hbars(items, title, color):
    """Horizontal bars: items = [(label, n)], largest first."""
    w, row, left = 900, 22, 260
    h = max(len(items), 1) * row + 10
    top = max((n for _, n in items), default=0) or 1
    marks, labels = [], []
    for i, (label, n) in enumerate(items):
        bw = (w - left - 70) * n / top
        y = 5 + i * row
        marks.append(
            f'<rect class="mark" x="{left}" y="{y}" width="{max(bw, 1):.1f}" height="{row - 6}" fill="{color}">'
            f"<title>{esc(label)}: {n}</title></rect>"
        )
        labels.append(
            f'<text x="{left - 6}" y="{y + row - 10}" text-anchor="end">{esc(label)[:40]}</text>'
            f'<text x="{left + bw + 6:.1f}" y="{y + row - 10}">{n:,}</text>'
        )
    return chart(title, w, h, marks, "".join(labels), "")


def axis(left, h, bottom, top, percent=False):
    fmt = (lambda v: f"{v * 100:.1f}%") if percent else (lambda v: f"{v:,.0f}")
    return (
        f'<line x1="{left}" y1="{h - bottom}" x2="900" y2="{h - bottom}" stroke="#999"/>'
        f'<text x="{left - 6}" y="16" text-anchor="end">{fmt(top)}</text>'
        f'<text x="{left - 6}" y="{h - bottom}" text-anchor="end">{fmt(0)}</text>'
    )


def chart(title, w, h, marks, extra, legend):
    return (
        f'<section><h2>{esc(title)}</h2><div class="legend">{legend}</div>'
        f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{esc(title)}">'
        f'{"".join(marks)}{extra}</svg></section>'
    )


def tiles(con):
    (sent, delivered, bounced, complaints, uopens, uclicks) = rows(
        con,
        f"""select sum(sent), sum(delivered), sum(bounced), sum(spam_complaints),
                   sum(unique_opens), sum(unique_clicks)
            from {MARTS}.postmark__daily_deliverability""",
    )[0]
    (checked, off) = rows(
        con,
        f"""select count(*) filter (where is_complete_day), count(*) filter (where is_complete_day and is_off)
            from {MARTS}.postmark__reconciliation""",
    )[0]
    sent = sent or 0

    def pct(n):
        return f"{100 * (n or 0) / sent:.1f}%" if sent else "–"

    items = [
        ("Sent", f"{sent:,}"),
        ("Delivered", f"{delivered or 0:,} ({pct(delivered)})"),
        ("Bounced", f"{bounced or 0:,} ({pct(bounced)})"),
        ("Spam complaints", f"{complaints or 0:,}"),
        ("Unique opens", f"{uopens or 0:,}"),
        ("Unique clicks", f"{uclicks or 0:,}"),
        ("Reconciled with Postmark", f"{checked - off:,} of {checked:,} day counts equal"),
    ]
    return '<div class="tiles">' + "".join(
        f'<div class="tile"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>' for k, v in items
    ) + "</div>"


def build(con):
    outcome = {}
    for day, name, n in rows(
        con,
        f"""select received_date_eastern, delivery_outcome, count(*)
            from {MARTS}.postmark__messages group by 1, 2 order by 1""",
    ):
        outcome.setdefault(day, {})[name] = n
    volume = stacked_bars(sorted(outcome.items()), ["delivered", "bounced", "queued"],
                          "Daily volume and outcome (messages by US-Eastern send day)")
    rate_names = ["delivery rate", "bounce rate", "unique open rate", "unique click rate", "spam complaint rate"]
    rates = []
    for day, sent, delivered, bounced, opens, clicks, complaints in rows(
        con,
        f"""select activity_date, sum(sent), sum(delivered), sum(bounced), sum(unique_opens),
                   sum(unique_clicks), sum(spam_complaints)
            from {MARTS}.postmark__daily_deliverability group by 1 having sum(sent) > 0 order by 1""",
    ):
        values = [delivered, bounced, opens, clicks, complaints]
        rates.append((day, {k: v / sent for k, v in zip(rate_names, values)}))
    reasons = rows(
        con,
        f"""select bounce_type, sum(bounces) from {MARTS}.postmark__bounces_by_domain
            group by 1 order by 2 desc, 1 limit 10""",
    )
    domains = rows(
        con,
        f"""select recipient_domain, sum(bounces) from {MARTS}.postmark__bounces_by_domain
            where is_delivery_failure group by 1 order by 2 desc, 1 limit 10""",
    )
    clients = rows(
        con,
        f"""select client_family, sum(events) from {MARTS}.postmark__engagement_by_client
            where engagement = 'open' group by 1 order by 2 desc, 1 limit 10""",
    )
    return "".join(
        [
            tiles(con),
            volume,
            lines(rates, rate_names, "Rates over time (shares of the day's sent)"),
            hbars(reasons, "Top bounce reasons", "#c62828"),
            hbars(domains, "Top bounced recipient domains (delivery failures)", "#ad1457"),
            hbars(clients, "Opens by email client", "#1565c0"),
        ]
    )


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Postmark report</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 960px; color: #222; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 16px; margin: 28px 0 4px; }}
.tiles {{ display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; }}
.tile {{ border: 1px solid #ddd; border-radius: 6px; padding: 8px; }}
.k {{ color: #666; font-size: 12px; }} .v {{ font-size: 18px; font-weight: 600; }}
.legend span {{ margin-right: 12px; font-size: 12px; }}
svg text {{ font-size: 11px; fill: #444; }}
footer {{ color: #777; font-size: 12px; margin-top: 24px; }}
</style></head>
<body data-charts-drawn="0">
<h1>Postmark report</h1>
<p>From the dbt marts of tap-postmark's data, {generated}.</p>
{body}
<footer>Made by transform/report.py. Counts are by US-Eastern day, as Postmark files its statistics.</footer>
<script>
// Marks the page with the number of charts that drew at least one mark (checked in CI).
document.body.dataset.chartsDrawn = String(
  Array.from(document.querySelectorAll("svg.chart")).filter(
    (svg) => svg.querySelectorAll(".mark").length > 0 && svg.getBBox().width > 0
  ).length
);
</script>
</body></html>
"""


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duckdb", default="postmark.duckdb", help="the DuckDB file dbt built")
    p.add_argument("--out", default="postmark-report.html", help="the HTML file to write")
    args = p.parse_args(argv)
    try:
        con = duckdb.connect(args.duckdb, read_only=True)
        body = build(con)
    except duckdb.Error as e:
        sys.exit(f"report: cannot read the marts in {args.duckdb} ({e}); run `dbt build` first")
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(PAGE.format(generated=esc(generated), body=body))
    print(f"report: wrote {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
