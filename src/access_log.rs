//! One access-log line per response, to stdout or a file, in Common Log
//! Format, nginx's combined format, or JSON. The file is reopened on
//! request (SIGHUP), so logrotate can move it away.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::http::Request;
use crate::stream::Peer;

/// How each line looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `127.0.0.1 - - [24/Nov/2026:06:52:49 +0000] "GET /a.txt HTTP/1.1" 200 1024`
    #[default]
    Common,
    /// Common, then `"Referer" "User-Agent"` (nginx's default, Apache's
    /// `combined`).
    Combined,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Whether lines show the `Referer` and `User-Agent` headers.
    pub fn wants_agent(self) -> bool {
        self != LogFormat::Common
    }
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "common" => Ok(LogFormat::Common),
            "combined" => Ok(LogFormat::Combined),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected common, combined or json".into()),
        }
    }
}

/// What a line says about one request and its response.
pub struct Entry<'a> {
    /// Shown as its IP address, or `unix` (see [`Client`]).
    pub peer: Peer,
    /// The worker clock's `clf_date` or `iso_date`, as the format needs.
    pub clf_date: &'a str,
    pub iso_date: &'a str,
    pub request: &'a Logged,
    pub status: u16,
    pub body_bytes: u64,
    /// From the end of the request's head to the end of the response.
    pub duration: Duration,
}

/// What the access log keeps of a request, already escaped for a quoted
/// field (see [`sanitize`]).
#[derive(Debug)]
pub struct Logged {
    pub request: RequestLine,
    /// The user an `--auth` request was let in as (CLF's `authuser`).
    pub user: Option<String>,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
}

/// The request as the log shows it.
#[derive(Debug)]
pub enum RequestLine {
    /// Method, target and protocol of a request that parsed.
    Parsed {
        method: String,
        target: String,
        protocol: &'static str,
    },
    /// The first line of what a client sent that did not parse.
    Unparsed(String),
}

impl Logged {
    /// A request that parsed; `head` holds its bytes (where `request`'s
    /// header positions point).
    pub fn parsed(request: &Request, head: &[u8], format: LogFormat) -> Logged {
        let version = request.version.as_str();
        // The target may hold quotes; escape it like any other. It is
        // logged whole (the parser bounds it at 8 KiB): a cut could hide
        // the end of a path.
        let (method, target) = (
            sanitize(request.method_name.as_bytes()),
            sanitize_up_to(request.target.as_bytes(), usize::MAX),
        );
        let header = |range: &Option<std::ops::Range<usize>>| {
            range
                .clone()
                .filter(|_| format.wants_agent())
                .and_then(|range| head.get(range))
                .map(|value| sanitize_up_to(value, MAX_HEADER_LOGGED))
        };
        Logged {
            request: RequestLine::Parsed {
                method,
                target,
                protocol: version,
            },
            user: None,
            referer: header(&request.referer),
            user_agent: header(&request.user_agent),
        }
    }

    /// The request was let in as `user` (a configured name, never what a
    /// client sent that failed). A space is escaped too: in Common Log
    /// Format the field is not quoted.
    pub fn set_user(&mut self, user: &str) {
        self.user = Some(sanitize(user.as_bytes()).replace(' ', "\\x20"));
    }

    /// A request that did not parse (or never completed): what there is
    /// of its first line, escaped.
    pub fn unparsed(line: String) -> Logged {
        Logged {
            request: RequestLine::Unparsed(line),
            user: None,
            referer: None,
            user_agent: None,
        }
    }
}

/// Where lines go: stdout or a file, shared by the workers. A line is one
/// `write` under a lock, so lines from different workers never interleave.
pub struct AccessLog {
    format: LogFormat,
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
    /// Writes are failing (a full disk, say): said once when it starts,
    /// and once when it stops, not once per line.
    failing: AtomicBool,
}

impl AccessLog {
    /// Lines to `path` (appended; created if missing), or to stdout.
    pub fn open(path: Option<&Path>, format: LogFormat) -> io::Result<AccessLog> {
        let file = path.map(open_append).transpose()?;
        Ok(AccessLog {
            format,
            path: path.map(Path::to_owned),
            file: Mutex::new(file),
            failing: AtomicBool::new(false),
        })
    }

    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Opens the file again by its path (after logrotate moved it away),
    /// and writes there from now on. On error the old file stays in use.
    /// Returns the path, if there is a file.
    pub fn reopen(&self) -> io::Result<Option<&Path>> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let file = open_append(path)?;
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
        Ok(Some(path))
    }

    /// Writes one line. Failed writes are reported when they start and when
    /// they stop (a warning, then a note), never per line: a full disk must
    /// neither take the server down nor flood its diagnostics.
    pub fn write(&self, entry: &Entry) {
        thread_local! {
            // Each worker formats its lines in one buffer, kept.
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        LINE.with_borrow_mut(|line| {
            line.clear();
            render(self.format, entry, line);
            line.push('\n');
            let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
            let written = match file.as_mut() {
                Some(file) => file.write_all(line.as_bytes()),
                None => io::stdout().lock().write_all(line.as_bytes()),
            };
            match written {
                Err(err) if !self.failing.swap(true, Ordering::Relaxed) => {
                    log::warn!("cannot write the access log: {err}; lines are lost until it works");
                }
                Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                    log::info!("writing the access log again");
                }
                _ => {}
            }
        });
    }
}

