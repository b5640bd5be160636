//! `postmark-sim`: serve a generated Postmark account on loopback (or measure pages/s and
//! details answers/s).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use postmark_sim::{Faults, SimConfig, Simulator};

/// Serve a deterministic Postmark API simulator.
#[derive(Parser, Debug)]
#[command(name = "postmark-sim", version)]
struct Opts {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 8025)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Data seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of servers.
    #[arg(long, default_value_t = 3)]
    servers: u32,
    /// Days of generated traffic before now.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Hours of traffic after now, shown as the clock gets there (needs a moving clock:
    /// --clock-runs). Refused with --live-arrivals.
    #[arg(long, default_value_t = 0)]
    ahead_hours: u32,
    /// Base outbound messages per server per day.
    #[arg(long, default_value_t = 200)]
    messages_per_day: u32,
    /// Multiplier of every per-day volume.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Extra messages on one day of the first server's outbound stream (0 = none).
    #[arg(long, default_value_t = 12_000)]
    spike_messages: u32,
    /// Retention in days (older records disappear; stats stay).
    #[arg(long, default_value_t = 45)]
    retention_days: u32,
    /// Latency added before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction of requests answered 500/503/429.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Answer the first N requests with 429.
    #[arg(long, default_value_t = 0)]
    burst_429: u32,
    /// Fraction of responses cut off by closing the connection.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Fraction of responses with a truncated JSON body.
    #[arg(long, default_value_t = 0.0)]
    truncate_rate: f64,
    /// Fraction of responses with an HTML body.
    #[arg(long, default_value_t = 0.0)]
    non_json_rate: f64,
    /// Fraction of responses that are HTTP 200 with a non-zero ErrorCode.
    #[arg(long, default_value_t = 0.0)]
    error_code_200_rate: f64,
    /// Fraction of answers of the paged full-table lists (servers, domains, senders, templates,
    /// inbound rules) cut to the first half of their items, TotalCount unchanged.
    #[arg(long, default_value_t = 0.0)]
    short_page_rate: f64,
    /// Fraction of answers of the paged full-table lists with no items, TotalCount unchanged.
    #[arg(long, default_value_t = 0.0)]
    empty_page_rate: f64,
    /// New outbound messages appended before each search request.
    #[arg(long, default_value_t = 0)]
    live_arrivals: u32,
    /// Let the clock run with real time (default: it stands at start and moves only with live
    /// arrivals).
    #[arg(long)]
    clock_runs: bool,
    /// Records never change after the fact (no arrival delays, Queued → Sent, bounce flag
    /// changes or late statistics).
    #[arg(long)]
    no_late_changes: bool,
    /// Fraction of records (0 to 1) that arrive 6–40 minutes after their own time instead of
    /// within 4 minutes.
    #[arg(long, default_value_t = 0.0)]
    late_arrival_rate: f64,
    /// String embedded in every token and webhook password.
    #[arg(long)]
    secret_marker: Option<String>,
    /// Multiplier of every message body's size (large bodies excepted).
    #[arg(long, default_value_t = 1.0)]
    body_size_scale: f64,
    /// Fraction of messages given a body between 960 KiB and 1 MiB.
    #[arg(long, default_value_t = 0.0)]
    large_body_rate: f64,
    /// Instead of serving, fetch N pages of 500 outbound messages and print pages/s.
    #[arg(long)]
    bench_pages: Option<u32>,
    /// Instead of serving, fetch the details of the N newest outbound messages and print
    /// answers/s and bytes.
    #[arg(long)]
    bench_details: Option<u32>,
}

