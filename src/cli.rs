//! Command-line arguments and the top-level run: parse → analyse → print → exit code.

use crate::app::settings::{Environment, Settings};
use crate::app::{self, Options};
use crate::filter::{AddrPattern, Filter};
use crate::findings::{FindingsConfig, ServerPattern, Severity};
use crate::record::ConnectionRecord;
use crate::report::printer::{Printer, RenderRun, RunEnd, View};
use crate::report::views::{FileRow, InputError};
use crate::report::{self, Format, TableStyle};
use crate::tls::keylog::KeyLog;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Exit code when every input was read.
pub const EXIT_OK: i32 = 0;
/// Exit code when some input could not be read (missing, not a capture, truncated, corrupt).
pub const EXIT_INPUT_ERROR: i32 = 1;
/// Exit code for usage errors (clap uses it too).
pub const EXIT_USAGE: i32 = 2;
/// Exit code when `--fail-on` found a finding at or above the given severity.
pub const EXIT_FINDINGS: i32 = 3;
/// Exit code when the output could not be created or written (disk full, I/O error): what
/// was printed is incomplete, whatever the input was.
pub const EXIT_WRITE_ERROR: i32 = 4;

/// A failed write to the output, naming it; carried inside the `io::Error` that reaches
/// [`main`], so that it is told apart from errors reading the input or the spill.
#[derive(Debug, thiserror::Error)]
#[error("{name}: write error: {source}")]
pub struct OutputError {
    /// The output file's path, or `standard output`.
    name: String,
    /// What the write returned.
    source: std::io::Error,
}

/// The output stream, naming itself in its errors (under the buffer, so that failed flushes
/// are named too).
struct Output<W> {
    inner: W,
    name: String,
}

impl<W: Write> Output<W> {
    fn named(&self, source: std::io::Error) -> std::io::Error {
        std::io::Error::new(
            source.kind(),
            OutputError {
                name: self.name.clone(),
                source,
            },
        )
    }
}

impl<W: Write> Write for Output<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.named(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| self.named(e))
    }
}

/// The output error inside `e`, if it came from writing the output (directly, or through the
/// csv writer, which wraps it).
fn output_error(e: &std::io::Error) -> Option<&OutputError> {
    let inner = e.get_ref()?;
    if let Some(o) = inner.downcast_ref::<OutputError>() {
        return Some(o);
    }
    match inner.downcast_ref::<csv::Error>()?.kind() {
        csv::ErrorKind::Io(io) => output_error(io),
        _ => None,
    }
}

/// Read packet captures and explain why the TLS connections in them failed.
#[derive(Debug, Parser)]
#[command(
    name = "tlscap",
    version = env!("TLSCAP_LONG_VERSION"),
    args_conflicts_with_subcommands = true
)]
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
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// What to list.
    #[arg(long, value_enum, default_value_t = View::Connections)]
    pub view: View,
    /// Write the output to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also report plain TCP connections that carried no TLS.
    #[arg(long)]
    pub all: bool,
    /// The files given (or a directory's captures) are consecutive pieces of one capture (a
    /// ring buffer from `tcpdump -C/-G` or `dumpcap -b`): read them as one, in order of their
    /// first packet's time, so a connection crossing a file boundary is one record. Records
    /// name the first piece; packet numbers count on across the pieces.
    #[arg(long)]
    pub continuous: bool,
    /// Table width in columns (default: the terminal's, else `COLUMNS`, else 120); below 140
    /// the connections table is compact.
    #[arg(long, value_parser = parse_width)]
    pub width: Option<u16>,
    /// Never colour the table (a non-empty `NO_COLOR` does the same).
    #[arg(long)]
    pub no_color: bool,
    /// No progress bar and no closing summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Worker threads for a batch of files (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Read captures with `read` calls only, never through a memory map (a mapped file that
    /// another process truncates ends with a "truncated" error, as a read one does).
    #[arg(long)]
    pub no_mmap: bool,
    /// Only analyse files whose name or path matches this glob (`*` any run, `?` one
    /// character); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub glob: Vec<String>,

    /// Memory budget (bytes, or with a unit: 256M, 512MiB, 2G). Past it, the least recently
    /// active connections are finalized early (finding `memory-budget`) instead of the
    /// process growing.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_size)]
    pub max_memory: usize,

    /// Exit with code 3 when a finding of this severity or worse exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<SeverityArg>,

    /// Keep connections whose server matches (IP, CIDR or ip:port); repeatable.
    #[arg(long, value_name = "ADDR")]
    pub server: Vec<AddrPattern>,
    /// Keep connections whose client matches (IP, CIDR or ip:port); repeatable.
    #[arg(long, value_name = "ADDR")]
    pub client: Vec<AddrPattern>,
    /// Keep connections with this port on either side; repeatable.
    #[arg(long, value_name = "PORT")]
    pub port: Vec<u16>,
    /// Keep connections whose SNI matches this glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub sni: Vec<String>,
    /// Keep connections with this finding id (and only those findings); repeatable.
    #[arg(long, value_name = "ID")]
    pub finding: Vec<String>,
    /// Keep findings of this severity or worse, and the connections that have one.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub min_severity: Option<SeverityArg>,
    /// Keep only connections in which a TLS handshake was seen.
    #[arg(long)]
    pub tls_only: bool,
    /// Keep only connections with this outcome.
    #[arg(long, value_enum, value_name = "OUTCOME")]
    pub outcome: Option<OutcomeArg>,
    /// List connections (and each severity's findings) in this order instead of file order;
    /// holds the listed records in memory.
    #[arg(long, value_enum, value_name = "ORDER")]
    pub sort: Option<SortArg>,

    /// The environment the captures come from (also read from `tlscap.toml`).
    #[command(flatten)]
    pub env: EnvArgs,
}

/// Options that describe the environment the captures were taken in (what the client trusted,
/// its key logs, ...): the keys of a `tlscap.toml` settings file, and `--no-settings`.
#[derive(Debug, clap::Args, Clone)]
#[command(next_help_heading = "Environment of the captures")]
pub struct EnvArgs {
    /// Add the root CAs in this PEM file to the trust anchors (repeatable), as if uploaded to
    /// the client's trust store.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Vec<PathBuf>,
    /// Also trust the operating system's root store.
    #[arg(long)]
    pub system_roots: bool,
    /// Certificate revocation list (DER or PEM) to check chains against; repeatable.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,

