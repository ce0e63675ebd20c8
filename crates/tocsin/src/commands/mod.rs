//! One module per command group; [`run`] routes a parsed command line to it.

pub mod accounts;
pub mod audit;
mod backup;
mod doctor;
mod drill;
mod drill_audience;
pub mod installation;
mod migrate;
pub(crate) mod playbooks;
mod retention;
mod schema_watch;
mod serve;
pub mod users;

use anyhow::Result;
use std::process::ExitCode;

use crate::cli::{Cli, Command, RetentionCommand};
use crate::config::Config;

/// Runs a parsed command line; the exit code says whether all was well.
pub fn run(cli: Cli) -> Result<ExitCode> {
    // What needs no configuration runs even when the configuration is broken.
    match cli.command {
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            let mut command = crate::cli::Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "tocsin", &mut script);
            print_all(&script)
        }
        Command::Man => {
            use clap::CommandFactory as _;
            let mut page = Vec::new();
            clap_mangen::Man::new(crate::cli::Cli::command()).render(&mut page)?;
            print_all(&page)
        }
        Command::Doctor { json } => doctor::run(cli.config.as_deref(), json),
        command => run_configured(cli.config.as_deref(), command),
    }
}

/// Creates `path` (never overwriting a file) readable by its owner only, holding `bytes`:
/// a key, or a file of secrets.
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// Writes `bytes` to standard output; a reader that went away (`| head`) is no error.
fn print_all(bytes: &[u8]) -> Result<ExitCode> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::from(141)),
        other => {
            other?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_configured(config_path: Option<&std::path::Path>, command: Command) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    // Held to the end of the command: dropping it exports the spans still batched.
    let _traces = init_logging(&config)?;
    match command {
        Command::Playbooks(cmd) => playbooks::run(&config, cmd),
        Command::Audit(cmd) => audit::run(&config, cmd),
        Command::Drill(args) => drill::run(&config, &args),
        Command::Users(cmd) => users::run(&config, cmd),
        Command::Accounts(cmd) => accounts::run(&config, cmd),
        Command::Retention(RetentionCommand::Purge) => retention::purge(&config),
        Command::Backup { output } => backup::backup(&config, &output),
        Command::Restore { file } => backup::restore(&config, &file),
        Command::Installation(cmd) => installation::run(&config, cmd),
        Command::Migrate { dry_run, json } => migrate::run(&config, dry_run, json),
        Command::Serve(args) => serve::serve(&config, &args),
        Command::Demo(args) => serve::demo(config, &args),
        Command::Completions { .. } | Command::Man | Command::Doctor { .. } => {
            Ok(ExitCode::SUCCESS)
        }
        Command::Config => {
            // Client secrets given in the environment are not printed back.
            let shown = crate::config::Config {
                oauth: config.oauth.redacted(),
                ..config.clone()
            };
            print!("{}", toml::to_string_pretty(&shown)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Structured logs on stderr, as `[log]` says (`TOCSIN_LOG__LEVEL=debug` for more), and
/// traces to the OTLP collector of `[telemetry]` when one is set.
fn init_logging(config: &Config) -> Result<Option<crate::telemetry::Traces>> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // NO_COLOR (https://no-color.org): any non-empty value turns colour off; otherwise
    // colour only on a terminal.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = !no_color && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let lines = match config.log.format {
        crate::config::LogFormat::Json => lines.json().boxed(),
        crate::config::LogFormat::Text => lines.boxed(),
    };
    let (tracer, traces) = match crate::telemetry::start(&config.telemetry)? {
        Some((tracer, traces)) => (Some(tracer), Some(traces)),
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(tracer.map(|t| tracing_opentelemetry::layer().with_tracer(t)))
        .with(filter)
        .try_init();
    Ok(traces)
}
