//! Every setting, with its default and its validation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::access_log::LogFormat;
use crate::auth::Credential;
use crate::compress::{self, CompressLevel};
use crate::cors;
use crate::policy::{self, HeaderField};
use crate::tls::TlsSource;

/// The longest any timeout may be (one day): deadlines are computed as
/// `now + timeout`, which must not overflow.
pub const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// The most nice steps the acceptor may go below the workers (the range of
/// nice values is 40 steps, from -20 to 19).
pub const MAX_ACCEPTOR_NICE: u8 = 19;

/// The most workers a server may be asked to run.
pub const MAX_WORKERS: usize = 1024;

/// The permissions of a Unix socket bound by default
/// (`--unix-socket-mode`): every local user may connect, as to a loopback
/// TCP port (systemd's `SocketMode=` default too).
pub const DEFAULT_UNIX_SOCKET_MODE: u32 = 0o666;

/// Where to listen (`--bind`): all of them share [`Config::port`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    /// An IP address: `127.0.0.1`, `::1`, `0.0.0.0`, `::` (which takes
    /// IPv4 connections too, unless an IPv4 address is bound beside it).
    Ip(IpAddr),
    /// A host name (`localhost`), resolved when the server binds: every
    /// address it resolves to is bound.
    Host(String),
    /// A Unix socket's path (`unix:/run/sws.sock`), for a reverse proxy on
    /// the same machine; its permissions are
    /// [`Config::unix_socket_mode`].
    Unix(PathBuf),
}

impl Bind {
    /// What `--bind` accepts, for error messages.
    const EXPECTED: &'static str = "an IP address (127.0.0.1, ::1, 0.0.0.0, ::), a host name (localhost) \
         or unix:PATH";

    /// Checks a value built by a library user as the parser checks flags.
    fn check(&self) -> Result<(), String> {
        match self {
            Bind::Ip(_) => Ok(()),
            Bind::Host(name) if is_host_name(name) => Ok(()),
            Bind::Host(_) => Err(Bind::EXPECTED.into()),
            Bind::Unix(path) if path.as_os_str().is_empty() => {
                Err("a path after unix:, like unix:/run/sws.sock".into())
            }
            // A NUL, or a path longer than a socket address holds (about
            // 100 bytes).
            Bind::Unix(path) => std::os::unix::net::SocketAddr::from_pathname(path)
                .map(drop)
                .map_err(|err| format!("a path a Unix socket can have ({err})")),
        }
    }
}

impl FromStr for Bind {
    type Err = String;

    /// `127.0.0.1`, `::1`, `[::1]`, `localhost`, `unix:/run/sws.sock`.
    fn from_str(s: &str) -> Result<Bind, String> {
        let bind = if let Some(path) = s.strip_prefix("unix:") {
            Bind::Unix(path.into())
        } else {
            let unbracketed = s
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(s);
            match unbracketed.parse::<IpAddr>() {
                Ok(ip) => Bind::Ip(ip),
                Err(_) => Bind::Host(s.into()),
            }
        };
        bind.check()
            .map_err(|expected| format!("expected {expected}"))?;
        Ok(bind)
    }
}

impl fmt::Display for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bind::Ip(ip) => ip.fmt(f),
            Bind::Host(name) => f.write_str(name),
            Bind::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Whether `name` is a DNS host name: dot-separated labels of ASCII