    /// Seconds of server silence after a request reported as `read-timeout`.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub read_timeout: f64,
    /// The client authenticates to this server with a certificate (ip, ip:port or SNI glob);
    /// repeatable. Handshakes with it that lack a CertificateRequest are reported.
    #[arg(long, value_name = "SERVER")]
    pub expect_client_auth: Vec<ServerPattern>,
    /// Host name to check the server certificate against when the ClientHello has no SNI.
    #[arg(long, value_name = "NAME")]
    pub expect_host: Option<String>,
    /// NSS key log (SSLKEYLOGFILE format) to decrypt TLS with; repeatable. A key log named like
    /// the capture (`x.pcap` → `x.keys` / `x.keylog`) beside it, and keys embedded in pcapng
    /// Decryption Secrets Blocks, are used automatically.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,
    /// Do not pick up a key log beside the capture.
    #[arg(long)]
    pub no_auto_keylog: bool,

    /// Secret of an HMAC-signed API (KEYID=SECRET; an empty KEYID for requests without one);
    /// repeatable. Signed requests are recomputed with it and the canonical form that matched is
    /// reported, never the secret. Prefer --hmac-secrets: arguments show in process lists.
    #[arg(long, value_name = "KEYID=SECRET", value_parser = parse_hmac_secret)]
    pub hmac_secret: Vec<crate::http::HmacKey>,
    /// File of KEYID=SECRET lines (# comments), as for --hmac-secret.
    #[arg(long, value_name = "FILE")]
    pub hmac_secrets: Option<PathBuf>,

    /// Ignore the `tlscap.toml` settings files beside the captures (trust anchors, key logs,
    /// servers expecting client certificates... of the environment the captures come from).
    #[arg(long)]
    pub no_settings: bool,
}

fn parse_hmac_secret(s: &str) -> Result<crate::http::HmacKey, String> {
    crate::http::HmacKey::parse(s, "").map_err(|e| e.to_string())
}

/// The secrets of `--hmac-secret` and `--hmac-secrets` (or the settings' `hmac_secrets`).
fn load_hmac_secrets(
    common: &CommonArgs,
    file: Option<&PathBuf>,
) -> Result<Vec<crate::http::HmacKey>, String> {
    let mut keys = common.env.hmac_secret.clone();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--hmac-secrets {}: {e}", path.display()))?;
        keys.extend(
            crate::http::HmacKey::parse_file(&text, &path.display().to_string())
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(keys)
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show connections as ladders of TCP and TLS events, then their findings; without
    /// `--conn`, list the failing connections to pick from.
    Explain(ExplainArgs),
    /// Compare a working and a failing side: pair their connections to the same service and
    /// list what differs, most decisive first.
    Compare {
        /// GOOD then BAD: each a capture, or `FILE#N` for one connection; a single capture
        /// with `--good` and `--bad`.
        #[arg(value_name = "CAPTURE", num_args = 1..=2, required = true)]
        sides: Vec<String>,
        /// The working side's connections (a connection index, a client address or CIDR, or an
        /// SNI glob); from the one capture given, or from GOOD.
        #[arg(long = "good", value_name = "FILTER", requires = "bad_pick")]
        good_pick: Option<crate::compare::Pick>,
        /// The failing side's connections (as `--good`); from the one capture given, or from BAD.
        #[arg(long = "bad", value_name = "FILTER", requires = "good_pick")]
        bad_pick: Option<crate::compare::Pick>,
        #[command(flatten)]
        common: Box<CommonArgs>,
    },
    /// Print the JSON Schema of the JSON output (every record type; docs/schema.json).
    Schema,
    /// Print a shell completion script (e.g. `tlscap completions bash > /etc/bash_completion.d/tlscap`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; e.g. `tlscap man > tlscap.1 && man ./tlscap.1`).
    Man,
}

/// `explain`'s arguments: the capture, which connections, the environment, and how to print.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The capture file.
    pub path: PathBuf,
    /// Connection index (the `#` column / `index` field); repeatable, or a comma list. Without
    /// it, the failing connections are listed.
    #[arg(long = "conn", value_name = "N", value_delimiter = ',')]
    pub conn: Vec<u64>,
    /// Output format: the ladder as a table, or its events as JSON lines.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Table)]
    pub format: ExplainFormat,
    /// Write the output to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Width of the list of failing connections (default: the terminal's, else `COLUMNS`,
    /// else 120).
    #[arg(long, value_parser = parse_width)]
    pub width: Option<u16>,
    /// Never colour the output (a non-empty `NO_COLOR` does the same).
    #[arg(long)]
    pub no_color: bool,
    /// Nothing on stderr but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub env: EnvArgs,
}

/// `explain --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// The ladder and the findings for people.
    Table,
    /// One JSON object per ladder event (`"type":"event"`), or per failing connection
    /// (`"type":"failing"`) without `--conn`.
    Json,
}

impl ExplainArgs {
    /// The command line's other options at their defaults, for the analysis: every TCP
    /// connection is kept, so that any index can be explained.
    fn common(&self) -> CommonArgs {
        CommonArgs {
            format: match self.format {
                ExplainFormat::Table => FormatArg::Table,
                ExplainFormat::Json => FormatArg::Json,
            },
            view: View::Connections,
            output: self.output.clone(),
            all: true,
            continuous: false,
            width: self.width,
            no_color: self.no_color,
            quiet: self.quiet,
            threads: None,
            no_mmap: false,
            glob: Vec::new(),
            max_memory: app::DEFAULT_MAX_MEMORY,
            fail_on: None,
            server: Vec::new(),
            client: Vec::new(),
            port: Vec::new(),
            sni: Vec::new(),
            finding: Vec::new(),
            min_severity: None,
            tls_only: false,
            outcome: None,
            sort: None,
            env: self.env.clone(),
        }
    }
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
    /// One self-contained HTML report of the whole run (use with `-o FILE.html`).
    Html,
    /// The same report as Markdown.
    Md,
    /// Parquet tables (needs `-o`): a directory with one file per record type, or the
    /// view's table alone when the name ends in `.parquet`.
    Parquet,
}

