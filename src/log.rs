//! The tap's stderr log, one line per event: singer-python's text (`LEVEL message`), or, when
//! Meltano asks for structured logs, one JSON object in the Singer SDK's form.
//!
//! Meltano asks by handing a plugin that declares `structured-logging` a logging config file in
//! `SINGER_SDK_LOG_CONFIG` whose formatter is the SDK's `StructuredFormatter` (see
//! [`sdk_config`]). Its `singer-sdk` log parser then reads each line's `level`, `pid`,
//! `logger_name`, `ts`, `thread_name`, `app_name`, `stream_name` and `message`, and the optional
//! `exception` and `metric_info`. Metric lines (`INFO METRIC: {...}` in text) go through here too.

use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
    Critical = 4,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" | "notset" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" | "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            "critical" | "fatal" => Some(Level::Critical),
            _ => None,
        }
    }

    /// Python's numeric levels (`logging.DEBUG` is 10, …), as a logging config may give them.
    fn from_python(n: i64) -> Level {
        match n {
            ..=10 => Level::Debug,
            11..=20 => Level::Info,
            21..=30 => Level::Warning,
            31..=40 => Level::Error,
            _ => Level::Critical,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static STRUCTURED: AtomicBool = AtomicBool::new(false);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

/// Writes JSON lines (`true`) or text lines (`false`) from now on.
pub fn set_structured(on: bool) {
    STRUCTURED.store(on, Ordering::Relaxed);
}

/// What a Singer SDK logging config file asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Its root logger's formatter is the SDK's `StructuredFormatter`.
    pub structured: bool,
    /// Its root logger's level, when it gives one.
    pub level: Option<Level>,
}

/// The logging config `SINGER_SDK_LOG_CONFIG` names, read once; `None` when it names none. A
/// file that cannot be read or is not a JSON logging config is warned about once, and the log
/// stays text.
pub fn sdk_config() -> Option<&'static LogConfig> {
    static READ: std::sync::OnceLock<Option<LogConfig>> = std::sync::OnceLock::new();
    READ.get_or_init(|| {
        let path = std::env::var_os("SINGER_SDK_LOG_CONFIG").filter(|p| !p.is_empty())?;
        match read_config(std::path::Path::new(&path)) {
            Ok(doc) => Some(log_config(&doc)),
            Err(why) => {
                warn(&format!("SINGER_SDK_LOG_CONFIG: {why}; logging as text"));
                None
            }
        }
    })
    .as_ref()
}

/// A logging config file as JSON: a regular file of at most 1 MiB (a FIFO or a device would
/// block or never end).
fn read_config(path: &std::path::Path) -> Result<Value, String> {
    let shown = path.display();
    let cannot = |e: std::io::Error| format!("cannot read {shown}: {e}");
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return Err(format!("{shown} is not a regular file of at most 1 MiB"));
    }
    let text = std::fs::read_to_string(path).map_err(cannot)?;
    serde_json::from_str(&text).map_err(|e| format!("{shown} is not a JSON logging config ({e})"))
}

/// The formatter and level a `logging.config.dictConfig` document gives its root logger.
pub fn log_config(doc: &Value) -> LogConfig {
    let root = &doc["root"];
    let level = match &root["level"] {
        Value::String(s) => Level::parse(s),
        Value::Number(n) => n.as_i64().map(Level::from_python),
        _ => None,
    };
    let structured = root["handlers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|h| doc["handlers"][h]["formatter"].as_str())
        .any(|f| {
            doc["formatters"][f]["()"]
                .as_str()
                .is_some_and(|class| class.ends_with(".StructuredFormatter"))
        });
    LogConfig { structured, level }
}

/// What a line says beyond its level and message.
#[derive(Default, Clone, Copy)]
pub struct About<'a> {
    /// The stream it is about.
    pub stream: Option<&'a str>,
    /// A Singer metric point (`type`, `metric`, `value`, `tags`).
    pub metric: Option<&'a Value>,
    /// The kind of error it reports (a type name, such as `ApiError`).
    pub error: Option<&'a str>,
}

/// Writes one line at `level`, about nothing in particular.
pub fn log(level: Level, message: &str) {
    log_about(level, message, About::default());
}

