//! Command-line arguments and the top-level run: parse → analyse → print → exit code.

use crate::app::{self, FileAnalysis, Options};
use crate::findings::{FindingsConfig, ServerPattern, Severity};
use crate::report::{self, Format, TableStyle};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Exit code when every input was read.
pub const EXIT_OK: i32 = 0;
/// Exit code when some input could not be read (missing, not a capture, truncated, corrupt).
pub const EXIT_INPUT_ERROR: i32 = 1;
/// Exit code for usage errors (clap uses it too).
pub const EXIT_USAGE: i32 = 2;
/// Exit code when `--fail-on` found a finding at or above the given severity.
pub const EXIT_FINDINGS: i32 = 3;

/// Read packet captures and explain why the TLS connections in them failed.
#[derive(Debug, Parser)]
#[command(name = "tlscap", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Capture files or directories (walked recursively); `-` reads stdin.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub common: CommonArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options shared by the default command and `explain`.
#[derive(Debug, clap::Args, Clone)]
pub struct CommonArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table, global = true)]
    pub format: FormatArg,
    /// Also report plain TCP connections that carried no TLS.
    #[arg(long, global = true)]
    pub all: bool,
    /// Table width in columns (default: the terminal's).
    #[arg(long, global = true)]
    pub width: Option<u16>,
    /// What to list: one row per connection, or one per finding.
    #[arg(long, value_enum, default_value_t = View::Connections, global = true)]
    pub view: View,
    /// Never colour the table.
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Seconds of server silence after a request reported as `read-timeout`.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, global = true)]
    pub read_timeout: f64,
    /// The client authenticates to this server with a certificate (ip, ip:port or SNI glob);
    /// repeatable. Handshakes with it that lack a CertificateRequest are reported.
    #[arg(long, value_name = "SERVER", global = true)]
    pub expect_client_auth: Vec<ServerPattern>,
    /// Host name to check the server certificate against when the ClientHello has no SNI.
    #[arg(long, value_name = "NAME", global = true)]
    pub expect_host: Option<String>,
    /// Exit with code 3 when a finding of this severity or worse exists.
    #[arg(long, value_enum, value_name = "SEVERITY", global = true)]
    pub fail_on: Option<FailOn>,
}

/// `--view` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum View {
    /// One row per connection.
    Connections,
    /// One row per finding, worst first.
    Findings,
}

/// `--fail-on` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warning,
}

impl FailOn {
    fn threshold(self) -> Severity {
        match self {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show one connection as a ladder of TCP and TLS events, then its findings.
    Explain {
        /// The capture file.
        path: PathBuf,
        /// Connection index (the `#` column / `index` field).
        #[arg(long = "conn", value_name = "N")]
        conn: u64,
    },
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Table for people.
    Table,
    /// One JSON object per line.
    Json,
    /// CSV with a header row.
    Csv,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Csv => Format::Csv,
        }
    }
}

/// Parses the process arguments, runs, and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            eprintln!("tlscap: {e}");
            EXIT_INPUT_ERROR
        }
    }
}

fn options(common: &CommonArgs) -> Options {
    Options {
        all: common.all,
        findings: FindingsConfig {
            read_timeout_secs: common.read_timeout,
            expect_client_auth: common.expect_client_auth.clone(),
            expect_host: common.expect_host.clone(),
        },
        ..Default::default()
    }
}

fn table_style(common: &CommonArgs) -> TableStyle {
    let tty = std::io::stdout().is_terminal();
    TableStyle {
        color: tty && !common.no_color,
        width: common.width,
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> std::io::Result<i32> {
    let opts = options(&cli.common);
    if let Some(Command::Explain { path, conn }) = &cli.command {
        return explain(path, *conn, &opts);
    }
    if cli.paths.is_empty() {
        eprintln!("tlscap: no input given; try `tlscap samples/` or `tlscap --help`");
        return Ok(EXIT_USAGE);
    }
    let (files, mut problems) = app::expand_inputs(&cli.paths);
    let mut analyses = app::analyze_paths(&files, &opts);
    app::apply_cross_connection(&mut analyses, &opts.findings);
    let mut records = Vec::new();
    for a in &analyses {
        for w in &a.warnings {
            eprintln!("tlscap: warning: {w}");
        }
        if let Some(e) = &a.error {
            problems.push(e.to_string());
        }
        records.extend(a.connections.iter().cloned());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let write = match cli.common.view {
        View::Connections => report::write_connections,
        View::Findings => report::write_findings,
    };
    write(
        &mut out,
        cli.common.format.into(),
        table_style(&cli.common),
        &records,
    )?;
    out.flush()?;
    for p in &problems {
        eprintln!("tlscap: error: {p}");
    }
    if !problems.is_empty() {
        return Ok(EXIT_INPUT_ERROR);
    }
    if let Some(fail_on) = cli.common.fail_on {
        let worst = records
            .iter()
            .flat_map(|r| r.findings.iter().map(|f| f.severity))
            .max();
        if worst.is_some_and(|w| w >= fail_on.threshold()) {
            return Ok(EXIT_FINDINGS);
        }
    }
    Ok(EXIT_OK)
}

fn explain(path: &std::path::Path, conn: u64, opts: &Options) -> std::io::Result<i32> {
    let mut all = [app::analyze_file(path, opts)];
    app::apply_cross_connection(&mut all, &opts.findings);
    let [a]: [FileAnalysis; 1] = all;
    if let Some(e) = &a.error {
        eprintln!("tlscap: error: {e}");
    }
    let Some(i) = a.connections.iter().position(|r| r.index == conn) else {
        eprintln!(
            "tlscap: {}: no reported connection with index {conn} (indexes: {})",
            path.display(),
            a.connections
                .iter()
                .map(|r| r.index.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(EXIT_USAGE);
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    report::ladder::write_ladder(&mut out, &a.connections[i], &a.handshakes[i], &a.tcp[i])?;
    Ok(if a.error.is_some() {
        EXIT_INPUT_ERROR
    } else {
        EXIT_OK
    })
}