impl FormatArg {
    /// The document report this format asks for; None for the per-view formats.
    pub fn document(self) -> Option<report::Document> {
        match self {
            FormatArg::Html => Some(report::Document::Html),
            FormatArg::Md => Some(report::Document::Markdown),
            FormatArg::Table | FormatArg::Json | FormatArg::Csv | FormatArg::Parquet => None,
        }
    }
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Csv => Format::Csv,
            // Documents have printers of their own (`FormatArg::document`; `compare` its HTML page).
            FormatArg::Html | FormatArg::Md => Format::Table,
            // Parquet is the listing's printer alone (`run` rejects it elsewhere); its rows
            // are the JSON records.
            FormatArg::Parquet => Format::Json,
        }
    }
}

/// `--outcome` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    /// The connection (or its API call) failed.
    Failed,
    /// It worked.
    Ok,
    /// The capture cannot tell.
    Unknown,
}

impl From<OutcomeArg> for crate::record::Outcome {
    fn from(o: OutcomeArg) -> Self {
        match o {
            OutcomeArg::Failed => crate::record::Outcome::Failed,
            OutcomeArg::Ok => crate::record::Outcome::Ok,
            OutcomeArg::Unknown => crate::record::Outcome::Unknown,
        }
    }
}

/// `--sort` orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    /// By start time (then file and connection).
    Time,
    /// Failed first, then unknown, then ok (each by start time).
    Outcome,
    /// By SNI, then server address (each by start time).
    Server,
    /// By worst finding, errors first, then warnings, then info, then none (each by start
    /// time).
    Severity,
}

impl SortArg {
    /// Orders two records.
    fn cmp(self, a: &ConnectionRecord, b: &ConnectionRecord) -> std::cmp::Ordering {
        use crate::record::Outcome;
        let rank = |o: Outcome| match o {
            Outcome::Failed => 0,
            Outcome::Unknown => 1,
            Outcome::Ok => 2,
        };
        let by_time = |a: &ConnectionRecord, b: &ConnectionRecord| {
            (a.start, &a.file, a.index).cmp(&(b.start, &b.file, b.index))
        };
        match self {
            SortArg::Time => by_time(a, b),
            SortArg::Outcome => rank(a.outcome)
                .cmp(&rank(b.outcome))
                .then_with(|| by_time(a, b)),
            SortArg::Server => (&a.sni, a.server)
                .cmp(&(&b.sni, b.server))
                .then_with(|| by_time(a, b)),
            SortArg::Severity => {
                let worst = |r: &ConnectionRecord| r.findings.iter().map(|f| f.severity).max();
                // None sorts below every severity: connections without findings go last.
                worst(b).cmp(&worst(a)).then_with(|| by_time(a, b))
            }
        }
    }
}

/// What the output keeps: the filters, then `--outcome`.
struct Selection<'a> {
    filter: &'a Filter,
    outcome: Option<crate::record::Outcome>,
}

impl Selection<'_> {
    fn apply(&self, r: ConnectionRecord) -> Option<ConnectionRecord> {
        if self.outcome.is_some_and(|o| r.outcome != o) {
            return None;
        }
        self.filter.apply(r)
    }
}

/// Severity values for `--fail-on` and `--min-severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warning,
    /// Everything.
    Info,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Error => Severity::Error,
            SeverityArg::Warning => Severity::Warning,
            SeverityArg::Info => Severity::Info,
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
        // A reader that stops early (`| head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => match output_error(&e) {
            Some(o) if o.source.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
            Some(o) => {
                eprintln!("tlscap: {o}");
                EXIT_WRITE_ERROR
            }
            None => {
                eprintln!("tlscap: {e}");
                EXIT_INPUT_ERROR
            }
        },
    }
}

/// Reads the key logs into one (None when none given): the settings' (`from_settings`), then
/// `--keylog`'s.
fn load_keylogs(
    common: &CommonArgs,
    from_settings: &[PathBuf],
) -> Result<Option<std::sync::Arc<KeyLog>>, String> {
    if common.env.keylog.is_empty() && from_settings.is_empty() {
        return Ok(None);
    }
    let mut log = KeyLog::new();
    let named = from_settings
        .iter()
        .map(|p| (p, format!("{} (settings)", p.display())))
        .chain(
            common
                .env
                .keylog
                .iter()
                .map(|p| (p, format!("--keylog {}", p.display()))),
        );
    for (path, source) in named {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let one = KeyLog::parse(&text, &source);
        if one.malformed_count > 0 && !common.quiet {
            let lines: Vec<String> = one
                .malformed
                .iter()
                .map(|m| format!("{} ({})", m.line, m.reason))
                .collect();
            eprintln!(
                "tlscap: warning: {}: {} malformed key log line{} skipped (line {})",
                path.display(),
                one.malformed_count,
                if one.malformed_count == 1 { "" } else { "s" },
                lines.join(", ")
            );
        }
        log.merge(one);
    }
    Ok(Some(std::sync::Arc::new(log)))
}

/// A size in bytes: a number with an optional unit, K/M/G (or KiB/MiB/GiB, KB/MB/GB: all
/// powers of 1024).
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("unknown unit in {s:?} (use K, M or G)")),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("not a size: {s:?} (e.g. 512M)"))
}

/// The settings files that apply to captures found from `inputs` (none with `--no-settings`);
/// a bad one is a usage error, said on stderr.
fn find_settings(inputs: &[PathBuf], common: &CommonArgs) -> Result<Vec<Settings>, i32> {
    if common.env.no_settings {
        return Ok(Vec::new());
    }
    app::settings::discover(inputs).map_err(|e| {
        eprintln!("tlscap: {e}");
        EXIT_USAGE
    })
}

/// The options for `capture`: the command line's on top of its nearest settings file, if any
/// (errors name the settings file).
fn options_for(
    common: &CommonArgs,
    found: &[Settings],
    capture: &std::path::Path,
) -> Result<Option<Options>, String> {
    let Some(settings) = app::settings::nearest(found, capture) else {
        return Ok(None);
    };
    let env = settings.environment_for(capture);
    options(common, Some(&env))
        .map(Some)
        .map_err(|e| format!("{}: {e}", settings.path.display()))
}