/// Writes one line at `level` (newlines in the message are folded so each event is one line).
pub fn log_about(level: Level, message: &str, about: About) {
    if !enabled(level) {
        return;
    }
    let line = if STRUCTURED.load(Ordering::Relaxed) {
        structured_line(level, message, about, now_seconds())
    } else {
        format!("{} {}", level.label(), message.replace(['\n', '\r'], " "))
    };
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    // A closed stderr is not worth failing the sync for.
    let _ = writeln!(lock, "{line}");
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One JSON object in the Singer SDK's structured form, at Unix time `ts`.
fn structured_line(level: Level, message: &str, about: About, ts: f64) -> String {
    let thread = std::thread::current();
    let mut line = json!({
        "level": level.label().to_ascii_lowercase(),
        "pid": std::process::id(),
        "logger_name": if about.metric.is_some() { "tap_postmark.metrics" } else { "tap_postmark" },
        "ts": (ts * 1000.0).round() / 1000.0,
        "thread_name": thread.name().unwrap_or("worker"),
        "app_name": "tap-postmark",
        "stream_name": about.stream,
        "message": message,
    });
    if let Some(metric) = about.metric {
        line["metric_info"] = metric.clone();
    }
    if let Some(kind) = about.error {
        line["exception"] = json!({"type": kind, "module": "tap_postmark", "message": message});
    }
    line.to_string()
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}
pub fn info(message: &str) {
    log(Level::Info, message);
}
pub fn warn(message: &str) {
    log(Level::Warning, message);
}
pub fn error(message: &str) {
    log(Level::Error, message);
}
pub fn critical(message: &str) {
    log(Level::Critical, message);
}

/// A DEBUG line about `stream`.
pub fn debug_for(stream: &str, message: &str) {
    log_about(Level::Debug, message, About::stream(stream));
}
/// An INFO line about `stream`.
pub fn info_for(stream: &str, message: &str) {
    log_about(Level::Info, message, About::stream(stream));
}
/// A WARNING line about `stream`.
pub fn warn_for(stream: &str, message: &str) {
    log_about(Level::Warning, message, About::stream(stream));
}

impl<'a> About<'a> {
    pub fn stream(stream: &'a str) -> About<'a> {
        About {
            stream: Some(stream),
            ..About::default()
        }
    }

    /// A line reporting an error of kind `kind`.
    pub fn error(kind: &'a str) -> About<'a> {
        About {
            error: Some(kind),
            ..About::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys Meltano 4.4's `SingerSDKLogParser` requires of a line, with `stream_name`, in
    /// order: a line holds exactly these, and `exception` and `metric_info` when it has them.
    const REQUIRED: &str = "app_name level logger_name message pid stream_name thread_name ts";

    fn parsed(line: &str) -> Value {
        assert!(!line.contains('\n'), "{line}");
        let v: Value = serde_json::from_str(line).expect("one JSON object");
        let keys: Vec<&str> = (v.as_object().expect("an object").keys())
            .map(String::as_str)
            .filter(|k| !["exception", "metric_info"].contains(k))
            .collect();
        assert_eq!(keys.join(" "), REQUIRED, "{line}");
        v
    }

    #[test]
    fn a_structured_line_has_every_key_meltano_reads() {
        let v = parsed(&structured_line(
            Level::Warning,
            "two\nlines",
            About::default(),
            1.5,
        ));
        assert_eq!(v["level"], "warning");
        assert_eq!(v["stream_name"], Value::Null);
        assert_eq!(v["message"], "two\nlines");
        assert_eq!(v["ts"], 1.5);
        assert_eq!(v["app_name"], "tap-postmark");
        assert!(v.get("exception").is_none() && v.get("metric_info").is_none());
    }

    #[test]
    fn stream_metric_and_error_are_carried() {
        let point = json!({"type": "counter", "metric": "record_count", "value": 3, "tags": {}});
        let about = About {
            stream: Some("bounces"),
            metric: Some(&point),
            error: Some("ApiError"),
        };
        let v = parsed(&structured_line(Level::Error, "it failed", about, 0.0));
        assert_eq!(v["stream_name"], "bounces");
        assert_eq!(v["metric_info"], point);
        assert_eq!(v["logger_name"], "tap_postmark.metrics");
        assert_eq!(
            v["exception"],
            json!({"type": "ApiError", "module": "tap_postmark", "message": "it failed"})
        );
    }

    /// The file Meltano 4.4 writes for a plugin with `structured-logging` (and without).
    fn meltano_file(formatter: Value, level: Value) -> Value {
        json!({
            "version": 1,
            "disable_existing_loggers": false,
            "formatters": {"singer_formatter": formatter},
            "handlers": {"console": {
                "class": "logging.StreamHandler",
                "formatter": "singer_formatter",
                "stream": "ext://sys.stderr"
            }},
            "root": {"handlers": ["console"], "level": level}
        })
    }

    #[test]
    fn meltanos_logging_config_is_read() {
        let structured = json!({"()": "singer_sdk.logging.StructuredFormatter"});
        let plain = json!({"format": "%(message)s"});
        assert_eq!(
            log_config(&meltano_file(structured.clone(), json!("DEBUG"))),
            LogConfig {
                structured: true,
                level: Some(Level::Debug)
            }
        );
        assert_eq!(
            log_config(&meltano_file(plain, json!("WARNING"))),
            LogConfig {
                structured: false,
                level: Some(Level::Warning)
            }
        );
        assert_eq!(
            log_config(&meltano_file(structured, json!(40))).level,
            Some(Level::Error)
        );
        assert_eq!(
            log_config(&json!({"version": 1})),
            LogConfig {
                structured: false,
                level: None
            }
        );
    }
}
