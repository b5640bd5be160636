//! The benchmark's floor: fetches the exact requests a tap run made (read from its debug log)
//! with the same concurrency, and throws the bodies away. What the tap spends beyond this is its
//! own cost.
//!
//! `cargo run --release -p floor -- BASE_URL SERVER_TOKEN CONCURRENCY REQUESTS_FILE`
//! where REQUESTS_FILE holds the tap's `DEBUG GET /path?query` lines.

use std::io::{BufRead, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, token, concurrency, file] = args.as_slice() else {
        return Err("usage: floor BASE_URL SERVER_TOKEN CONCURRENCY REQUESTS_FILE".into());
    };
    let concurrency: usize = concurrency.parse()?;
    let requests: Vec<String> = std::io::BufReader::new(std::fs::File::open(file)?)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix("DEBUG GET ").map(str::to_string))
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let next = AtomicUsize::new(0);
    let bytes = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..concurrency.max(1) {
            scope.spawn(|| {
                let mut buf = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(i) else {
                        break;
                    };
                    let url = format!("{base}{request}");
                    let Ok(mut response) = agent
                        .get(&url)
                        .header("Accept", "application/json")
                        .header("X-Postmark-Server-Token", token.as_str())
                        .call()
                    else {
                        continue;
                    };
                    buf.clear();
                    let _ = response.body_mut().as_reader().read_to_end(&mut buf);
                    bytes.fetch_add(buf.len(), Ordering::Relaxed);
                }
            });
        }
    });
    println!(
        "floor requests={} bytes={} seconds={:.3}",
        requests.len(),
        bytes.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