/// Options for each capture that a settings file applies to (built once per distinct
/// environment, so captures that share one share its validator and cache), and how many
/// captures each settings file applies to.
#[allow(clippy::type_complexity)]
fn per_file_options(
    common: &CommonArgs,
    files: &[PathBuf],
    found: &[Settings],
) -> Result<(BTreeMap<PathBuf, Arc<Options>>, Vec<usize>), String> {
    let mut built: Vec<(Environment, Arc<Options>)> = Vec::new();
    let mut per_file = BTreeMap::new();
    let mut used = vec![0usize; found.len()];
    for file in files {
        let Some(settings) = app::settings::nearest(found, file) else {
            continue;
        };
        if let Some(n) = found.iter().position(|s| s == settings) {
            used[n] += 1;
        }
        let env = settings.environment_for(file);
        let opts = match built.iter().find(|(e, _)| *e == env) {
            Some((_, o)) => o.clone(),
            None => {
                let o = Arc::new(
                    options(common, Some(&env))
                        .map_err(|e| format!("{}: {e}", settings.path.display()))?,
                );
                built.push((env, o.clone()));
                o
            }
        };
        per_file.insert(file.clone(), opts);
    }
    Ok((per_file, used))
}

/// Says on stderr which settings files were used (unless `-q`).
fn announce_settings(found: &[Settings], used: &[usize], common: &CommonArgs) {
    if common.quiet {
        return;
    }
    for (s, &n) in found.iter().zip(used) {
        if n > 0 {
            eprintln!(
                "tlscap: using settings {} for {n} capture{} (`--no-settings` ignores it)",
                s.path.display(),
                if n == 1 { "" } else { "s" }
            );
        }
    }
}

/// `first` then the items of `then` not in it.
fn joined<T: Clone + PartialEq>(first: &[T], then: &[T]) -> Vec<T> {
    let mut all = first.to_vec();
    for t in then {
        if !all.contains(t) {
            all.push(t.clone());
        }
    }
    all
}

/// The analysis options of the command line, on top of a settings file's `env` if one applies:
/// the command line's lists add to the settings', its values replace them.
fn options(common: &CommonArgs, env: Option<&Environment>) -> Result<Options, String> {
    let none = Environment::default();
    let env = env.unwrap_or(&none);
    let trust = crate::certs::TrustOptions {
        extra_ca_files: joined(&env.ca_file, &common.env.ca_file),
        system_roots: common.env.system_roots || env.system_roots.unwrap_or(false),
        crl_files: joined(&env.crl, &common.env.crl),
        ..Default::default()
    };
    let validator = app::shared_validator(&trust).map_err(|e| e.to_string())?;
    let keylog = load_keylogs(common, &joined(&env.keylog, &[]))?;
    let hmac_file = common
        .env
        .hmac_secrets
        .as_ref()
        .or(env.hmac_secrets.as_ref());
    let hmac_secrets = std::sync::Arc::new(load_hmac_secrets(common, hmac_file)?);
    // One table (`explain`); a batch splits the shares between the tables it runs at once.
    let (table_memory, cache_memory) = app::budget_parts(common.max_memory, 1);
    Ok(Options {
        hmac_secrets,
        validator: Some(validator),
        keylog,
        all: common.all,
        auto_keylog: !common.env.no_auto_keylog,
        no_mmap: common.no_mmap,
        max_memory: Some(common.max_memory),
        cache_memory,
        flow: crate::flow::FlowConfig {
            max_memory: table_memory,
            ..Default::default()
        },
        continuous: common.continuous,
        observer: crate::tls::ObserverConfig {
            cleartext_http: true,
            // Only `explain` draws the ladder; it turns them back on.
            events: false,
            ..Default::default()
        },
        findings: FindingsConfig {
            read_timeout_secs: common.env.read_timeout,
            expect_client_auth: joined(&env.expect_client_auth, &common.env.expect_client_auth),
            expect_host: common
                .env
                .expect_host
                .clone()
                .or_else(|| env.expect_host.clone()),
        },
        ..Default::default()
    })
}

fn filter(common: &CommonArgs) -> Filter {
    Filter {
        server: common.server.clone(),
        client: common.client.clone(),
        port: common.port.clone(),
        sni: common.sni.clone(),
        // Validated in `run`: an unknown id is a usage error before anything is read.
        finding: common
            .finding
            .iter()
            .filter_map(|id| id.parse().ok())
            .collect(),
        min_severity: common.min_severity.map(Severity::from),
        tls_only: common.tls_only,
    }
}

fn table_style(common: &CommonArgs, to_terminal: bool) -> TableStyle {
    let terminal = if to_terminal {
        report::terminal_width()
    } else {
        None
    };
    TableStyle {
        color: report::colour_allowed(
            to_terminal,
            common.no_color,
            std::env::var("NO_COLOR").ok().as_deref(),
        ),
        width: Some(report::table_width(
            common.width,
            terminal,
            std::env::var("COLUMNS").ok().as_deref(),
        )),
    }
}

/// `--width`: a table needs at least one column.
fn parse_width(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(0) => Err(
            "the table width must be at least 1 column (leave --width out to fit the terminal)"
                .into(),
        ),
        Ok(w) => Ok(w),
        Err(e) => Err(format!("{e} (the table width in columns, 1 to 65535)")),
    }
}

