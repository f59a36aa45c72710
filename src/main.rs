//! The command line: flags → `Config`, logging, signals, exit codes.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use log::LevelFilter;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR2};
use signal_hook::iterator::Signals;
use simplelog::{ConfigBuilder, WriteLogger};

use simple_web_server::{
    Bind, CompressLevel, Config, ConfigError, Credential, Error, HeaderField, ListenAddr,
    LogFormat, ReadyNotice, ReloadHandle, Server, ShutdownHandle, TlsSource, UpgradeError,
    Upgrader,
};

/// Usage errors (bad flags or values).
const EXIT_USAGE: u8 = 2;
/// Startup failures and a drain cut short by `--shutdown-timeout`.
const EXIT_FAILURE: u8 = 1;
/// A second Ctrl-C: exit at once, as a shell reports death by SIGINT.
const EXIT_INTERRUPTED: i32 = 130;

/// A static-file HTTP/1.1 server: a fixed pool of workers fed by one acceptor.
#[derive(Parser, Debug)]
// Negative numbers are read as values (and refused as such: "invalid
// value '-1' for '--header-timeout'"), not as unknown flags.
#[command(version, about, allow_negative_numbers = true)]
struct Args {
    /// Directory to serve.
    #[arg(default_value = ".")]
    root: PathBuf,

    /// Where to listen; repeat for more: an IP address (127.0.0.1, ::1,
    /// 0.0.0.0, or :: which takes IPv4 too unless an IPv4 address is bound
    /// beside it), a host name (every address it resolves to), or
    /// unix:PATH for a Unix socket (behind a reverse proxy on this machine).
    #[arg(short, long = "bind", value_name = "ADDR", default_value = "127.0.0.1")]
    binds: Vec<Bind>,

    /// Port to listen on, on every address; 0 picks a free port (the same
    /// for all).
    #[arg(short, long, default_value_t = 8000)]
    port: u16,

    /// Permissions of the --bind unix: sockets, in octal; connecting needs
    /// write permission (666: any local user may connect, as to a loopback
    /// port; 660 with the socket's group; 600 the server's user alone).
    #[arg(long, value_name = "MODE", default_value = "666", value_parser = parse_mode)]
    unix_socket_mode: u32,

    /// Worker threads [default: number of CPUs].
    #[arg(short, long)]
    workers: Option<usize>,

    /// Seconds a graceful shutdown may take before the rest is abandoned.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    shutdown_timeout: u64,

    /// Seconds from the first byte of a request to the end of its headers.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    header_timeout: u64,

    /// Seconds a keep-alive connection may stay idle between requests.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    keepalive_timeout: u64,

    /// Seconds a response may make no write progress before the connection closes.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    write_timeout: u64,

    /// Open connections at most; beyond it new ones wait in the kernel backlog.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_connections: usize,

    /// Serve and list dotfiles (.git, .env, ...).
    #[arg(long)]
    show_hidden: bool,

    /// A folder without an index file is a 404, like a missing path,
    /// instead of a listing.
    #[arg(long)]
    no_listing: bool,

    /// File served for a folder; repeat for more, tried in order [default:
    /// index.html, then index.htm].
    #[arg(long, value_name = "NAME")]
    index: Vec<String>,

    /// Single-page app: a missing path with no extension, or one a browser
    /// asks for as HTML, gets the root's index file (200, no-cache).
    #[arg(long)]
    spa: bool,

    /// Cache-Control header value for file responses (e.g. "max-age=3600").
    #[arg(long, value_name = "VALUE", value_parser = parse_header_value)]
    cache_control: Option<String>,

    /// Add this header field to every response (repeatable; not on the
    /// admin listener). Not one the server sets itself: Content-Length,
    /// Transfer-Encoding, Connection, Keep-Alive, Proxy-Connection,
    /// Upgrade, Trailer, TE, Date, Server, X-Content-Type-Options,
    /// Content-Type, Content-Encoding, Content-Range, ETag, Last-Modified,
    /// Vary, Accept-Ranges, Location, Allow, WWW-Authenticate,
    /// Cache-Control (see --cache-control), Access-Control-Allow-Origin,
    /// -Allow-Methods, -Allow-Headers, -Expose-Headers, -Max-Age (see
    /// --cors).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<HeaderField>,

