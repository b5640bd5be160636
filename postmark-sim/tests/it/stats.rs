//! Statistics endpoints: response shapes (zero keys and empty days omitted, overview complete),
//! aggregation across streams, and agreement with the searches.

use chrono::{TimeZone, Utc};
use postmark_sim::{SimConfig, Simulator};
use serde_json::json;

use crate::common::sget;
use crate::common::STATS_ENDPOINTS as ENDPOINTS;

const OVERVIEW_KEYS: &[&str] = &[
    "Sent",
    "Bounced",
    "SMTPApiErrors",
    "BounceRate",
    "SpamComplaints",
    "SpamComplaintsRate",
    "Opens",
    "UniqueOpens",
    "TotalClicks",
    "UniqueLinksClicked",
    "TotalTrackedLinksSent",
    "Tracked",
    "WithLinkTracking",
    "WithOpenTracking",
    "WithClientRecorded",
    "WithPlatformRecorded",
    "WithReadTimeRecorded",
];

fn sim() -> Simulator {
    let now = Utc.with_ymd_and_hms(2024, 9, 18, 16, 30, 0).unwrap();
    Simulator::start(SimConfig {
        now: Some(now),
        servers: 2,
        days: 20,
        messages_per_day: 120,
        spike_messages: 0,
        ..SimConfig::default()
    })
    .unwrap()
}

#[test]
fn shapes_omit_zeros_and_empty_days() {
    let sim = sim();
    for ep in ENDPOINTS {
        assert_eq!(
            sget(
                &sim,
                &format!("/stats/outbound/{ep}?fromdate=2020-01-01&todate=2020-01-31")
            ),
            json!({"Days": []}),
            "{ep}"
        );
        let v = sget(&sim, &format!("/stats/outbound/{ep}"));
        let days = v["Days"].as_array().unwrap();
        assert!(!days.is_empty(), "{ep}");
        let dates: Vec<&str> = days.iter().map(|d| d["Date"].as_str().unwrap()).collect();
        assert!(
            dates.windows(2).all(|w| w[0] < w[1]),
            "{ep}: ascending distinct days"
        );
        for d in days {
            let o = d.as_object().unwrap();
            assert!(o.len() >= 2, "{ep}: no empty rows");
            assert!(
                o.iter()
                    .filter(|(k, _)| *k != "Date")
                    .all(|(_, n)| n.as_u64().is_some_and(|n| n > 0)),
                "{ep}: {d}"
            );
        }
        let totals = v.as_object().unwrap();
        assert!(
            totals
                .iter()
                .filter(|(k, _)| *k != "Days")
                .all(|(_, n)| n.as_u64().is_some_and(|n| n > 0)),
            "{ep}"
        );
        for (k, n) in totals.iter().filter(|(k, _)| *k != "Days") {
            let sum: u64 = days.iter().map(|d| d[k].as_u64().unwrap_or(0)).sum();
            assert_eq!(n.as_u64(), Some(sum), "{ep} total {k}");
        }
    }
    // Some row lacks a key another row has (zero keys are omitted, not written as 0).
    let v = sget(&sim, "/stats/outbound/bounces");
    let keys: Vec<usize> = v["Days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_object().unwrap().len())
        .collect();
    assert!(keys.iter().min() < keys.iter().max());
    let empty = sget(
        &sim,
        "/stats/outbound?fromdate=2020-01-01&todate=2020-01-31",
    );
    let o = empty.as_object().unwrap();
    assert_eq!(o.len(), OVERVIEW_KEYS.len());
    for k in OVERVIEW_KEYS {
        assert_eq!(o[*k].as_f64(), Some(0.0), "{k}");
    }
    assert!(empty["BounceRate"].is_f64());
    let full = sget(&sim, "/stats/outbound");
    assert!(full["Sent"].as_u64().unwrap() > 1000);
    assert!(full["BounceRate"].as_f64().unwrap() > 0.0);
    assert_eq!(
        sget(&sim, "/stats/outbound/sends?fromdate=2024-09-10T00:00:00Z"),
        json!({"Days": []})
    );
}

#[test]
fn omitted_stream_aggregates_all_streams() {
    let sim = sim();
    let days = "fromdate=2024-09-01&todate=2024-09-15";
    for ep in ["sends", "opens", "clicks"] {
        let all = sget(&sim, &format!("/stats/outbound/{ep}?{days}"));
        let key = if ep == "sends" { "Sent" } else { "Unique" };
        let sum: u64 = ["outbound", "broadcast", "password-resets", "legacy-alerts"]
            .iter()
            .map(|s| {
                sget(
                    &sim,
                    &format!("/stats/outbound/{ep}?messagestream={s}&{days}"),
                )[key]
                    .as_u64()
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(all[key].as_u64().unwrap(), sum, "{ep}");
    }
    assert_eq!(
        sget(
            &sim,
            &format!("/stats/outbound/sends?messagestream=inbound&{days}")
        ),
        json!({"Days": []})
    );
    let tagged = sget(&sim, &format!("/stats/outbound/sends?tag=receipt&{days}"))["Sent"]
        .as_u64()
        .unwrap();
    let total = sget(&sim, &format!("/stats/outbound/sends?{days}"))["Sent"]
        .as_u64()
        .unwrap();
    assert!(tagged > 0 && tagged < total);
}

#[test]
fn stats_agree_with_searches_for_a_day() {
    let sim = sim();
    let day = "2024-09-16";
    for stream in ["outbound", "broadcast"] {
        let q = format!("messagestream={stream}&fromdate={day}&todate={day}");
        let sends = sget(&sim, &format!("/stats/outbound/sends?{q}"));
        let search = sget(&sim, &format!("/messages/outbound?count=1&offset=0&{q}"));
        assert_eq!(sends["Sent"], search["TotalCount"], "{stream} sends");
        let opens = sget(&sim, &format!("/stats/outbound/opens?{q}"));
        assert_eq!(
            opens["Opens"],
            sget(
                &sim,
                &format!("/messages/outbound/opens?count=1&offset=0&{q}")
            )["TotalCount"],
            "{stream} opens"
        );
        let clicks = sget(&sim, &format!("/stats/outbound/clicks?{q}"));
        assert_eq!(
            clicks["Clicks"],
            sget(
                &sim,
                &format!("/messages/outbound/clicks?count=1&offset=0&{q}")
            )["TotalCount"],
            "{stream} clicks"
        );
        let bounce_stats = sget(&sim, &format!("/stats/outbound/bounces?{q}"));
        let spam = sget(&sim, &format!("/stats/outbound/spam?{q}"))["SpamComplaint"]
            .as_u64()
            .unwrap_or(0);
        let bounced: u64 = bounce_stats
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "Days")
            .map(|(_, n)| n.as_u64().unwrap())
            .sum();
        let search = sget(&sim, &format!("/bounces?count=1&offset=0&{q}"))["TotalCount"]
            .as_u64()
            .unwrap();
        assert_eq!(bounced + spam, search, "{stream} bounces");
        let overview = sget(&sim, &format!("/stats/outbound?{q}"));
        assert_eq!(overview["Sent"], sends["Sent"]);
        assert_eq!(overview["Opens"], opens["Opens"]);
        assert_eq!(overview["SpamComplaints"].as_u64().unwrap(), spam);
    }
}