/// letters, digits and inner hyphens, 63 bytes each, 253 in all (a final
/// dot allowed).
fn is_host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// How a server is set up. Build one with [`Config::new`] and adjust the
/// public fields; [`Config::validate`] (called by `Server::bind`) checks them.
#[derive(Clone, Debug)]
pub struct Config {
    /// The directory whose files are served.
    pub root: PathBuf,
    /// Where to listen (`--bind`, repeatable): IP addresses, host names
    /// and Unix sockets, one listener for each (every address of a name).
    /// Unused when sockets are passed by `LISTEN_FDS`.
    pub binds: Vec<Bind>,
    /// Port of every TCP address in [`binds`](Config::binds); `0` picks a
    /// free one, the same for all.
    pub port: u16,
    /// Permissions of the Unix sockets bound (`--unix-socket-mode`, from
    /// `0o000` to `0o777`); [`DEFAULT_UNIX_SOCKET_MODE`] by default.
    /// Connecting needs write permission.
    pub unix_socket_mode: u32,
    /// Number of worker threads, 1 to [`MAX_WORKERS`].
    pub workers: usize,
    /// How long a graceful shutdown may take before the rest is abandoned.
    pub shutdown_timeout: Duration,
    /// Time from the first byte of a request to the end of its headers.
    pub header_timeout: Duration,
    /// Idle time allowed between two requests on a keep-alive connection.
    pub keepalive_timeout: Duration,
    /// Time allowed without any write progress on a response.
    pub write_timeout: Duration,
    /// Open connections the server holds at most; the acceptor waits beyond it.
    pub max_connections: usize,
    /// Serve and list dotfiles (`.git`, `.env`, …).
    pub show_hidden: bool,
    /// A folder without an index file is a `404`, like a missing path,
    /// instead of a listing (`--no-listing`).
    pub no_listing: bool,
    /// The file names served for a folder, in order: the first that is a
    /// regular file there (`--index`; `index.html`, then `index.htm`).
    /// Each is a plain file name. Empty: every folder is listed.
    pub index: Vec<String>,
    /// A single-page app (`--spa`): a missing path that looks like a page
    /// (no extension, or a browser asking for HTML) gets the root's index
    /// file with `200`, so the app's own routes work when loaded directly.
    pub spa: bool,
    /// Write one access-log line per response.
    pub access_log: bool,
    /// The access log's file (`--access-log`): appended to, reopened on
    /// [`ReloadHandle::reload`](crate::ReloadHandle::reload); stdout when `None`.
    pub access_log_file: Option<PathBuf>,
    /// How access-log lines look (`--log-format`).
    pub log_format: LogFormat,
    /// `Cache-Control` value sent with file responses (none by default).
    pub cache_control: Option<String>,
    /// Fields added to every response of the public listener (`--header`),
    /// in this order; not the ones the server sets itself.
    pub headers: Vec<HeaderField>,
    /// `--cors`: every response of the public listener says
    /// `Access-Control-Allow-Origin` with this value (`*`, `null` or one
    /// origin), and CORS preflights are answered; off when `None`.
    pub cors: Option<String>,
    /// `--auth`: everything on the public listener asks for HTTP Basic
    /// credentials of one of these users; off when empty.
    pub auth: Vec<Credential>,
    /// Serve `FILE.br` / `FILE.gz` instead of `FILE` to clients that accept them.
    pub precompressed: bool,
    /// Compress text-like files on the fly (brotli, zstd, gzip), once per
    /// file version, at these levels; `Off` turns it off.
    pub compress: CompressLevel,
    /// Files smaller than this are sent as they are.
    pub compress_min_size: u64,
    /// Bytes of compressed variants kept, all workers together.
    pub compress_cache_size: u64,
    /// How many nice steps (0 to [`MAX_ACCEPTOR_NICE`]) below the workers
    /// the acceptor runs, so that it yields to them and to clients on the
    /// same machine and takes new connections in batches. `Server::run`
    /// lowers the priority of the thread that calls it (that thread is the
    /// acceptor) and restores it on return where the system allows raising
    /// it again (root, `CAP_SYS_NICE` or `RLIMIT_NICE`); `0` leaves the
    /// thread alone. Linux only: elsewhere a nice value belongs to the
    /// whole process, and the acceptor keeps the workers' priority.
    pub acceptor_nice: u8,
    /// Every connection starts with a PROXY protocol header (v1 or v2) from
    /// a load balancer, whose client address the access log shows.
    pub proxy_protocol: bool,
    /// Speak HTTPS with this certificate and key; plain HTTP when `None`.
    pub tls: Option<TlsSource>,
    /// The admin listener's address (`/health`, `/metrics`); none when
    /// `None`, unless one is passed by `LISTEN_FDS`.
    pub admin: Option<SocketAddr>,
    /// How long [`ShutdownHandle::shutdown_after_health_delay`] reports 503
    /// on `/health` while still serving, before it drains.
    ///
    /// [`ShutdownHandle::shutdown_after_health_delay`]: crate::ShutdownHandle::shutdown_after_health_delay
    pub health_delay: Duration,
}

