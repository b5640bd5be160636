//! Bad input: each case gives one clear CRITICAL line on stderr, a documented exit code, no
//! panic, and nothing on stdout. None of these reach the network.

use crate::common::*;
use serde_json::json;

const INPUT: i32 = 2;

fn assert_input_error(run: &Run, needle: &str) {
    assert_eq!(run.code, INPUT, "exit code; stderr:\n{}", run.stderr);
    assert_eq!(run.stdout, "", "stdout must stay clean");
    let critical = the_critical_line(&run.stderr);
    assert!(critical.contains(needle), "{critical:?} lacks {needle:?}");
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"));
}

fn with_config(config: serde_json::Value, extra: &[&str]) -> Run {
    let scratch = Scratch::new();
    scratch.tap(&config).with(extra).run_raw()
}

fn token() -> serde_json::Value {
    json!({"postmark_server_token": "secret-canary-token", "base_url": "http://127.0.0.1:9"})
}

#[test]
fn missing_config_file() {
    let run = Tap::bare()
        .with(&["--config", "/nonexistent/config.json"])
        .run_raw();
    assert_input_error(&run, "cannot read config file /nonexistent/config.json");
}

#[test]
fn malformed_config_json() {
    let scratch = Scratch::new();
    let path = scratch.write_text("config.json", "{\"postmark_server_token\": ");
    let run = Tap::bare()
        .with(&["--config", path.to_str().unwrap()])
        .run_raw();
    assert_input_error(&run, "is not valid JSON");
}

#[test]
fn config_not_an_object() {
    let run = with_config(json!(["a"]), &[]);
    assert_input_error(&run, "config must be a JSON object");
}

#[test]
fn wrong_value_types_are_all_reported_without_values() {
    let run = with_config(
        json!({"postmark_server_token": 12345, "lookback_hours": "a day", "max_attempts": -1}),
        &[],
    );
    assert_input_error(&run, "config has 3 problems");
    assert!(run.stderr.contains("postmark_server_token") && run.stderr.contains("lookback_hours"));
    assert!(
        !run.stderr.contains("12345"),
        "a value that may be a token was echoed"
    );
}