/// Runs a parsed command line: analyse, print with the chosen printer, pick the exit code.
pub fn run(cli: Cli) -> std::io::Result<i32> {
    match &cli.command {
        Some(Command::Schema) => {
            let text = report::schema::output_schema_text(&crate::compare::schema_records);
            return print_to_stdout(text.as_bytes());
        }
        Some(Command::Completions { shell }) => {
            let mut text = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "tlscap", &mut text);
            return print_to_stdout(&text);
        }
        Some(Command::Man) => {
            let mut text = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut text)?;
            return print_to_stdout(&text);
        }
        Some(Command::Explain(args)) => {
            let common = args.common();
            let opts = match checked_options(&common) {
                Ok(o) => o,
                Err(code) => return Ok(code),
            };
            let found = match find_settings(std::slice::from_ref(&args.path), &common) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let mut opts = match options_for(&common, &found, &args.path) {
                Ok(Some(o)) => {
                    announce_settings(&found, &[1], &common);
                    o
                }
                Ok(None) => opts,
                Err(e) => {
                    eprintln!("tlscap: {e}");
                    return Ok(EXIT_USAGE);
                }
            };
            opts.observer.events = true;
            return explain(args, &common, &opts);
        }
        Some(Command::Compare {
            sides,
            good_pick,
            bad_pick,
            common,
        }) => {
            if matches!(common.format, FormatArg::Md | FormatArg::Parquet) {
                eprintln!(
                    "tlscap: compare writes tables, JSON, CSV or HTML (not --format md or parquet)"
                );
                return Ok(EXIT_USAGE);
            }
            let opts = match checked_options(common) {
                Ok(o) => o,
                Err(code) => return Ok(code),
            };
            return compare(sides, good_pick.as_ref(), bad_pick.as_ref(), &opts, common);
        }
        None => {}
    }
    let opts = match checked_options(&cli.common) {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let parquet = cli.common.format == FormatArg::Parquet;
    if parquet && cli.common.output.is_none() {
        eprintln!(
            "tlscap: --format parquet writes files: give -o DIR (one file per record type) or -o FILE.parquet (the --view's table), and no subcommand"
        );
        return Ok(EXIT_USAGE);
    }
    if cli.paths.is_empty() {
        eprintln!("tlscap: no input given; try `tlscap samples/` or `tlscap --help`");
        return Ok(EXIT_USAGE);
    }
    let common = &cli.common;
    let found = match find_settings(&cli.paths, common) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let inputs = app::expand_inputs(&cli.paths);
    let (per_file, used) = match per_file_options(common, &inputs.files, &found) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tlscap: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    announce_settings(&found, &used, common);
    let batch = app::run_expanded(
        inputs,
        &app::BatchOptions {
            analysis: opts,
            threads: common.threads,
            globs: common.glob.clone(),
            progress: !common.quiet && std::io::stderr().is_terminal(),
            shard_min_bytes: None,
            per_file,
        },
    );
    let errors = input_errors(&batch, common);
    let (mut out, to_terminal): (Box<dyn Write>, bool) = match (parquet, &common.output) {
        // The Parquet printer creates its own files under `-o`.
        (true, _) => (Box::new(std::io::sink()), false),
        _ => match open_output(common) {
            Some(o) => o,
            None => return Ok(EXIT_WRITE_ERROR),
        },
    };
    let style = table_style(common, to_terminal);
    let mut printer: Box<dyn Printer + '_> =
        match (common.format.document(), parquet, &common.output) {
            (Some(document), _, _) => report::document_printer(document, &mut out),
            (None, true, Some(path)) => {
                match report::parquet::ParquetPrinter::create(path, common.view) {
                    Ok(p) => Box::new(p),
                    Err(e) => {
                        eprintln!("tlscap: {e}");
                        return Ok(EXIT_WRITE_ERROR);
                    }
                }
            }
            _ => report::printer::printer(common.view, common.format.into(), style, &mut out)?,
        };
    let filter = filter(common);
    let selection = Selection {
        filter: &filter,
        outcome: common.outcome.map(Into::into),
    };
    let tally = print(
        &batch,
        &selection,
        common.sort,
        common.threads,
        &mut *printer,
    )?;
    printer.finish(&RunEnd {
        files: &file_rows(&batch, &tally),
        errors: &errors,
        skipped: &batch.skipped,
        analysed: batch.files.iter().map(|f| f.records()).sum(),
    })?;
    drop(printer);
    out.flush()?;
    closing_messages(&batch, &tally, &errors, common);
    Ok(if !errors.is_empty() {
        EXIT_INPUT_ERROR
    } else if common
        .fail_on
        .is_some_and(|f| tally.worst.is_some_and(|w| w >= Severity::from(f)))
    {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// Writes generated text (schema, completions, man page) to standard output.
fn print_to_stdout(text: &[u8]) -> std::io::Result<i32> {
    let mut out = Output {
        inner: std::io::stdout().lock(),
        name: "standard output".into(),
    };
    out.write_all(text)?;
    out.flush()?;
    Ok(EXIT_OK)
}

/// The analysis options, once the arguments are known to make sense (else the exit code).
fn checked_options(common: &CommonArgs) -> Result<Options, i32> {
    let opts = options(common, None).map_err(|e| {
        eprintln!("tlscap: {e}");
        EXIT_USAGE
    })?;
    if let Some(unknown) = common
        .finding
        .iter()
        .find(|id| crate::findings::FindingKind::from_id(id).is_none())
    {
        eprintln!(
            "tlscap: unknown finding id {unknown:?}; known ids: {}",
            crate::findings::FindingKind::ALL
                .iter()
                .map(|k| k.id())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Err(EXIT_USAGE);
    }
    Ok(opts)
}

/// Warnings and notes on stderr, and the inputs that could not be read (whole or in part).
fn input_errors(batch: &app::Batch, common: &CommonArgs) -> Vec<InputError> {
    let mut errors: Vec<InputError> = batch
        .input_problems
        .iter()
        .map(|(f, r)| InputError::new(f.clone(), r.clone()))
        .collect();
    let mut keylog_notes = 0usize;
    for f in &batch.files {
        let a = &f.analysis;
        for w in &a.warnings {
            if !common.quiet {
                eprintln!("tlscap: warning: {w}");
            }
        }
        for n in &a.notes {
            if common.quiet {
                continue;
            }
            // One line per key log is noise in a big batch: the first few, then a count.
            if matches!(n, app::Note::KeyLogBeside { .. }) {
                keylog_notes += 1;
                if keylog_notes > 3 {
                    continue;
                }
            }
            eprintln!("tlscap: {n}");
        }
        if let Some(e) = &a.error {
            errors.push(InputError::new(f.file.clone(), e.to_string()));
        }
        if let Some(e) = &f.spill_error {
            errors.push(InputError::new(f.file.clone(), e.clone()));
        }
    }

    if keylog_notes > 3 {
        eprintln!(
            "tlscap: … and {} more captures with a key log beside them (`--no-auto-keylog` turns this off)",
            keylog_notes - 3
        );
    }
    errors
}

/// The output (named in its write errors) and whether it is a terminal; None when the output
/// file cannot be created (said on stderr).
fn open_output(common: &CommonArgs) -> Option<(Box<dyn Write>, bool)> {
    Some(match &common.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => (
                Box::new(std::io::BufWriter::new(Output {
                    inner: f,
                    name: path.display().to_string(),
                })),
                false,
            ),
            Err(e) => {
                eprintln!("tlscap: {}: cannot create output: {e}", path.display());
                return None;
            }
        },
        None => (
            Box::new(std::io::BufWriter::new(Output {
                inner: std::io::stdout().lock(),
                name: "standard output".into(),
            })),
            std::io::stdout().is_terminal(),
        ),
    })
}

/// What stderr says after the output: skipped files, totals, errors.
fn closing_messages(batch: &app::Batch, tally: &Tally, errors: &[InputError], common: &CommonArgs) {
    if !common.quiet && !batch.skipped.is_empty() {
        // Not errors: a folder of captures often holds notes and key logs too.
        const SHOWN: usize = 4;
        let names: Vec<String> = batch
            .skipped
            .iter()
            .take(SHOWN)
            .map(|(p, _)| p.display().to_string())
            .collect();
        let more = batch.skipped.len().saturating_sub(SHOWN);
        eprintln!(
            "tlscap: skipped {} file{} that {} not captures: {}{}",
            batch.skipped.len(),
            if batch.skipped.len() == 1 { "" } else { "s" },
            if batch.skipped.len() == 1 {
                "is"
            } else {
                "are"
            },
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }

    if !common.quiet && batch.files.len() > 1 {
        eprintln!(
            "tlscap: {} files, {} connections, {} findings, {} errors",
            batch.files.len(),
            tally.records.iter().sum::<u64>(),
            tally.findings.iter().sum::<u64>(),
            errors.len()
        );
    }
    for e in errors {
        eprintln!(
            "tlscap: error: {}: {}",
            e.file,
            e.reason
                .strip_prefix(&format!("{}: ", e.file))
                .unwrap_or(&e.reason)
        );
    }
}

/// Feeds `printer` every pass it asks for over the batch's records (filtered, in output order)
/// and counts what the first pass kept.
fn print(
    batch: &app::Batch,
    filter: &Selection<'_>,
    sort: Option<SortArg>,
    threads: Option<usize>,
    printer: &mut dyn Printer,
) -> std::io::Result<Tally> {
    let mut tally = Tally::new(batch.files.len());
    if let Some(sort) = sort {
        // Each pass's records, all of them, in the order asked for.
        for (n, &pass) in printer.passes().iter().enumerate() {
            let mut recount = Tally::new(batch.files.len());
            let t = if n == 0 { &mut tally } else { &mut recount };
            let mut all = Vec::new();
            let order: Vec<usize> = (0..batch.files.len()).collect();
            pass_in(batch, &order, filter, t, &mut |r| {
                all.push(r);
                Ok(())
            })?;
            all.sort_by(|a, b| sort.cmp(a, b));
            for r in all {
                printer.record(pass, r)?;
            }
        }
        return Ok(tally);
    }
    if let Some(render) = printer.renderer() {
        pass_rendered(
            batch,
            threads,
            filter,
            &mut tally,
            &mut |bytes| printer.rendered(bytes),
            render,
        )?;
        return Ok(tally);
    }
    let mut order: Vec<usize> = (0..batch.files.len()).collect();
    if printer.by_file_name() {
        order.sort_by(|a, b| batch.files[*a].file.cmp(&batch.files[*b].file));
    }
    for (n, &pass) in printer.passes().iter().enumerate() {
        // Records are counted once, on the first pass.
        let mut recount = Tally::new(batch.files.len());
        let t = if n == 0 { &mut tally } else { &mut recount };
        pass_in(batch, &order, filter, t, &mut |r| printer.record(pass, r))?;
    }
    Ok(tally)
}

/// What the output pass saw: kept records and findings per file, and the worst severity.
struct Tally {
    records: Vec<u64>,
    findings: Vec<u64>,
    worst: Option<Severity>,
}

impl Tally {
    fn new(files: usize) -> Self {
        Tally {
            records: vec![0; files],
            findings: vec![0; files],
            worst: None,
        }
    }

    /// Counts a record kept from file `i`.
    fn count(&mut self, i: usize, r: &ConnectionRecord) {
        if let Some(n) = self.records.get_mut(i) {
            *n += 1;
        }
        if let Some(n) = self.findings.get_mut(i) {
            *n += r.findings.len() as u64;
        }
        let worst = r.findings.iter().map(|f| f.severity).max();
        self.worst = self.worst.max(worst);
    }

    /// Counts `records` records of file `i` with `findings` findings, the worst `worst`.
    fn add_counts(&mut self, i: usize, records: u64, findings: u64, worst: Option<Severity>) {
        if let Some(n) = self.records.get_mut(i) {
            *n += records;
        }
        if let Some(n) = self.findings.get_mut(i) {
            *n += findings;
        }
        self.worst = self.worst.max(worst);
    }

    /// Adds the counts of a one-file tally (a run of file `i`'s records).
    fn add(&mut self, i: usize, run: &Tally) {
        self.add_counts(i, run.records[0], run.findings[0], run.worst);
    }
}

/// Like [`pass`], but records are decoded, filtered and rendered (`render` writes a run of
/// them into a buffer) on a pool of `threads` (None: rayon's global pool), a run at a time,
/// and written to `out` here, in order: decoding and rendering are most of the output pass.
fn pass_rendered(
    batch: &app::Batch,
    threads: Option<usize>,
    filter: &Selection<'_>,
    tally: &mut Tally,
    out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    render: &RenderRun,
) -> std::io::Result<()> {
    let pool = output_pool(threads);
    let map = |records: Vec<ConnectionRecord>| {
        let mut counts = Tally::new(1);
        let kept: Vec<ConnectionRecord> = records
            .into_iter()
            .filter_map(|r| filter.apply(r))
            .inspect(|r| counts.count(0, r))
            .collect();
        // A JSON record is ~1.9 KB on average (`large.pcap`), more with chains and findings:
        // room for 3 KB each spares the copies of a buffer that grows while a run is written.
        let mut buf = Vec::with_capacity(kept.len() * 3072);
        render(&kept, &mut buf)?;
        Ok((buf, counts))
    };
    for i in 0..batch.files.len() {
        batch.map_record_runs(i, app::RECORD_RUN, pool.as_ref(), &map, &mut |(
            buf,
            counts,
        )| {
            tally.add(i, &counts);
            out(&buf)
        })?;
    }
    Ok(())
}

/// The pool an output pass decodes and renders on: `threads` threads (None: rayon's global
/// pool).
fn output_pool(threads: Option<usize>) -> Option<rayon::ThreadPool> {
    threads.and_then(|n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .ok()
    })
}

/// [`pass`] over the files in the given order.
fn pass_in(
    batch: &app::Batch,
    order: &[usize],
    filter: &Selection<'_>,
    tally: &mut Tally,
    f: &mut dyn FnMut(ConnectionRecord) -> std::io::Result<()>,
) -> std::io::Result<()> {
    for &i in order {
        batch.for_each_record(i, &mut |r| {
            let Some(r) = filter.apply(r) else {
                return Ok(());
            };
            tally.count(i, &r);
            f(r)
        })?;
    }
    Ok(())
}

fn file_rows(batch: &app::Batch, tally: &Tally) -> Vec<FileRow> {
    batch
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let s = &f.analysis.stats;
            let a = &f.analysis;
            FileRow {
                record_type: "file",
                file: f.file.clone(),
                packets: s.packets,
                bytes: s.bytes,
                first: s.first_ts.and_then(|t| t.rfc3339_checked()),
                last: s.last_ts.and_then(|t| t.rfc3339_checked()),
                span_s: match (s.first_ts, s.last_ts) {
                    (Some(a), Some(b)) => (b.seconds_since(a) * 1e6).round() / 1e6,
                    _ => 0.0,
                },
                link_types: s.link_types.iter().cloned().collect(),
                connections: tally.records.get(i).copied().unwrap_or(0),
                tcp_connections: s.tcp_connections,
                findings: tally.findings.get(i).copied().unwrap_or(0),
                warnings: a.warnings.len() as u64,
                error: a.error.as_ref().map(|e| e.to_string()),
            }
        })
        .collect()
}

