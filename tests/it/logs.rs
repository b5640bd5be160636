//! The stderr log in Meltano's structured form: with a Singer SDK logging config in
//! `SINGER_SDK_LOG_CONFIG` whose formatter is the SDK's `StructuredFormatter` (the file Meltano
//! writes for a plugin with `structured-logging`), every line is one JSON object with every key
//! Meltano's parser requires, its stream, metric and error; the file's level is obeyed; any other
//! formatter, or a file that cannot be read, keeps the text form.

use crate::common::*;
use chrono::Duration;
use serde_json::{json, Value};
use tap_postmark::streams::find;

/// The keys Meltano's `singer-sdk` log parser requires of every line, with `stream_name`.
const REQUIRED: [&str; 8] = [
    "level",
    "pid",
    "logger_name",
    "ts",
    "thread_name",
    "app_name",
    "stream_name",
    "message",
];

/// The logging config Meltano 4.4 writes: `formatter` for its one handler, `level` for root.
fn meltano_config(scratch: &Scratch, formatter: Value, level: &str) -> String {
    let doc = json!({
        "version": 1,
        "disable_existing_loggers": false,
        "formatters": {"singer_formatter": formatter},
        "handlers": {"console": {
            "class": "logging.StreamHandler",
            "formatter": "singer_formatter",
            "stream": "ext://sys.stderr"
        }},
        "root": {"handlers": ["console"], "level": level}
    });
    let path = scratch.write_text("logging.json", &doc.to_string());
    path.to_string_lossy().into_owned()
}

fn structured() -> Value {
    json!({"()": "singer_sdk.logging.StructuredFormatter"})
}

/// Every stderr line as a JSON object holding every required key.
fn lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            for key in REQUIRED {
                assert!(v.get(key).is_some(), "{key} missing: {l}");
            }
            let stream = &v["stream_name"];
            assert!(
                stream.is_null() || stream.as_str().and_then(find).is_some(),
                "stream_name not a stream: {l}"
            );
            v
        })
        .collect()
}