impl Opts {
    fn config(&self) -> SimConfig {
        SimConfig {
            seed: self.seed,
            servers: self.servers,
            days: self.days,
            ahead_hours: self.ahead_hours,
            messages_per_day: self.messages_per_day,
            scale: self.scale,
            spike_messages: self.spike_messages,
            retention_days: self.retention_days,
            now: None,
            clock_runs: self.clock_runs,
            late_changes: !self.no_late_changes,
            late_arrival_rate: self.late_arrival_rate,
            secret_marker: self.secret_marker.clone(),
            body_size_scale: self.body_size_scale,
            large_body_rate: self.large_body_rate,
            faults: Faults {
                latency: Duration::from_millis(self.latency_ms),
                error_rate: self.error_rate,
                burst_429: self.burst_429,
                drop_rate: self.drop_rate,
                truncate_rate: self.truncate_rate,
                non_json_rate: self.non_json_rate,
                error_code_200_rate: self.error_code_200_rate,
                short_page_rate: self.short_page_rate,
                empty_page_rate: self.empty_page_rate,
                live_arrivals_per_request: self.live_arrivals,
                seed: 0,
            },
        }
    }
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postmark-sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(opts: &Opts) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let addr = format!(
        "{}:{}",
        opts.host,
        if opts.bench_pages.is_some() || opts.bench_details.is_some() {
            0
        } else {
            opts.port
        }
    );
    let sim = Simulator::start_on(opts.config(), &addr)?;
    let generation = started.elapsed();
    let counts = sim.generated_counts();
    let mut out = std::io::stdout().lock();
    writeln!(out, "base_url {}", sim.base_url())?;
    writeln!(out, "account_token {}", sim.account_token())?;
    for s in sim.servers() {
        writeln!(out, "server {} {:?} {}", s.id, s.name, s.token)?;
    }
    writeln!(
        out,
        "generated messages={} opens={} clicks={} bounces={} inbound={} in {:.3}s",
        counts.messages,
        counts.opens,
        counts.clicks,
        counts.bounces,
        counts.inbound,
        generation.as_secs_f64()
    )?;
    out.flush()?;
    drop(out);
    if let Some(pages) = opts.bench_pages {
        bench(&sim, pages)?;
    }
    if let Some(n) = opts.bench_details {
        bench_details(&sim, n)?;
    }
    if opts.bench_pages.is_some() || opts.bench_details.is_some() {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// GETs `path` with a server token; the body as text.
fn fetch(
    agent: &ureq::Agent,
    url: &str,
    token: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut resp = agent
        .get(url)
        .header("X-Postmark-Server-Token", token)
        .header("Accept", "application/json")
        .call()?;
    Ok(resp
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()?)
}

/// Fetches the details of the `n` newest outbound messages of the busiest server (IDs from
/// the search, 500 a page) and prints answers/s and their sizes.
fn bench_details(sim: &Simulator, n: u32) -> Result<(), Box<dyn std::error::Error>> {
    let servers = sim.servers();
    let server = servers.get(1).or(servers.first()).ok_or("no server")?;
    let agent = agent();
    let mut ids: Vec<String> = Vec::new();
    while ids.len() < n as usize && ids.len() < 10_000 {
        let url = format!(
            "{}/messages/outbound?count=500&offset={}",
            sim.base_url(),
            ids.len()
        );
        let v: serde_json::Value = serde_json::from_str(&fetch(&agent, &url, &server.token)?)?;
        let page = v["Messages"].as_array().ok_or("no Messages")?;
        if page.is_empty() {
            break;
        }
        ids.extend(
            page.iter()
                .filter_map(|m| m["MessageID"].as_str().map(str::to_string)),
        );
    }
    ids.truncate(n as usize);
    let started = Instant::now();
    let (mut bytes, mut largest) = (0usize, 0usize);
    for id in &ids {
        let url = format!("{}/messages/outbound/{id}/details", sim.base_url());
        let body = fetch(&agent, &url, &server.token)?;
        serde_json::from_str::<serde_json::Value>(&body)?;
        bytes += body.len();
        largest = largest.max(body.len());
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bench details={} bytes={bytes} avg_bytes={} largest={largest} seconds={secs:.3} per_sec={:.1}",
        ids.len(),
        bytes / ids.len().max(1),
        ids.len() as f64 / secs
    );
    Ok(())
}

/// Fetches `pages` pages of 500 outbound messages (offsets 0..9500, newest first) of the busiest
/// server over the whole range, then one Eastern day at a time, and prints pages/s.
fn bench(sim: &Simulator, pages: u32) -> Result<(), Box<dyn std::error::Error>> {
    let servers = sim.servers();
    let server = servers.get(1).or(servers.first()).ok_or("no server")?;
    let agent = agent();
    let now = sim
        .now()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    let started = Instant::now();
    let mut bytes = 0usize;
    let mut records = 0usize;
    for p in 0..pages {
        let offset = (p % 20) * 500;
        let window = p / 20;
        let mut url = format!(
            "{}/messages/outbound?count=500&offset={offset}",
            sim.base_url()
        );
        if window > 0 {
            let day = now - chrono::Days::new(u64::from(window % 40));
            url.push_str(&format!("&fromdate={day}&todate={day}"));
        }
        let body = fetch(&agent, &url, &server.token)?;
        bytes += body.len();
        let v: serde_json::Value = serde_json::from_str(&body)?;
        records += v["Messages"].as_array().map_or(0, Vec::len);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bench pages={pages} records={records} bytes={bytes} seconds={secs:.3} pages_per_sec={:.1}",
        f64::from(pages) / secs
    );
    Ok(())
}