#[test]
fn unknown_keys_are_a_warning() {
    let mut config = token();
    config["postmark_token_typo"] = json!("x");
    let run = with_config(config, &["--discover"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("WARNING config key \"postmark_token_typo\""),
        "{}",
        run.stderr
    );
}

#[test]
fn invalid_and_future_dates() {
    let mut config = token();
    config["start_date"] = json!("01/02/2024");
    assert_input_error(&with_config(config.clone(), &[]), "start_date");
    config["start_date"] = json!("2999-01-01");
    assert_input_error(&with_config(config, &[]), "start_date: is in the future");
}

#[test]
fn end_date_before_start_date() {
    let mut config = token();
    config["start_date"] = json!("2024-02-01");
    config["end_date"] = json!("2024-01-01");
    assert_input_error(
        &with_config(config, &[]),
        "end_date: must be after start_date",
    );
}

#[test]
fn no_token_at_all() {
    let run = with_config(json!({"base_url": "http://127.0.0.1:9"}), &[]);
    assert_input_error(
        &run,
        "needs postmark_server_token or postmark_account_token",
    );
}

#[test]
fn plain_http_to_a_remote_host() {
    let mut config = token();
    config["base_url"] = json!("http://api.postmarkapp.com");
    let run = with_config(config, &[]);
    assert_input_error(&run, "plain http is refused");
    assert!(!run.stderr.contains("secret-canary-token"));
}

#[test]
fn malformed_state() {
    let scratch = Scratch::new();
    let tap = scratch.tap(&token());
    for (text, needle) in [
        ("{", "state file"),
        ("[1, 2]", "state must be a JSON object"),
        ("{\"bookmarks\": 5}", "\"bookmarks\" must be an object"),
        // What the per-record reads keep: a shape of its own, instants it can read.
        ("{\"reads\": []}", "state: reads is not an object"),
        (
            "{\"reads\": {\"outbound_details\": {\"x\": {}}}}",
            "reads.outbound_details.x is not a server ID",
        ),
        (
            "{\"reads\": {\"outbound_details\": {\"1\": {\"outbound\": {\"pending\": [[\"id\"]]}}}}}",
            "reads.outbound_details.1.outbound is not in this tap's format",
        ),
        (
            "{\"reads\": {\"outbound_details\": {\"1\": {\"outbound\": {\"activity\": {\"opens\": \"soon\"}}}}}}",
            "holds \"soon\", not what this tap writes",
        ),
        // The tags `stats_tags: ["*"]` found: a day per tag, per server and message stream.
        (
            "{\"stats_tags\": {\"1\": {\"outbound\": {\"welcome\": \"last week\"}}}}",
            "state: stats_tags is not in this tap's format",
        ),
    ] {
        assert_input_error(&tap.state_text(text).run_raw(), needle);
    }
}

#[test]
fn state_from_an_older_format() {
    let scratch = Scratch::new();
    let tap = scratch.tap(&token());
    // The Yoast tap's shape, and a future version of ours.
    for state in [
        json!({"bookmarks": {"messages_outbound": {"start_date": "2024-01-01"}}}),
        json!({"version": 9, "bookmarks": {}}),
    ] {
        assert_input_error(&tap.state(&state).run_raw(), "state");
    }
}

#[test]
fn unreadable_files() {
    let scratch = Scratch::new();
    let tap = scratch.tap(&token());
    let dir = scratch.dir.path().to_str().unwrap();
    let run = tap.with(&["--state", dir]).run_raw();
    assert_input_error(&run, "cannot read state file");
    let run = tap.with(&["--catalog", "/nonexistent.json"]).run_raw();
    assert_input_error(&run, "cannot read catalog file");
}

#[test]
fn catalog_problems() {
    let scratch = Scratch::new();
    let tap = scratch.tap(&token());
    for (catalog, needle) in [
        (
            json!({"streams": [{"tap_stream_id": "no_such_stream"}]}),
            "\"no_such_stream\"",
        ),
        (
            json!({"streams": [{"tap_stream_id": "templates", "metadata": [
                {"breadcrumb": ["properties", "NoSuchField"], "metadata": {"selected": true}}]}]}),
            "\"NoSuchField\"",
        ),
        (
            json!({"streams": [{"tap_stream_id": "templates", "metadata": [
                {"breadcrumb": [], "metadata": {"selected": true, "replication-method": "LOG_BASED"}}]}]}),
            "replication method LOG_BASED",
        ),
        (json!({"nothing": 1}), "\"streams\" array"),
    ] {
        assert_input_error(&tap.catalog(&catalog).run_raw(), needle);
    }
}

#[test]
fn header_values_with_line_breaks_are_bad_config_not_a_panic() {
    for (key, value) in [
        ("user_agent", "tap\r\nX-Injected: 1"),
        (
            "postmark_server_token",
            "secret-canary-token\r\nX-Injected: 1",
        ),
        ("postmark_account_token", "secret-canary-token\n"),
    ] {
        let mut config = token();
        config[key] = json!(value);
        let run = with_config(config, &[]);
        assert_input_error(&run, key);
        assert!(run.stderr.contains("printable ASCII"), "{}", run.stderr);
        assert!(
            !run.stderr.contains("secret-canary-token"),
            "{}",
            run.stderr
        );
    }
}

/// Runs the tap with `flag` pointing at `path` (beside a valid config), within a bound.
fn with_input_file(flag: &str, path: &str) -> Run {
    let bound = std::time::Duration::from_secs(30);
    if flag == "--config" {
        return Tap::bare().with(&["--config", path]).run_within(bound);
    }
    let scratch = Scratch::new();
    scratch.tap(&token()).with(&[flag, path]).run_within(bound)
}

#[test]
fn endless_input_files_are_refused_at_the_size_bound() {
    for flag in ["--config", "--state", "--catalog"] {
        for device in ["/dev/zero", "/dev/urandom"] {
            let started = std::time::Instant::now();
            let run = with_input_file(flag, device);
            assert_input_error(&run, "larger than 16 MiB");
            assert!(started.elapsed() < std::time::Duration::from_secs(10));
        }
    }
}

#[test]
fn a_fifo_nobody_writes_to_is_refused_instead_of_waited_for() {
    let scratch = Scratch::new();
    let fifo = scratch.fifo("state.fifo");
    let run = with_input_file("--state", fifo.to_str().unwrap());
    assert_input_error(&run, "nothing readable arrived within 10 s");
}

#[test]
fn foreign_top_level_state_keys_are_dropped_not_repeated() {
    let sim = sim(account(1, 1, 20));
    let scratch = Scratch::new();
    let junk = "x".repeat(1 << 20);
    let run = scratch
        .tap(&config_for(
            &sim,
            false,
            sim.now() - chrono::Duration::days(2),
        ))
        .state(&json!({"bookmarks": {}, "currently_syncing": "templates", "junk": junk}))
        .selecting(&["messages_outbound"])
        .sync();
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("dropped top-level key"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(warnings[0].starts_with("WARNING ") && warnings[0].contains("\"junk\""));
    assert!(!run.stdout.contains("xxxx") && !run.stdout.contains("currently_syncing"));
    for state in run.states() {
        let keys: Vec<&String> = state.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["bookmarks", "version"]);
    }
}

#[test]
fn bad_log_level_environment() {
    let run = Tap::bare()
        .with(&["--discover"])
        .env("TAP_POSTMARK_LOG_LEVEL", "loud")
        .run_raw();
    assert_input_error(&run, "TAP_POSTMARK_LOG_LEVEL");
}

mod rejected_tokens {
    use super::*;
    use chrono::Duration;
    use postmark_sim::Simulator;

    const AUTH: i32 = 3;

    fn two_servers() -> Simulator {
        sim(account(2, 1, 20))
    }

    fn assert_auth_error(run: &Run, needles: &[&str], secrets: &[String]) {
        assert_eq!(run.code, AUTH, "{}", run.stderr);
        let critical = the_critical_line(&run.stderr);
        for n in needles {
            assert!(critical.contains(n), "{critical:?} lacks {n:?}");
        }
        for s in secrets {
            assert!(!run.stderr.contains(s.as_str()) && !run.stdout.contains(s.as_str()));
        }
    }

    #[test]
    fn an_account_token_given_as_the_server_token() {
        let sim = two_servers();
        let mut config = config_for(&sim, false, sim.now() - Duration::days(1));
        config["postmark_server_token"] = json!(sim.account_token());
        let run = with_config(config, &[]);
        assert_auth_error(
            &run,
            &[
                "rejected the server token",
                "HTTP 401",
                "postmark_account_token",
            ],
            &[sim.account_token()],
        );
    }

    #[test]
    fn a_server_token_given_as_the_account_token() {
        let sim = two_servers();
        let mut config = config_for(&sim, true, sim.now() - Duration::days(1));
        config["postmark_account_token"] = json!(sim.servers()[0].token);
        let run = with_config(config, &[]);
        assert_auth_error(
            &run,
            &[
                "rejected the account token",
                "HTTP 401",
                "postmark_server_token",
            ],
            &[sim.servers()[0].token.clone()],
        );
    }

    #[test]
    fn a_forbidden_token_403() {
        let sim = two_servers();
        sim.set_server_token_forbidden(sim.servers()[0].id, true);
        let config = config_for(&sim, false, sim.now() - Duration::days(1));
        let run = with_config(config, &[]);
        assert_auth_error(
            &run,
            &["rejected the server token", "HTTP 403"],
            &[sim.servers()[0].token.clone()],
        );
    }

    #[test]
    fn test_mode_reports_a_rejected_token_and_passes_a_good_one() {
        let sim = two_servers();
        let good = config_for(&sim, true, sim.now() - Duration::days(1));
        let run = with_config(good.clone(), &["--test"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("connection test passed: 2 server(s) readable"),
            "{}",
            run.stderr
        );
        assert_eq!(run.stdout, "");
        let mut bad = good;
        bad["postmark_account_token"] = json!("not-a-token");
        let run = with_config(bad, &["--test"]);
        assert_auth_error(&run, &["rejected the account token"], &[]);
    }
}