impl Config {
    /// The defaults, serving `root`.
    pub fn new(root: impl Into<PathBuf>) -> Config {
        Config {
            root: root.into(),
            binds: vec![Bind::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))],
            port: 8000,
            unix_socket_mode: DEFAULT_UNIX_SOCKET_MODE,
            workers: num_cpus::get().clamp(1, MAX_WORKERS),
            shutdown_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            show_hidden: false,
            no_listing: false,
            index: vec!["index.html".into(), "index.htm".into()],
            spa: false,
            access_log: true,
            access_log_file: None,
            log_format: LogFormat::Common,
            cache_control: None,
            headers: Vec::new(),
            cors: None,
            auth: Vec::new(),
            precompressed: false,
            compress: CompressLevel::Default,
            compress_min_size: 1024,
            compress_cache_size: 64 * 1024 * 1024,
            acceptor_nice: 10,
            proxy_protocol: false,
            tls: None,
            admin: None,
            health_delay: Duration::ZERO,
        }
    }

    /// Checks every value; the error says which one is wrong and what is accepted.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.binds.is_empty() {
            return Err(ConfigError::new(
                "--bind",
                String::new(),
                "at least one address".into(),
            ));
        }
        for bind in &self.binds {
            bind.check().map_err(|expected| {
                ConfigError::new(
                    "--bind",
                    bind.to_string().escape_debug().to_string(),
                    expected,
                )
            })?;
        }
        if self.unix_socket_mode > 0o777 {
            return Err(ConfigError::new(
                "--unix-socket-mode",
                format!("{:o}", self.unix_socket_mode),
                UNIX_SOCKET_MODE_EXPECTED.into(),
            ));
        }
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            return Err(ConfigError::new(
                "--workers",
                self.workers.to_string(),
                format!("a number from 1 to {MAX_WORKERS}"),
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::new(
                "--max-connections",
                "0".into(),
                "a number of at least 1".into(),
            ));
        }
        if self.acceptor_nice > MAX_ACCEPTOR_NICE {
            return Err(ConfigError::new(
                "--acceptor-nice",
                self.acceptor_nice.to_string(),
                format!("a number from 0 to {MAX_ACCEPTOR_NICE}"),
            ));
        }
        if let Some(value) = &self.cache_control
            && (value.trim().is_empty()
                || !value
                    .bytes()
                    .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic()))
        {
            // It goes into response heads as it is: no CR/LF, no controls.
            return Err(ConfigError::new(
                "--cache-control",
                value.escape_debug().to_string(),
                "printable ASCII, like \"max-age=3600\"".into(),
            ));
        }
        if let Some(name) = self.index.iter().find(|name| !is_file_name(name)) {
            return Err(ConfigError::new(
                "--index",
                name.escape_debug().to_string(),
                "a file name without '/', like index.html".into(),
            ));
        }
        if let Err((field, expected)) = policy::check_fields(&self.headers) {
            return Err(ConfigError::new("--header", field, expected));
        }
        if let Some(origin) = &self.cors
            && !cors::valid_origin(origin)
        {
            return Err(ConfigError::new(
                "--cors",
                origin.escape_debug().to_string(),
                cors::EXPECTED.into(),
            ));
        }
        for (i, credential) in self.auth.iter().enumerate() {
            credential.check()?;
            let user = credential.user();
            if self.auth[..i].iter().any(|c| c.user() == user) {
                return Err(ConfigError::new(
                    "--auth",
                    format!("{}:…", user.escape_debug()),
                    "each user once".into(),
                ));
            }
        }
        if self.compress_min_size > compress::MAX_SIZE {
            return Err(ConfigError::new(
                "--compress-min-size",
                self.compress_min_size.to_string(),
                format!(
                    "at most {} (16M): larger files are never compressed",
                    compress::MAX_SIZE
                ),
            ));
        }
        let timeouts = [
            ("--header-timeout", self.header_timeout, 1),
            ("--keepalive-timeout", self.keepalive_timeout, 1),
            ("--write-timeout", self.write_timeout, 1),
            ("--shutdown-timeout", self.shutdown_timeout, 0),
            ("--health-delay", self.health_delay, 0),
        ];
        for (flag, value, min) in timeouts {
            if value.as_secs() < min || value > Duration::from_secs(MAX_TIMEOUT_SECS) {
                return Err(ConfigError::new(
                    flag,
                    value.as_secs().to_string(),
                    format!("a number of seconds from {min} to {MAX_TIMEOUT_SECS}"),
                ));
            }
        }
        Ok(())
    }
}

/// What `--unix-socket-mode` accepts.
pub const UNIX_SOCKET_MODE_EXPECTED: &str =
    "an octal mode from 000 to 777, like 660 (connecting needs write permission)";

/// Whether `name` names a file in a folder: not empty, not `.` or `..`, no
/// `/` (nor a NUL, which no path can hold).
fn is_file_name(name: &str) -> bool {
    !matches!(name, "" | "." | "..") && !name.contains(['/', '\0'])
}

/// A setting with a value that is not accepted.
#[derive(Debug)]
pub struct ConfigError {
    flag: &'static str,
    value: String,
    expected: String,
}

