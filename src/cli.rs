//! The command line: parse arguments, read the input files, run one mode, map errors to exit
//! codes with one CRITICAL line on stderr.

use crate::about;
use crate::client::Client;
use crate::config::{self, Config};
use crate::demo;
use crate::error::{exit, Error};
use crate::log;
use crate::signals;
use crate::singer::catalog;
use crate::singer::output::Output;
use crate::singer::state::State;
use crate::sync;
use chrono::Utc;
use clap::{Parser, ValueEnum};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AboutFormat {
    Text,
    Json,
    Markdown,
}

/// Singer tap for Postmark.
#[derive(Debug, Parser)]
#[command(name = "tap-postmark", version, about, long_about = None)]
pub struct Args {
    /// Config file (JSON object; see --about for the settings).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State file from a previous run (the last STATE value).
    #[arg(short, long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Catalog selecting streams and fields.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Legacy name of --catalog.
    #[arg(short, long, value_name = "FILE")]
    pub properties: Option<PathBuf>,
    /// Print the catalog of every stream and exit (needs no credentials).
    #[arg(short, long)]
    pub discover: bool,
    /// Print the name, capabilities and settings and exit.
    #[arg(long)]
    pub about: bool,
    /// Output format of --about.
    #[arg(long, value_enum, default_value = "text")]
    pub format: AboutFormat,
    /// Check the credentials against the API and exit.
    #[arg(long)]
    pub test: bool,
    /// Sync every stream from a built-in simulated Postmark account (no account needed).
    #[arg(long)]
    pub demo: bool,
}

pub fn main() -> ExitCode {
    // Structured from the first line when Meltano asks for it, argument errors included.
    log::set_structured(log::sdk_config().is_some_and(|f| f.structured));
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            log::critical(&format!("{first} (see tap-postmark --help)"));
            return ExitCode::from(exit::INPUT);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::BrokenPipe) => ExitCode::from(exit::INTERRUPTED),
        Err(e) => {
            log::log_about(
                log::Level::Critical,
                &e.to_string(),
                log::About::error(e.kind()),
            );
            ExitCode::from(e.exit_code())
        }
    }
}

/// The largest config, state or catalog file read (a discovered catalog is about 150 KiB).
pub const MAX_INPUT_BYTES: u64 = 16 << 20;
/// How long an input file may take to be read: a FIFO nobody writes to must not hang the tap.
const INPUT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads an input file as JSON: at most [`MAX_INPUT_BYTES`], within [`INPUT_WAIT`] (a device
/// or FIFO that never ends, or never starts, is refused rather than read forever).
fn read_json(path: &Path, what: &str) -> Result<Value, Error> {
    let fail =
        |why: String| Error::Input(format!("cannot read {what} file {}: {why}", path.display()));
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    // The reader may block for good (a FIFO without a writer); it is left behind if so.
    std::thread::spawn(move || {
        use std::io::Read;
        let read = std::fs::File::open(&owned).and_then(|f| {
            let mut bytes = Vec::new();
            f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
            Ok(bytes)
        });
        let _ = tx.send(read);
    });
    let bytes = match rx.recv_timeout(INPUT_WAIT) {
        Ok(read) => read.map_err(|e| fail(e.to_string()))?,
        Err(_) => {
            return Err(fail(format!(
                "nothing readable arrived within {} s (a FIFO without a writer?)",
                INPUT_WAIT.as_secs()
            )))
        }
    };
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(fail(format!(
            "it is larger than {} MiB",
            MAX_INPUT_BYTES >> 20
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::Input(format!(
            "{what} file {} is not valid JSON: {e}",
            path.display()
        ))
    })
}

fn load_config(path: &Path) -> Result<Config, Error> {
    let value = read_json(path, "config")?;
    let config = config::parse(&value, Utc::now())?;
    Ok(config)
}

/// The log's format and level. Structured (JSON lines) when `SINGER_SDK_LOG_CONFIG` names a
/// logging config whose formatter is the Singer SDK's structured one (Meltano's, for a plugin
/// with `structured-logging`). The level: `TAP_POSTMARK_LOG_LEVEL`, else the config's
/// `log_level`, else that file's level, else info.
fn apply_log_level(config: Option<&Config>) -> Result<(), Error> {
    let file = log::sdk_config();
    let env = match std::env::var("TAP_POSTMARK_LOG_LEVEL") {
        Ok(v) => Some(log::Level::parse(&v).ok_or_else(|| {
            Error::Input(format!(
                "TAP_POSTMARK_LOG_LEVEL={v:?} is not one of debug, info, warning, error, critical"
            ))
        })?),
        Err(_) => None,
    };
    let level = env
        .or(config.and_then(|c| c.log_level))
        .or(file.and_then(|f| f.level))
        .unwrap_or(log::Level::Info);
    log::set_level(level);
    Ok(())
}

pub fn run(args: &Args) -> Result<(), Error> {
    apply_log_level(None)?;
    if args.about {
        let text = match args.format {
            AboutFormat::Text => about::text(),
            AboutFormat::Json => {
                serde_json::to_string_pretty(&about::json())
                    .map_err(|e| Error::Internal(e.to_string()))?
                    + "\n"
            }
            AboutFormat::Markdown => about::markdown(),
        };
        return print_stdout(&text);
    }
    if args.discover {
        let mut tagged = false;
        if let Some(path) = &args.config {
            let config = load_config(path)?;
            apply_log_level(Some(&config))?;
            tagged = config.stats_tags.on();
        }
        let catalog = catalog::discover(tagged)?;
        let text =
            serde_json::to_string_pretty(&catalog).map_err(|e| Error::Internal(e.to_string()))?;
        return print_stdout(&(text + "\n"));
    }
    if args.demo {
        signals::install();
        return demo::run();
    }
    let path = args.config.as_ref().ok_or_else(|| {
        Error::Input("--config FILE is required (or use --discover, --about or --demo)".into())
    })?;
    let config = load_config(path)?;
    apply_log_level(Some(&config))?;
    if args.test {
        return test_connection(&config);
    }
    let catalog_path = args.catalog.as_ref().or(args.properties.as_ref());
    let mut selection = match catalog_path {
        Some(p) => catalog::select(&read_json(p, "catalog")?)?,
        None => catalog::default_selection()?,
    };
    if config.activate_version {
        catalog::version_full_tables(&mut selection, Utc::now().timestamp_millis());
    }
    if config.stats_tags.on() {
        catalog::tag_stats(&mut selection);
    }
    let mut state = match &args.state {
        Some(p) => State::from_value(read_json(p, "state")?)?,
        None => State::empty(),
    };
    signals::install();
    let client = Client::new(&config);
    let mut out = Output::stdout();
    let result = sync::run(&config, &client, &selection, &mut state, &mut out);
    out.finish(result)
}

fn test_connection(config: &Config) -> Result<(), Error> {
    let client = Client::new(config);
    let mut servers = sync::servers::resolve(config, &client)?;
    for s in &mut servers {
        s.list_message_streams(&client)?;
    }
    for s in &servers {
        log::info(&format!(
            "server {} ({}): {} message stream(s)",
            s.id,
            s.name,
            s.message_streams().len()
        ));
    }
    log::info(&format!(
        "connection test passed: {} server(s) readable",
        servers.len()
    ));
    Ok(())
}

fn print_stdout(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(Error::from_output)?;
    out.flush().map_err(Error::from_output)
}