    /// Let scripts on other sites read responses: Access-Control-Allow-Origin
    /// with ORIGIN (*, null or scheme://host[:port]) on every response, and
    /// CORS preflights answered, credentials or not [default ORIGIN: *].
    // `--cors=ORIGIN` only, as GNU tools take an optional value: a bare
    // `--cors` never takes the directory after it for an origin.
    #[arg(
        long,
        value_name = "ORIGIN",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "*"
    )]
    cors: Option<String>,

    /// Ask for HTTP Basic credentials on everything but the admin listener
    /// (repeatable, one user each): USER:PASSWORD, or USER:sha256:HEX with
    /// the SHA-256 of the password (`printf %s PASSWORD | sha256sum`), which
    /// keeps it out of `ps`. Use HTTPS: Basic sends passwords readable.
    #[arg(long, value_name = "USER:PASSWORD")]
    auth: Vec<String>,

    /// Serve FILE.br / FILE.gz in place of FILE to clients that accept them.
    #[arg(long)]
    precompressed: bool,

    /// Compress text-like files on the fly, once per file version: off,
    /// fast, default or best.
    #[arg(long, value_name = "LEVEL", default_value = "default")]
    compress: CompressLevel,

    /// Files smaller than this are not compressed (bytes; K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "1K", value_parser = parse_size)]
    compress_min_size: u64,

    /// Compressed variants kept in memory, all workers together (bytes;
    /// K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    compress_cache_size: u64,

    /// Nice steps the acceptor runs below the workers (0 to 19), so it
    /// yields to them and to clients on the same machine (Linux; elsewhere
    /// a nice value is the whole process's, and this does nothing).
    #[arg(long, value_name = "N", default_value_t = 10)]
    acceptor_nice: u8,

    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, SEC1 or RSA) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Serve HTTPS with a self-signed certificate made at start-up for
    /// localhost (for development; never written to disk).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls_self_signed: bool,

    /// Append the access log to FILE instead of stdout; SIGHUP reopens it.
    #[arg(long, value_name = "FILE", conflicts_with = "quiet")]
    access_log: Option<PathBuf>,

    /// Access-log lines: common, combined (with Referer and User-Agent) or json.
    #[arg(long, value_name = "FORMAT", default_value = "common")]
    log_format: LogFormat,

    /// Every connection starts with a PROXY protocol v1 or v2 header (from
    /// HAProxy, nginx, a cloud load balancer); the access log shows the
    /// client it names.
    #[arg(long)]
    proxy_protocol: bool,

    /// Write the server's PID to FILE at start-up; removed at exit. After
    /// an upgrade (SIGUSR2) it names the new process.
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,

    /// Serve /health and /metrics on a second listener at ADDR:PORT (keep
    /// it private: 127.0.0.1:9000, say).
    #[arg(long, value_name = "ADDR:PORT")]
    admin: Option<SocketAddr>,

    /// Seconds between SIGTERM and the drain, while /health answers 503
    /// and everything else is served as before (for balancers that poll).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    health_delay: u64,

    /// No access log.
    #[arg(short, long)]
    quiet: bool,

    /// Diagnostics on stderr: off, error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: LevelFilter,
}