/// One line, without its newline.
fn render(format: LogFormat, entry: &Entry, line: &mut String) {
    match format {
        LogFormat::Common => common(entry, line),
        LogFormat::Combined => {
            common(entry, line);
            let _ = write!(
                line,
                " \"{}\" \"{}\"",
                entry.request.referer.as_deref().unwrap_or("-"),
                entry.request.user_agent.as_deref().unwrap_or("-")
            );
        }
        LogFormat::Json => json(entry, line),
    }
}

/// The client field: the IP address without the port, as CLF has it, or
/// `unix` for a client of a Unix socket (a local proxy that sent no PROXY
/// header naming the real client).
struct Client(Peer);

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.ip() {
            Some(ip) => ip.fmt(f),
            None => f.write_str("unix"),
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// A body of zero bytes is logged as `-`, as Apache's `%b` does.
fn common(entry: &Entry, line: &mut String) {
    let user = entry.request.user.as_deref().unwrap_or("-");
    let _ = write!(
        line,
        "{} - {user} [{}] \"",
        Client(entry.peer),
        entry.clf_date
    );
    match &entry.request.request {
        RequestLine::Parsed {
            method,
            target,
            protocol,
        } => {
            let _ = write!(line, "{method} {target} {protocol}");
        }
        RequestLine::Unparsed(raw) => line.push_str(raw),
    }
    let _ = write!(line, "\" {} ", entry.status);
    if entry.body_bytes == 0 {
        line.push('-');
    } else {
        let _ = write!(line, "{}", entry.body_bytes);
    }
}

/// `{"time":…,"client":…,"user":…,"method":…,"target":…,"protocol":…,"status":…,
/// "bytes":…,"duration_ms":…,"referer":…,"user_agent":…}`; a request that
/// did not parse has `null` method, target and protocol and its first line
/// as `request`.
fn json(entry: &Entry, line: &mut String) {
    let request = entry.request;
    let _ = write!(
        line,
        "{{\"time\":\"{}\",\"client\":\"{}\",\"user\":",
        entry.iso_date,
        Client(entry.peer)
    );
    json_optional(&request.user, line);
    line.push(',');
    match &request.request {
        RequestLine::Parsed {
            method,
            target,
            protocol,
        } => {
            line.push_str("\"method\":");
            json_string(method, line);
            line.push_str(",\"target\":");
            json_string(target, line);
            let _ = write!(line, ",\"protocol\":\"{protocol}\",");
        }
        RequestLine::Unparsed(raw) => {
            line.push_str("\"method\":null,\"target\":null,\"protocol\":null,\"request\":");
            json_string(raw, line);
            line.push(',');
        }
    }
    let _ = write!(
        line,
        "\"status\":{},\"bytes\":{},\"duration_ms\":{:.3},\"referer\":",
        entry.status,
        entry.body_bytes,
        entry.duration.as_secs_f64() * 1000.0
    );
    json_optional(&request.referer, line);
    line.push_str(",\"user_agent\":");
    json_optional(&request.user_agent, line);
    line.push('}');
}

fn json_optional(value: &Option<String>, line: &mut String) {
    match value {
        Some(value) => json_string(value, line),
        None => line.push_str("null"),
    }
}

/// A JSON string of a value that [`sanitize`] escaped for a quoted log
/// field: undone first (`\"`, `\\`, `\xHH`), then escaped as JSON wants,
/// so a byte that is not valid UTF-8 becomes U+FFFD.
fn json_string(sanitized: &str, line: &mut String) {
    let raw = unsanitize(sanitized);
    line.push('"');
    for c in String::from_utf8_lossy(&raw).chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            // Control characters, and the line breaks of Unicode that tools
            // splitting lines might take for the end of one.
            c if (c as u32) < 0x20
                || c == '\u{7f}'
                || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') =>
            {
                let _ = write!(line, "\\u{:04x}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

/// The bytes [`sanitize`] was given (up to its cut).
fn unsanitize(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'x')) => {
                let hex = s
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(hex.unwrap_or(b'?'));
                i += 4;
            }
            (b'\\', Some(&c)) => {
                out.push(c);
                i += 2;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The request line (or a header value) as it can safely appear between
/// quotes in the log: for a request that did not parse, the first line of
/// what the client sent, cut short, with quotes, backslashes and control
/// bytes escaped.
pub fn sanitize(raw: &[u8]) -> String {
    sanitize_up_to(raw, MAX_LINE_LOGGED)
}

/// Bytes of a request line that did not parse, or a method, that are logged.
const MAX_LINE_LOGGED: usize = 200;
/// Bytes of a `Referer` or `User-Agent` value that are logged.
const MAX_HEADER_LOGGED: usize = 1024;

/// [`sanitize`] with a bound of `max` bytes of what was sent.
fn sanitize_up_to(raw: &[u8], max: usize) -> String {
    let line = raw
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or(raw);
    let mut out = String::with_capacity(line.len().min(max));
    for &b in line.iter().take(max) {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes() {
        assert_eq!(
            sanitize(b"GET /\"x\" HTTP/1.1\r\nHost: a"),
            "GET /\\\"x\\\" HTTP/1.1"
        );
        assert_eq!(sanitize(b"\x01\xff"), "\\x01\\xFF");
        assert_eq!(sanitize(&[b'a'; 500]).len(), 200);
    }

    #[test]
    fn json_strings_undo_the_log_escapes_and_escape_for_json() {
        let cases: [(&[u8], &str); 5] = [
            (b"plain", "\"plain\""),
            (b"a\"b\\c", "\"a\\\"b\\\\c\""),
            (b"tab\there\x01", "\"tab\\u0009here\\u0001\""),
            (b"\xc3\xa9 \xff", "\"\u{e9} \u{fffd}\""),
            ("a\u{2028}b\u{85}".as_bytes(), "\"a\\u2028b\\u0085\""),
        ];
        for (raw, expected) in cases {
            let mut line = String::new();
            json_string(&sanitize(raw), &mut line);
            assert_eq!(line, expected, "{raw:?}");
        }
    }

    #[test]
    fn formats() {
        let request = Logged {
            request: RequestLine::Parsed {
                method: "GET".into(),
                target: "/a".into(),
                protocol: "HTTP/1.1",
            },
            user: None,
            referer: Some("http://x/".into()),
            user_agent: None,
        };
        let entry = Entry {
            peer: Peer::tcp("127.0.0.1:50000".parse().unwrap()),
            clf_date: "24/Nov/2026:06:52:49 +0000",
            iso_date: "2026-11-24T06:52:49Z",
            request: &request,
            status: 200,
            body_bytes: 0,
            duration: Duration::from_micros(1500),
        };
        let line = |format| {
            let mut line = String::new();
            render(format, &entry, &mut line);
            line
        };
        assert_eq!(
            line(LogFormat::Common),
            "127.0.0.1 - - [24/Nov/2026:06:52:49 +0000] \"GET /a HTTP/1.1\" 200 -"
        );
        assert_eq!(
            line(LogFormat::Json),
            "{\"time\":\"2026-11-24T06:52:49Z\",\"client\":\"127.0.0.1\",\"user\":null,\
             \"method\":\"GET\",\"target\":\"/a\",\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":0,\
             \"duration_ms\":1.500,\"referer\":\"http://x/\",\"user_agent\":null}"
        );
        assert!(line(LogFormat::Combined).ends_with("200 - \"http://x/\" \"-\""));
        let unix = Entry {
            peer: Peer::Unix,
            ..entry
        };
        let mut line = String::new();
        render(LogFormat::Common, &unix, &mut line);
        assert!(line.starts_with("unix - - [24/Nov/2026"), "{line}");
        line.clear();
        render(LogFormat::Json, &unix, &mut line);
        assert!(line.contains(",\"client\":\"unix\","), "{line}");
    }

    #[test]
    fn the_user_is_the_third_field_and_a_json_key() {
        let mut request = Logged::unparsed("GET / HTTP/1.1".into());
        request.set_user("ann \"b\"");
        let entry = Entry {
            peer: Peer::tcp("127.0.0.1:50000".parse().unwrap()),
            clf_date: "24/Nov/2026:06:52:49 +0000",
            iso_date: "2026-11-24T06:52:49Z",
            request: &request,
            status: 200,
            body_bytes: 1,
            duration: Duration::ZERO,
        };
        let mut line = String::new();
        render(LogFormat::Common, &entry, &mut line);
        assert!(
            line.starts_with("127.0.0.1 - ann\\x20\\\"b\\\" [24/Nov/2026"),
            "{line}"
        );
        line.clear();
        render(LogFormat::Json, &entry, &mut line);
        assert!(line.contains(",\"user\":\"ann \\\"b\\\"\","), "{line}");
    }
}
