//! An outbound message's content, derived on demand: its HTML and text bodies (layout by
//! stream, greeting by recipient, links tracked per message, size from the body-size knobs),
//! its raw source, and the details record that joins them to the search record and the
//! message's events.

use super::body::{self, Layout, Letter};
use super::source;
use crate::generate::facts::MsgFacts;
use crate::generate::ids;
use crate::generate::model::BodyKnobs;
use crate::generate::stream_type::StreamType;
use crate::render::events;
use crate::render::messages::{self, Details, Outbound};
use crate::render::view::StreamView;

/// The HTML and text bodies of a message (`None` where it has none).
pub fn bodies(
    v: &StreamView,
    f: &MsgFacts,
    m: &Outbound,
    knobs: BodyKnobs,
) -> (Option<String>, Option<String>) {
    let (html, text) = source::bodies_present(v, f);
    let parts = [1, v.ctx.server as u64, v.ctx.stream as u64, f.index as u64];
    let layout = match (v.ctx.kind, v.stream_id) {
        (StreamType::Broadcasts, _) => Layout::Newsletter,
        (_, "password-resets") => Layout::Notice,
        _ => Layout::Receipt,
    };
    let name =
        m.to.first()
            .and_then(|a| a.name.as_deref())
            .and_then(|n| n.split(' ').next())
            .filter(|n| !n.is_empty())
            .unwrap_or("there");
    let token = ids::hex(v.ctx.seed, &[0xB3, parts[1], parts[2], parts[3]], 12);
    let letter = Letter {
        layout,
        subject: &m.subject,
        name,
        campaign: m.tag.unwrap_or(v.stream_id),
        token: &token,
        html,
        text,
        size: body::size(knobs, v.ctx.seed, &parts),
    };
    body::letter(v.ctx.seed, &parts, &letter)
}

/// The raw source of a message (the dump endpoint's `Body`).
pub fn raw_source(v: &StreamView, f: &MsgFacts, knobs: BodyKnobs) -> String {
    let m = messages::render(v, f);
    let (html, text) = bodies(v, f, &m, knobs);
    source::source(v, f, &m, html.as_deref(), text.as_deref())
}

/// The details record (§3.2); `bounce_id` is the message's bounce, if any; `live` for a live
/// arrival.
pub fn details(
    v: &StreamView,
    f: &MsgFacts,
    bounce_id: Option<u64>,
    live: bool,
    knobs: BodyKnobs,
) -> Details {
    let message = messages::render(v, f);
    let (html, text) = bodies(v, f, &message, knobs);
    let body = source::source(v, f, &message, html.as_deref(), text.as_deref());
    Details {
        text_body: text,
        html_body: html,
        body,
        message_events: events::message_events(&v.ctx, f, bounce_id, live, v.now),
        message,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::endpoints::env::Env;
    use crate::endpoints::query::Query;
    use crate::generate::eastern::to_ticks;
    use crate::generate::facts;
    use crate::generate::traffic;
    use crate::knobs::SimConfig;

    /// Times the content of one message with a body near 1 MiB and of an average one
    /// (`cargo test --release -p postmark-sim --lib render_timing -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn render_timing() {
        let now = Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap();
        for large in [1.0, 0.0] {
            let cfg = SimConfig {
                now: Some(now),
                large_body_rate: large,
                ..SimConfig::small()
            };
            let m = traffic::build(&cfg, to_ticks(now));
            let q = Query::default();
            let env = Env {
                m: &m,
                s: 0,
                q: &q,
                now: m.anchor,
                id: "",
            };
            let v = env.view(0);
            let n = m.servers[0].streams[0].messages.len();
            let (mut t_body, mut t_all, mut bytes, mut html) = (0.0, 0.0, 0, 0);
            let count = if large > 0.0 { 20 } else { 400 };
            for i in (0..n).step_by(n / count) {
                let f = facts::message(&v.ctx, i, m.servers[0].streams[0].messages[i], false);
                let started = Instant::now();
                let rec = messages::render(&v, &f);
                let (h, _) = bodies(&v, &f, &rec, m.body);
                t_body += started.elapsed().as_secs_f64();
                html += h.map_or(0, |h| h.len());
                let started = Instant::now();
                let json = serde_json::to_string(&details(&v, &f, None, false, m.body));
                t_all += started.elapsed().as_secs_f64();
                bytes += json.map_or(0, |j| j.len());
            }
            let k = (n / (n / count)) as f64;
            println!(
                "large_body_rate {large}: {k} messages, HTML {:.0} KiB and answer {:.0} KiB on average; bodies {:.2} ms, whole answer (bodies, source, JSON) {:.2} ms each",
                html as f64 / k / 1024.0,
                bytes as f64 / k / 1024.0,
                t_body / k * 1000.0,
                t_all / k * 1000.0
            );
        }
    }
}