impl Args {
    /// The configuration the flags ask for; an `--auth` value that is not
    /// one is an error here (clap would show it, password and all).
    fn config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::new(&self.root);
        config.binds = self.binds.clone();
        config.port = self.port;
        config.unix_socket_mode = self.unix_socket_mode;
        if let Some(workers) = self.workers {
            config.workers = workers;
        }
        config.shutdown_timeout = Duration::from_secs(self.shutdown_timeout);
        config.header_timeout = Duration::from_secs(self.header_timeout);
        config.keepalive_timeout = Duration::from_secs(self.keepalive_timeout);
        config.write_timeout = Duration::from_secs(self.write_timeout);
        config.max_connections = self.max_connections;
        config.show_hidden = self.show_hidden;
        config.no_listing = self.no_listing;
        if !self.index.is_empty() {
            config.index = self.index.clone();
        }
        config.spa = self.spa;
        config.cache_control = self.cache_control.clone();
        config.headers = self.headers.clone();
        config.cors = self.cors.clone();
        config.auth = self
            .auth
            .iter()
            .map(|spec| spec.parse::<Credential>())
            .collect::<Result<_, _>>()?;
        config.precompressed = self.precompressed;
        config.compress = self.compress;
        config.compress_min_size = self.compress_min_size;
        config.compress_cache_size = self.compress_cache_size;
        config.acceptor_nice = self.acceptor_nice;
        config.access_log = !self.quiet;
        config.access_log_file = self.access_log.clone();
        config.log_format = self.log_format;
        config.proxy_protocol = self.proxy_protocol;
        config.admin = self.admin;
        config.health_delay = Duration::from_secs(self.health_delay);
        config.tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ if self.tls_self_signed => Some(TlsSource::SelfSigned),
            _ => None,
        };
        Ok(config)
    }
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) if !err.use_stderr() => {
            // --help and --version
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // clap's message is a paragraph, then usage hints; the paragraph
            // says it all. A value with a line break in it stays on one line.
            let message = err.render().to_string();
            let first = message.split("\n\n").next().unwrap_or("invalid arguments");
            let first = first.trim_end().replace('\n', "\\n").replace('\r', "\\r");
            eprintln!("{first}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    init_logging(args.log_level);
    // Started by a previous generation's upgrade: it waits for our word.
    let ready = ReadyNotice::take();

    let config = match args.config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(err) = config.validate() {
        eprintln!("error: {err}");
        return ExitCode::from(EXIT_USAGE);
    }
    let workers = config.workers;
    // From here on SIGINT, SIGTERM, SIGHUP and SIGUSR2 no longer kill the
    // process: one that comes while the server starts waits for the
    // handler thread (a `systemctl reload` or a logrotate run right after
    // the start).
    let signals = match Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR2]) {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("error: cannot install the signal handlers: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let server = match Server::bind(config) {
        Ok(server) => server,
        // A --bind name that resolves to nothing is the user's to fix.
        Err(err @ (Error::Config(_) | Error::Resolve { .. })) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // Signals are handled from before the PID file and the Serving line
    // on, so one sent as soon as either appears is acted on, not a kill.
    let upgrader = match server.upgrader() {
        Ok(upgrader) => upgrader,
        Err(err) => {
            eprintln!("error: cannot find this program's path for upgrades: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let handles = Handles {
        shutdown: server.shutdown_handle(),
        reload: server.reload_handle(),
        upgrader,
    };
    if let Err(err) = handle_signals(signals, handles, args.pid_file.clone()) {
        eprintln!("error: cannot start the signal thread: {err}");
        return ExitCode::from(EXIT_FAILURE);
    }
    if let (true, Some(fingerprint)) = (args.tls_self_signed, server.tls_fingerprint()) {
        log::info!(
            "TLS: a self-signed certificate for {}; SHA-256 fingerprint {fingerprint}",
            server.tls_self_signed_names().join(", ")
        );
    }
    let urls: Vec<String> = (server.local_addrs().iter())
        .map(|addr| url(server.scheme(), addr))
        .collect();
    let serving = format!(
        "Serving {} at {} with {}",
        args.root.display(),
        listed(&urls),
        count(workers as u64, "worker")
    );
    let admin = server.admin_addr();
    let mut pid_file = None;
    // Once the workers are up, just before the first accept: a script that
    // reads the PID file or the Serving line may signal us at once, and a
    // previous generation hands over when told.
    let served = server.run_with(|| {
        pid_file = args.pid_file.as_deref().map(PidFile::write).transpose()?;
        eprintln!("{serving}");
        if let Some(admin) = admin {
            eprintln!("Health and metrics at http://{admin}/health and http://{admin}/metrics");
        }
        ready.send();
        Ok(())
    });

    match served {
        Ok(summary) => {
            log::info!(
                "served {}, sent {}, up {:.1}s",
                count(summary.requests, "request"),
                count(summary.bytes_sent, "byte"),
                summary.uptime.as_secs_f64()
            );
            if summary.abandoned > 0 {
                log::warn!(
                    "shutdown timeout: abandoned {}",
                    count(summary.abandoned as u64, "open connection")
                );
                return ExitCode::from(EXIT_FAILURE);
            }
            ExitCode::SUCCESS
        }
        Err(Error::Start(why)) => {
            eprintln!("error: {why}");
            ExitCode::from(EXIT_FAILURE)
        }
        Err(err) => {
            log::error!("{err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `--pid-file`: the PID and a newline, written whole (a new temporary
/// file, never one that was there, renamed into place, so a reader never
/// sees half of it); removed when dropped, at exit, if it still names us.
struct PidFile {
    path: PathBuf,
}

impl PidFile {
    fn write(path: &Path) -> Result<PidFile, String> {
        let fail =
            |err: std::io::Error| format!("cannot write the PID file '{}': {err}", path.display());
        let pid = std::process::id();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{pid}.tmp"));
        // create_new: never follow a link or truncate a file someone put there.
        let written = std::fs::File::create_new(&tmp)
            .and_then(|mut file| file.write_all(format!("{pid}\n").as_bytes()));
        if let Err(err) = written.and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(err));
        }
        Ok(PidFile {
            path: path.to_owned(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        remove_pid_file(&self.path);
    }
}

/// Removes the PID file if it names this process (a newer process may
/// have written its own there since).
fn remove_pid_file(path: &Path) {
    let ours = format!("{}\n", std::process::id());
    if std::fs::read_to_string(path).is_ok_and(|content| content == ours) {
        let _ = std::fs::remove_file(path);
    }
}

/// Where a client reaches a listener: `http://127.0.0.1:8000/`,
/// `https://[::1]:8443/`, `unix:/run/sws.sock` (`unix:/run/sws.sock
/// (https)` with TLS).
fn url(scheme: &str, addr: &ListenAddr) -> String {
    match addr {
        ListenAddr::Tcp(addr) => format!("{scheme}://{addr}/"),
        ListenAddr::Unix(_) if scheme == "https" => format!("{addr} ({scheme})"),
        ListenAddr::Unix(_) => addr.to_string(),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
    }
}

/// `1 request`, `2 requests`.
fn count(n: u64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

/// A size in bytes, with an optional binary suffix: `1024`, `1K`, `64M`, `1G`.
fn parse_size(value: &str) -> Result<u64, String> {
    let expected = || "expected a number of bytes, like 1024, 64K, 64M or 1G".to_owned();
    let (digits, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => value.split_at(at),
        None => (value, ""),
    };
    let shift = match unit {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        _ => return Err(expected()),
    };
    let number: u64 = digits.parse().map_err(|_| expected())?;
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| "too large".to_owned())
}

/// `--unix-socket-mode`: octal digits, like `660` or `0660`. The range
/// (at most 777) is checked with the rest of the configuration.
fn parse_mode(value: &str) -> Result<u32, String> {
    let digits = value.strip_prefix("0o").unwrap_or(value);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if !digits.starts_with('+') => Ok(mode),
        _ => Err("expected an octal mode, like 660 or 0600".into()),
    }
}

/// A header value must be visible ASCII and spaces: no CR/LF (no header
/// injection), no control characters.
fn parse_header_value(value: &str) -> Result<String, String> {
    if !value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        return Err("expected printable ASCII, like \"max-age=3600\"".into());
    }
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Err("expected a value, like \"max-age=3600\"".into());
    }
    Ok(value.to_owned())
}

/// What the signals act on.
struct Handles {
    shutdown: ShutdownHandle,
    reload: ReloadHandle,
    upgrader: Upgrader,
}

/// SIGINT and SIGTERM: a graceful shutdown (SIGTERM after
/// `--health-delay`), and a second one exits at once. SIGHUP: reopen the
/// access log, reload the TLS certificate and key. SIGUSR2: start a new
/// generation and hand over to it. Handled on a thread of their own,
/// outside any signal handler.
fn handle_signals(
    mut signals: Signals,
    handles: Handles,
    pid_file: Option<PathBuf>,
) -> std::io::Result<()> {
    let Handles {
        shutdown,
        reload,
        upgrader,
    } = handles;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut stopping = false;
            for signal in signals.forever() {
                match signal {
                    SIGHUP => {
                        log::info!("SIGHUP: reloading");
                        // The outcome is logged; the server goes on either way.
                        let _ = reload.reload();
                    }
                    SIGUSR2 => start_upgrade(&upgrader),
                    SIGTERM if !stopping => {
                        stopping = true;
                        log::info!("SIGTERM: shutting down gracefully (again to exit at once)");
                        shutdown.shutdown_after_health_delay();
                    }
                    _ if !stopping => {
                        stopping = true;
                        log::info!(
                            "signal received: shutting down gracefully (again to exit at once)"
                        );
                        shutdown.shutdown();
                    }
                    _ => {
                        log::warn!("second signal: exiting now");
                        // `exit` runs no destructors: the PID file goes here.
                        if let Some(path) = &pid_file {
                            remove_pid_file(path);
                        }
                        std::process::exit(EXIT_INTERRUPTED);
                    }
                }
            }
        })?;
    Ok(())
}

/// SIGUSR2: starts the next generation on a thread of its own (it may take
/// up to 10 s to be ready), so the other signals are still heard meanwhile.
fn start_upgrade(upgrader: &Upgrader) {
    let upgrader = upgrader.clone();
    let spawned = thread::Builder::new()
        .name("upgrade".into())
        .spawn(move || match upgrader.upgrade() {
            Ok(_) => {}
            Err(err @ (UpgradeError::InProgress | UpgradeError::ShuttingDown)) => {
                log::warn!("SIGUSR2 ignored: {err}")
            }
            Err(err) => log::error!("upgrade failed: {err}; still serving"),
        });
    if let Err(err) = spawned {
        log::error!("upgrade failed: cannot start its thread: {err}; still serving");
    }
}

/// Diagnostics to stderr (the access log writes for itself).
fn init_logging(level: LevelFilter) {
    let mut diagnostics = ConfigBuilder::new();
    diagnostics
        .set_thread_level(LevelFilter::Off)
        .set_target_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off);
    if level < LevelFilter::Debug {
        // rustls warns about what clients send (an IP address as the SNI
        // name, for one: wrk does that): any client could write a line per
        // connection. Our own log says what matters about a connection.
        diagnostics.add_filter_ignore_str("rustls");
    }
    // Only fails if a logger is already set, which main never does.
    let _ = WriteLogger::init(level, diagnostics.build(), std::io::stderr());
}