impl ConfigError {
    pub(crate) fn new(flag: &'static str, value: String, expected: String) -> ConfigError {
        ConfigError {
            flag,
            value,
            expected,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} value '{}': expected {}",
            self.flag, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Config::new(".").validate().is_ok());
    }

    #[test]
    fn index_names_table() {
        let cases = [
            ("index.html", true),
            ("home.htm", true),
            ("...", true),
            (".index", true),
            ("with space", true),
            ("", false),
            (".", false),
            ("..", false),
            ("/index.html", false),
            ("sub/index.html", false),
            ("a\0b", false),
        ];
        for (name, valid) in cases {
            assert_eq!(is_file_name(name), valid, "{name:?}");
        }
    }

    #[test]
    fn binds_table() {
        let ip = |s: &str| Ok(Bind::Ip(s.parse().unwrap()));
        let host = |s: &str| Ok(Bind::Host(s.into()));
        let cases = [
            ("127.0.0.1", ip("127.0.0.1")),
            ("::1", ip("::1")),
            ("[::1]", ip("::1")),
            ("::", ip("::")),
            ("::ffff:127.0.0.1", ip("::ffff:127.0.0.1")),
            ("localhost", host("localhost")),
            ("localhost.", host("localhost.")),
            ("www.example.com", host("www.example.com")),
            ("xn--bcher-kva.example", host("xn--bcher-kva.example")),
            ("unix:/run/sws.sock", Ok(Bind::Unix("/run/sws.sock".into()))),
            ("unix:sws.sock", Ok(Bind::Unix("sws.sock".into()))),
            ("", Err("an IP address")),
            ("unix:", Err("a path after unix:")),
            ("127.0.0.1:8000", Err("an IP address")),
            ("[::1]:8000", Err("an IP address")),
            ("-bad.example", Err("an IP address")),
            ("a..b", Err("an IP address")),
            ("host name", Err("an IP address")),
            ("http://localhost", Err("an IP address")),
        ];
        for (input, expected) in cases {
            match (input.parse::<Bind>(), expected) {
                (Ok(bind), Ok(want)) => assert_eq!(bind, want, "{input:?}"),
                (Err(err), Err(start)) => {
                    assert!(
                        err.starts_with(&format!("expected {start}")),
                        "{input:?}: {err}"
                    )
                }
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
        let long = format!("unix:/{}", "a".repeat(200));
        assert!(
            long.parse::<Bind>()
                .unwrap_err()
                .contains("a path a Unix socket can have")
        );
    }

    #[test]
    fn rejects_out_of_range_values() {
        type Case = (&'static str, fn(&mut Config));
        let cases: [Case; 23] = [
            ("--bind", |c| c.binds = Vec::new()),
            ("--bind", |c| c.binds = vec![Bind::Host("a b".into())]),
            ("--bind", |c| c.binds = vec![Bind::Unix("".into())]),
            ("--bind", |c| {
                c.binds = vec![Bind::Unix(format!("/{}", "a".repeat(200)).into())]
            }),
            ("--unix-socket-mode", |c| c.unix_socket_mode = 0o1777),
            ("--workers", |c| c.workers = 0),
            ("--workers", |c| c.workers = MAX_WORKERS + 1),
            ("--max-connections", |c| c.max_connections = 0),
            ("--header-timeout", |c| c.header_timeout = Duration::ZERO),
            ("--keepalive-timeout", |c| {
                c.keepalive_timeout = Duration::MAX
            }),
            ("--shutdown-timeout", |c| {
                c.shutdown_timeout = Duration::from_secs(MAX_TIMEOUT_SECS + 1)
            }),
            ("--health-delay", |c| {
                c.health_delay = Duration::from_secs(MAX_TIMEOUT_SECS + 1)
            }),
            ("--cache-control", |c| {
                c.cache_control = Some("max-age=1\r\nX-Injected: 1".into())
            }),
            ("--compress-min-size", |c| c.compress_min_size = u64::MAX),
            ("--index", |c| {
                c.index = vec!["index.html".into(), "a/b".into()]
            }),
            ("--index", |c| c.index = vec!["".into()]),
            ("--index", |c| c.index = vec!["..".into()]),
            ("--index", |c| c.index = vec![".".into()]),
            ("--header", |c| {
                c.headers = vec![HeaderField::new("X-A", "1\r\nX-Injected: 1")]
            }),
            ("--header", |c| {
                c.headers = vec![HeaderField::new("Content-Length", "1")]
            }),
            ("--cors", |c| c.cors = Some("https://example.com/".into())),
            ("--auth", |c| {
                c.auth = vec![Credential::new("a:b", "secret")]
            }),
            ("--auth", |c| {
                c.auth = vec![Credential::new("a", "x"), Credential::new("a", "y")]
            }),
        ];
        for (flag, change) in cases {
            let mut config = Config::new(".");
            change(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.starts_with(&format!("invalid {flag} value")), "{err}");
        }
    }
}