/// `explain`: analyses the file, keeping only the chosen connections' handshake and TCP
/// facts (plus the per-server aggregate the cross-connection rules need), and prints their
/// ladders; without `--conn`, lists the failing connections (their records only are kept).
fn explain(args: &ExplainArgs, common: &CommonArgs, opts: &Options) -> std::io::Result<i32> {
    let path = &args.path;
    let mut servers = crate::findings::ClientAuthServers::default();
    let mut indexes: Vec<u64> = Vec::new();
    let mut chosen: Vec<(app::Built, crate::findings::CrossFacts)> = Vec::new();
    let mut listed: Vec<(ConnectionRecord, crate::findings::CrossFacts)> = Vec::new();
    let file = path.display().to_string();
    let mut seen_ends: Vec<u64> = Vec::new();
    let a = app::analyze_file_with(path, opts, &mut |index, built| {
        let Some(b) = built else {
            return;
        };
        let r = &b.record;
        seen_ends.push(crate::findings::ends_key(r.transport, r.client, r.server));
        let facts = crate::findings::CrossFacts::from_handshake(&b.handshake);
        servers.observe(0, &b.record, &facts);
        if let Some(e) = crate::findings::EdgeFacts::of(&b.record, &b.tcp) {
            servers.edges.observe(&file, index, e);
        }
        indexes.push(index);
        if args.conn.is_empty() {
            listed.push((b.record, facts));
        } else if args.conn.contains(&index) {
            chosen.push((b, facts));
        }
    });
    if !common.quiet {
        let unseen = crate::findings::unseen_attempts(&file, &a.icmp, seen_ends);
        for w in a.warnings.iter().chain(&unseen) {
            eprintln!("tlscap: warning: {w}");
        }
    }
    if let Some(e) = &a.error {
        eprintln!("tlscap: error: {e}");
    }
    // The file's own cross-connection facts, as the other commands apply them.
    servers
        .edges
        .observe_file(&file, a.stats.first_ts, a.stats.last_ts);
    servers.icmp.observe_file(&file, &a.icmp);
    indexes.sort_unstable();
    let missing: Vec<String> = args
        .conn
        .iter()
        .filter(|c| indexes.binary_search(c).is_err())
        .map(|c| c.to_string())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "tlscap: {}: no connection with index {} (indexes: {})",
            path.display(),
            missing.join(", "),
            indexes
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(EXIT_USAGE);
    }
    let Some((mut out, to_terminal)) = open_output(common) else {
        return Ok(EXIT_WRITE_ERROR);
    };
    if args.conn.is_empty() {
        let mut failing: Vec<ConnectionRecord> = listed
            .into_iter()
            .map(|(mut r, facts)| {
                crate::findings::complete(&mut r, &facts, &servers, &opts.findings);
                r
            })
            .filter(|r| r.outcome == crate::record::Outcome::Failed)
            .collect();
        failing.sort_by_key(|r| r.index);
        list_failing(
            &mut out,
            args,
            &failing,
            indexes.len(),
            table_style(common, to_terminal),
        )?;
    } else {
        // In the order asked for, each once.
        let mut order: Vec<u64> = Vec::with_capacity(args.conn.len());
        for c in &args.conn {
            if !order.contains(c) {
                order.push(*c);
            }
        }
        for (n, conn) in order.iter().enumerate() {
            let Some((b, facts)) = chosen.iter_mut().find(|(b, _)| b.record.index == *conn) else {
                continue;
            };
            crate::findings::complete(&mut b.record, facts, &servers, &opts.findings);
            match args.format {
                ExplainFormat::Table => {
                    if n > 0 {
                        writeln!(out)?;
                    }
                    report::ladder::write_ladder(&mut out, &b.record, &b.handshake, &b.tcp)?
                }
                ExplainFormat::Json => {
                    report::ladder::write_ladder_json(&mut out, &b.record, &b.handshake, &b.tcp)?
                }
            }
        }
    }
    out.flush()?;
    Ok(if a.error.is_some() {
        EXIT_INPUT_ERROR
    } else {
        EXIT_OK
    })
}