#[test]
fn a_structured_log_has_every_key_and_each_lines_stream_and_metric() {
    let sim = sim(account(2, 3, 40));
    let scratch = Scratch::new();
    let file = meltano_config(&scratch, structured(), "INFO");
    let run = scratch
        .tap(&config_for(&sim, true, sim.now() - Duration::days(4)))
        .env("SINGER_SDK_LOG_CONFIG", &file)
        .sync();
    let log = lines(&run.stderr);
    assert!(log.iter().all(|l| l["level"] == "info"), "{}", run.stderr);
    assert!(log.iter().all(|l| l["app_name"] == "tap-postmark"));
    let summaries: Vec<&Value> = log
        .iter()
        .filter(|l| l["message"].as_str().unwrap().starts_with("summary: "))
        .collect();
    assert!(summaries.len() > 20, "{} summaries", summaries.len());
    for s in &summaries {
        let stream = s["stream_name"].as_str().expect("a summary's stream");
        assert!(s["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("summary: {stream}: ")));
    }
    let counts: Vec<&Value> = log
        .iter()
        .filter(|l| l["metric_info"]["metric"] == "record_count")
        .collect();
    let counted: u64 = counts
        .iter()
        .map(|l| l["metric_info"]["value"].as_u64().unwrap())
        .sum();
    let records = run.messages.iter().filter(|m| m["type"] == "RECORD");
    assert_eq!(counted, records.count() as u64);
    for c in &counts {
        assert_eq!(
            c["stream_name"], c["metric_info"]["tags"]["endpoint"],
            "{c}"
        );
        assert_eq!(c["logger_name"], "tap_postmark.metrics");
        assert_eq!(c["message"], format!("METRIC: {}", c["metric_info"]));
    }
    let job = log
        .iter()
        .find(|l| l["metric_info"]["metric"] == "job_duration");
    assert!(job.is_some_and(|j| j["stream_name"].is_null()));
}

#[test]
fn an_error_carries_its_exception() {
    let sim = sim(account(1, 2, 20));
    let scratch = Scratch::new();
    let file = meltano_config(&scratch, structured(), "INFO");
    let mut config = config_for(&sim, false, sim.now() - Duration::days(1));
    config["postmark_server_token"] = json!("refused-on-purpose");
    let run = scratch
        .tap(&config)
        .env("SINGER_SDK_LOG_CONFIG", &file)
        .run_raw();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let log = lines(&run.stderr);
    let last = log.last().expect("a line");
    assert_eq!(last["level"], "critical");
    assert_eq!(last["exception"]["type"], "AuthError");
    assert_eq!(last["exception"]["module"], "tap_postmark");
    assert_eq!(last["exception"]["message"], last["message"]);
    // An argument error, before any config is read, is structured too.
    let bad = Tap::bare()
        .with(&["--no-such-flag"])
        .env("SINGER_SDK_LOG_CONFIG", &file)
        .run_raw();
    assert_eq!(bad.code, 2);
    assert_eq!(lines(&bad.stderr)[0]["level"], "critical");
}

#[test]
fn the_files_level_is_obeyed_unless_the_config_or_environment_sets_one() {
    let sim = sim(account(1, 2, 20));
    let scratch = Scratch::new();
    let mut config = config_for(&sim, false, sim.now() - Duration::days(1));
    let levels = |tap: &Tap| -> Vec<String> {
        let run = tap.sync();
        let mut seen: Vec<String> = lines(&run.stderr)
            .iter()
            .map(|l| l["level"].as_str().unwrap().to_string())
            .collect();
        seen.sort();
        seen.dedup();
        seen
    };
    let below = |seen: &[String], level: &str| {
        let order = ["debug", "info", "warning", "error", "critical"];
        let floor = order.iter().position(|l| *l == level).unwrap();
        seen.iter()
            .all(|l| order.iter().position(|o| o == l).unwrap() >= floor)
    };
    let debug = meltano_config(&scratch, structured(), "DEBUG");
    let tap = scratch.tap(&config).env("SINGER_SDK_LOG_CONFIG", &debug);
    let seen = levels(&tap);
    assert!(seen.contains(&"debug".to_string()), "{seen:?}");
    let seen = levels(&tap.env("TAP_POSTMARK_LOG_LEVEL", "warning"));
    assert!(below(&seen, "warning"), "{seen:?}");
    config["log_level"] = json!("info");
    let tap = scratch.tap(&config).env("SINGER_SDK_LOG_CONFIG", &debug);
    let seen = levels(&tap);
    assert!(
        below(&seen, "info") && seen.contains(&"info".into()),
        "{seen:?}"
    );
    config.as_object_mut().unwrap().remove("log_level");
    let warning = meltano_config(&scratch, structured(), "WARNING");
    let seen = levels(&scratch.tap(&config).env("SINGER_SDK_LOG_CONFIG", &warning));
    assert!(below(&seen, "warning"), "{seen:?}");
}

#[test]
fn another_formatter_or_an_unreadable_file_keeps_the_text_form() {
    let sim = sim(account(1, 2, 20));
    let scratch = Scratch::new();
    let config = config_for(&sim, false, sim.now() - Duration::days(1));
    let plain = meltano_config(&scratch, json!({"format": "%(message)s"}), "INFO");
    let text = |stderr: &str| {
        stderr.lines().all(|l| {
            ["DEBUG ", "INFO ", "WARNING ", "ERROR "]
                .iter()
                .any(|p| l.starts_with(p))
        })
    };
    let run = scratch
        .tap(&config)
        .env("SINGER_SDK_LOG_CONFIG", &plain)
        .sync();
    assert!(text(&run.stderr) && run.stderr.contains("INFO summary: "));
    let broken = scratch.write_text("broken.yaml", "version: 1\nroot: {level: INFO}\n");
    let run = scratch
        .tap(&config)
        .env("SINGER_SDK_LOG_CONFIG", &broken.to_string_lossy())
        .sync();
    assert!(text(&run.stderr), "{}", run.stderr);
    let warned: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("WARNING SINGER_SDK_LOG_CONFIG: "))
        .collect();
    assert_eq!(warned.len(), 1, "{}", run.stderr);
    assert!(warned[0].ends_with("logging as text"), "{}", warned[0]);
    // A FIFO nobody writes to is refused at once, not waited on.
    let fifo = scratch.fifo("logging.fifo");
    let run = scratch
        .tap(&config)
        .env("SINGER_SDK_LOG_CONFIG", &fifo.to_string_lossy())
        .run_within(std::time::Duration::from_secs(60));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run
        .stderr
        .contains("is not a regular file of at most 1 MiB; logging as text"));
}