/// `explain` without `--conn`: the failing connections (index, server, cause), and how to
/// pick one.
fn list_failing(
    out: &mut dyn Write,
    args: &ExplainArgs,
    failing: &[ConnectionRecord],
    total: usize,
    style: TableStyle,
) -> std::io::Result<()> {
    let path = args.path.display();
    if args.format == ExplainFormat::Json {
        for r in failing {
            serde_json::to_writer(&mut *out, &report::ladder::FailingConnection::of(r))?;
            writeln!(out)?;
        }
        return Ok(());
    }
    if failing.is_empty() {
        writeln!(
            out,
            "No failing connection in {path} ({total} connection{}); explain one anyway with `--conn N`.",
            if total == 1 { "" } else { "s" }
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{} failing connection{} of {total} in {path}:",
        failing.len(),
        if failing.len() == 1 { "" } else { "s" }
    )?;
    let mut t = report::new_table(style);
    t.set_header(["#", "Server", "Failed at", "Cause"]);
    for r in failing {
        let at = r
            .failed_at
            .and_then(|a| serde_json::to_value(a).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        t.add_row([
            r.index.to_string(),
            format!("{}\n→ {}", r.sni_shown(), r.server),
            at,
            r.cause
                .map_or("(no finding explains it)", |c| c.as_str())
                .to_string(),
        ]);
    }
    writeln!(out, "{t}")?;
    let first = failing[0].index;
    let several = failing
        .iter()
        .take(2)
        .map(|r| r.index.to_string())
        .collect::<Vec<_>>()
        .join(",");
    writeln!(
        out,
        "Explain one with `tlscap explain {path} --conn {first}`"
    )?;
    if failing.len() > 1 {
        writeln!(out, "(several: `--conn {several}`).")?;
    }
    Ok(())
}

/// A side of `compare` as given: the capture and which of its connections.
fn compare_side(arg: &str, pick: Option<&crate::compare::Pick>) -> (PathBuf, crate::compare::Pick) {
    use crate::compare::Pick;
    if let Some(p) = pick {
        return (PathBuf::from(arg), p.clone());
    }
    // `FILE#N`, unless a file is named so.
    match arg.rsplit_once('#') {
        Some((file, n)) if !std::path::Path::new(arg).exists() => match n.parse() {
            Ok(n) => (PathBuf::from(file), Pick::Index(n)),
            Err(_) => (PathBuf::from(arg), Pick::All),
        },
        _ => (PathBuf::from(arg), Pick::All),
    }
}

/// `compare`: analyses the captures (each once, their cross-connection findings together, as
/// one batch would), picks the two sides and prints what differs.
fn compare(
    sides: &[String],
    good_pick: Option<&crate::compare::Pick>,
    bad_pick: Option<&crate::compare::Pick>,
    opts: &Options,
    common: &CommonArgs,
) -> std::io::Result<i32> {
    use crate::compare::{Observed, Pick};
    let (good, bad) = match (sides, good_pick, bad_pick) {
        ([one], Some(_), Some(_)) => (compare_side(one, good_pick), compare_side(one, bad_pick)),
        ([g, b], None, None) => (compare_side(g, None), compare_side(b, None)),
        // Each filter picks from its own capture.
        ([g, b], Some(_), Some(_)) => (compare_side(g, good_pick), compare_side(b, bad_pick)),
        _ => {
            eprintln!(
                "tlscap: compare takes GOOD BAD, or one capture with --good FILTER --bad FILTER"
            );
            return Ok(EXIT_USAGE);
        }
    };
    let mut paths: Vec<PathBuf> = vec![good.0.clone()];
    if bad.0 != good.0 {
        paths.push(bad.0.clone());
    }
    let found = match find_settings(&paths, common) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let (per_file, used) = match per_file_options(common, &paths, &found) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tlscap: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    announce_settings(&found, &used, common);
    let opts_of = |p: &PathBuf| per_file.get(p).map_or(opts, |o| &**o);
    let mut analyses: Vec<app::FileAnalysis> = paths
        .iter()
        .map(|p| app::analyze_file(p, opts_of(p)))
        .collect();
    // The cross-connection pass adds warnings of its own (ICMP errors about attempts the
    // capture lacks): print them all after it.
    app::apply_cross_connection(&mut analyses, &opts_of(&paths[0]).findings);
    let mut failed = false;
    for a in &analyses {
        for w in &a.warnings {
            if !common.quiet {
                eprintln!("tlscap: warning: {w}");
            }
        }
        if let Some(e) = &a.error {
            eprintln!("tlscap: error: {e}");
            failed = true;
        }
    }
    let side = |(path, pick): &(PathBuf, Pick)| -> Vec<Observed> {
        let i = paths.iter().position(|p| p == path).unwrap_or(0);
        let Some(a) = analyses.get(i) else {
            return Vec::new();
        };
        a.connections
            .iter()
            .zip(&a.handshakes)
            .filter(|(r, _)| pick.matches(r))
            .map(|(r, h)| Observed {
                record: r.clone(),
                hello: crate::compare::Hello::from_handshake(h),
            })
            .collect()
    };
    let (g, b) = (side(&good), side(&bad));
    for (name, (path, _), list) in [("good", &good, &g), ("bad", &bad, &b)] {
        if list.is_empty() {
            eprintln!(
                "tlscap: compare: the {name} side ({}) has no reported connection",
                path.display()
            );
            return Ok(if failed { EXIT_INPUT_ERROR } else { EXIT_USAGE });
        }
    }
    let failed_in = |side: &[Observed]| {
        side.iter()
            .any(|o| o.record.outcome == crate::record::Outcome::Failed)
    };
    if !common.quiet && !failed_in(&b) {
        eprintln!("tlscap: compare: no connection of the bad side failed; its differences from the good side are listed anyway");
    }
    if !common.quiet
        && failed_in(&g)
        && !g
            .iter()
            .any(|o| o.record.outcome == crate::record::Outcome::Ok)
    {
        eprintln!("tlscap: compare: every connection of the good side failed; are GOOD and BAD the right way round?");
    }
    let comparisons = crate::compare::compare(&g, &b);
    if comparisons.is_empty() && !common.quiet {
        eprintln!("tlscap: compare: no connection of the bad side goes to a service the good side reaches (same SNI or server address)");
    }
    let Some((mut out, to_terminal)) = open_output(common) else {
        return Ok(EXIT_WRITE_ERROR);
    };
    if common.format == FormatArg::Html {
        crate::compare::print::write_html(&mut out, &comparisons)?;
    } else {
        crate::compare::print::write(
            &mut out,
            &comparisons,
            common.format.into(),
            table_style(common, to_terminal),
        )?;
    }
    out.flush()?;
    Ok(if failed { EXIT_INPUT_ERROR } else { EXIT_OK })
}
