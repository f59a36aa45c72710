//! Directory listings: a directory's entries, read within bounds, sorted
//! as the query asks (folders first), and written as a small HTML page or
//! as JSON.

use std::cmp::Ordering;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{self, ReadDir};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::LazyLock;
use std::time::SystemTime;

use percent_encoding::percent_encode;

use crate::files::SEGMENT;
use crate::http::{SERVER, Utc};
use crate::representation;

/// A listing shows at most this many entries, so one huge directory cannot
/// stall its worker's other connections for long.
pub const MAX_ENTRIES: usize = 10_000;

/// Directory entries read at most for one listing, hidden ones included:
/// a directory of a million dotfiles costs no more than this.
const MAX_READ: usize = 100_000;

/// What a request asks of a listing: its format and its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub format: Format,
    pub key: SortKey,
    pub order: Order,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Size,
    Modified,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

impl SortKey {
    const ALL: [SortKey; 3] = [SortKey::Name, SortKey::Size, SortKey::Modified];

    fn token(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Modified => "modified",
        }
    }
}

impl Order {
    fn token(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

impl View {
    /// What `?sort=name|size|modified&order=asc|desc&format=html|json` and
    /// `Accept` ask for. The query's `format` wins over `Accept`; a missing
    /// or unknown value is the default (HTML, by name, ascending), and the
    /// first of repeated parameters counts.
    pub fn new(query: Option<&str>, accept: Option<&str>) -> View {
        let param = |name: &str| {
            query?
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value)
        };
        let format = match param("format") {
            Some("json") => Format::Json,
            Some("html") => Format::Html,
            _ if representation::prefers_json(accept) => Format::Json,
            _ => Format::Html,
        };
        let key = match param("sort") {
            Some("size") => SortKey::Size,
            Some("modified") => SortKey::Modified,
            _ => SortKey::Name,
        };
        let order = match param("order") {
            Some("desc") => Order::Desc,
            _ => Order::Asc,
        };
        View { format, key, order }
    }

    /// The view as a short tag (`html-name-asc`): a page goes into its
    /// ETag with the view that made it.
    pub fn tag(self) -> String {
        let format = match self.format {
            Format::Html => "html",
            Format::Json => "json",
        };
        format!("{format}-{}-{}", self.key.token(), self.order.token())
    }
}

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
}

/// One row of a listing.
#[derive(Debug)]
struct Entry {
    name: OsString,
    /// The name for people (invalid UTF-8 replaced).
    shown: String,
    /// `shown` folded for sorting by name (see [`natural`]).
    folded: String,
    kind: Kind,
    /// Listed with the folders, its link ending in `/`: a folder, or a
    /// symlink to one inside the root.
    is_dir: bool,
    /// Bytes, for a file (or a symlink to one inside the root); none for
    /// folders.
    size: Option<u64>,
    modified: Option<SystemTime>,
}

/// A directory's entries, read once and shown in any view.
#[derive(Debug)]
pub struct Listing {
    entries: Vec<Entry>,
    /// Some entries were left out: more than [`MAX_ENTRIES`] to show, or
    /// more than [`MAX_READ`] to read.
    truncated: bool,
}

impl Listing {
    /// Reads up to [`MAX_ENTRIES`] entries (and [`MAX_READ`] in all) in the
    /// order the file system gives them; dotfiles are left out unless
    /// `show_hidden`. `follow` describes what a symlink named so points
    /// to, and fails when that is outside the root: such a link is listed
    /// with neither size nor date, since we never describe a file we won't
    /// serve.
    pub fn read(
        entries: ReadDir,
        show_hidden: bool,
        follow: impl Fn(&OsStr) -> io::Result<fs::Metadata>,
    ) -> io::Result<Listing> {
        let mut listing = Listing {
            entries: Vec::new(),
            truncated: false,
        };
        for (read, entry) in entries.enumerate() {
            if read == MAX_READ {
                listing.truncated = true;
                break;
            }
            let entry = entry?;
            let name = entry.file_name();
            if !show_hidden && name.as_bytes().starts_with(b".") {
                continue;
            }
            if listing.entries.len() == MAX_ENTRIES {
                listing.truncated = true;
                break;
            }
            // An entry removed since the directory was read is left out.
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let shown = name.to_string_lossy().into_owned();
            let folded = fold(&shown);
            let entry = if meta.file_type().is_symlink() {
                match follow(&name) {
                    Ok(target) => Entry {
                        kind: Kind::Symlink,
                        is_dir: target.is_dir(),
                        size: (!target.is_dir()).then_some(target.len()),
                        modified: target.modified().ok(),
                        name,
                        shown,
                        folded,
                    },
                    Err(_) => Entry {
                        kind: Kind::Symlink,
                        is_dir: false,
                        size: None,
                        modified: None,
                        name,
                        shown,
                        folded,
                    },
                }
            } else {
                Entry {
                    kind: if meta.is_dir() { Kind::Dir } else { Kind::File },
                    is_dir: meta.is_dir(),
                    size: (!meta.is_dir()).then_some(meta.len()),
                    modified: meta.modified().ok(),
                    name,
                    shown,
                    folded,
                }
            };
            listing.entries.push(entry);
        }
        Ok(listing)
    }

    /// Sorts by `key` in `order`, folders first in every order; ties go
    /// by name, ascending. Names compare as people expect (see [`natural`]).
    pub fn sort(&mut self, key: SortKey, order: Order) {
        self.entries.sort_by(|a, b| {
            let by_key = match key {
                SortKey::Name => natural(&a.folded, &b.folded),
                SortKey::Size => a.size.cmp(&b.size),
                SortKey::Modified => a.modified.cmp(&b.modified),
            };
            let by_key = match order {
                Order::Asc => by_key,
                Order::Desc => by_key.reverse(),
            };
            b.is_dir
                .cmp(&a.is_dir)
                .then(by_key)
                .then_with(|| natural(&a.folded, &b.folded))
                .then_with(|| a.name.cmp(&b.name))
        });
    }

    /// The listing as a JSON array, one object per entry: `name`, `type`
    /// (`file`, `dir` or `symlink`), `size` (bytes; `null` for folders and
    /// for what we don't describe), `modified` (RFC 3339, UTC; `null` when
    /// unknown) and `url` (percent-encoded, relative to the listing; a
    /// folder's ends in `/`).
    pub fn json(&self) -> String {
        let mut out = String::with_capacity(8 + self.entries.len() * 128);
        out.push('[');
        for (i, entry) in self.entries.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str("{\"name\":");
            json_string(&entry.shown, &mut out);
            let kind = match entry.kind {
                Kind::File => "file",
                Kind::Dir => "dir",
                Kind::Symlink => "symlink",
            };
            let _ = write!(out, ",\"type\":\"{kind}\",\"size\":");
            match entry.size {
                Some(size) => {
                    let _ = write!(out, "{size}");
                }
                None => out.push_str("null"),
            }
            out.push_str(",\"modified\":");
            match entry.modified.and_then(Utc::of) {
                Some(utc) => {
                    let _ = write!(out, "\"{}\"", utc.rfc3339());
                }
                None => out.push_str("null"),
            }
            // Percent-encoded: ASCII only, nothing to escape.
            out.push_str(",\"url\":\"");
            for piece in url(entry) {
                out.push_str(piece);
            }
            out.push_str("\"}");
        }
        out.push_str("\n]\n");
        out
    }

    /// The listing as a small HTML page for the directory at `rel` (under
    /// the root), in `view`'s order: breadcrumbs, a summary, a filter box
    /// (shown by its script), and a table whose column headers sort it.
    pub fn html(&self, rel: &Path, view: View) -> String {
        let mut page = String::with_capacity(4096 + self.entries.len() * 240);
        let mut path = String::from("/");
        for segment in rel.iter() {
            path.push_str(&segment.to_string_lossy());
            path.push('/');
        }
        page.push_str(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"color-scheme\" content=\"light dark\">\n\
             <link rel=\"icon\" href=\"data:,\">\n<title>Index of ",
        );
        push_escaped(&mut page, &path);
        let _ = write!(
            page,
            "</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1 id=\"crumbs\">Index of "
        );
        breadcrumbs(rel, &mut page);
        page.push_str("</h1>\n<div id=\"bar\">");
        if !rel.as_os_str().is_empty() {
            page.push_str("<a href=\"../\" id=\"up\">↑ Parent folder</a>");
        }
        let _ = write!(page, "<span id=\"summary\">{}</span>", self.summary());
        page.push_str(
            "<input type=\"search\" id=\"filter\" placeholder=\"Filter by name\" \
             aria-label=\"Filter by name\" autocomplete=\"off\" hidden></div>\n\
             <table id=\"listing\">\n<thead><tr>",
        );
        for key in SortKey::ALL {
            header_cell(key, view, &mut page);
        }
        page.push_str("</tr></thead>\n<tbody>\n");
        for entry in &self.entries {
            row(entry, &mut page);
        }
        page.push_str("</tbody>\n</table>\n");
        if self.entries.is_empty() {
            page.push_str("<p class=\"note\">This folder is empty.</p>\n");
        }
        if self.truncated {
            let _ = writeln!(
                page,
                "<p class=\"note\">Only part of this folder is listed: {} entries at most.</p>",
                thousands(MAX_ENTRIES as u64)
            );
        }
        let _ = write!(
            page,
            "<footer>{SERVER} · <a href=\"?sort={}&amp;order={}&amp;format=json\">JSON</a>\
             </footer>\n<script>{SCRIPT}</script>\n</body></html>\n",
            view.key.token(),
            view.order.token()
        );
        page
    }

    /// `2 folders, 3 files, 12.3 KiB in total`
    fn summary(&self) -> String {
        let folders = self.entries.iter().filter(|e| e.is_dir).count();
        let files = self.entries.len() - folders;
        let bytes: u64 = self.entries.iter().filter_map(|e| e.size).sum();
        let mut summary = format!("{}, {}, ", count(folders, "folder"), count(files, "file"));
        push_size(&mut summary, bytes);
        summary.push_str(" in total");
        summary
    }
}

/// The stylesheet of a listing: light and dark, no horizontal scrolling on
/// a phone (names wrap anywhere; the date column goes below 36em), icons
/// as data URLs beside names that wrap under themselves. Its hash is in [`CONTENT_SECURITY_POLICY`].
const STYLE: &str = concat!(
    ":root{--fg:#1f2328;--bg:#fff;--mute:#656d76;--line:#d8dee4;--link:#0969da;--hover:#f6f8fa}",
    "@media(prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--mute:#8d96a0;",
    "--line:#30363d;--link:#4493f8;--hover:#161b22}}",
    "*{box-sizing:border-box}[hidden]{display:none!important}",
    "body{margin:0 auto;max-width:64em;padding:1em;",
    "font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;",
    "color:var(--fg);background:var(--bg)}",
    "a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}",
    "h1{font-size:1.3em;font-weight:600;margin:.3em 0 .6em;overflow-wrap:anywhere}",
    "#bar{display:flex;flex-wrap:wrap;align-items:center;gap:.5em 1.2em;color:var(--mute)}",
    "#filter{flex:1 1 10em;min-width:0;max-width:22em;font:inherit;padding:.3em .6em;",
    "color:inherit;background:transparent;border:1px solid var(--line);border-radius:6px}",
    "table{width:100%;margin-top:.6em;border-collapse:collapse;table-layout:fixed}",
    "th,td{padding:.4em .5em;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}",
    "th{font-weight:600;white-space:nowrap}th a{color:inherit}",
    "td:first-child{overflow-wrap:anywhere}.s{width:6.5em;text-align:right;white-space:nowrap}",
    ".m{width:9.5em;white-space:nowrap}tbody tr:hover{background:var(--hover)}",
    "td:first-child a{display:block;position:relative;padding-left:1.45em}",
    "td:first-child a::before{content:\"\";position:absolute;left:0;top:.25em;width:1em;",
    "height:1em;background:center/contain no-repeat ",
    "url(\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E",
    "%3Cpath fill='none' stroke='%238c959f' d='M3.5 1.5h6l3 3v10h-9z'/%3E%3C/svg%3E\")}",
    ".d td:first-child a::before{background-image:",
    "url(\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E",
    "%3Cpath fill='%2354aeff' d='M1 2.5h5l1.5 2H15v9H1z'/%3E%3C/svg%3E\")}",
    ".l td:first-child a{font-style:italic}",
    ".note,footer{color:var(--mute)}footer{margin-top:1.2em;font-size:.85em}",
    "@media(max-width:36em){.m{display:none}body{padding:.6em}}",
);

/// The filter box's script: shows the box, and hides the rows whose name
/// does not contain what is typed (case-insensitive). Without it the page
/// works as well, unfiltered. Its hash is in [`CONTENT_SECURITY_POLICY`].
const SCRIPT: &str = concat!(
    "{const f=document.getElementById(\"filter\"),",
    "rows=document.querySelectorAll(\"#listing tbody tr\");",
    "const run=()=>{const q=f.value.trim().toLowerCase();",
    "for(const r of rows)r.hidden=q!==\"\"&&!r.cells[0].textContent.toLowerCase().includes(q)};",
    "f.hidden=false;f.addEventListener(\"input\",run);run()}",
);

/// The `Content-Security-Policy` of a listing: nothing but its own
/// stylesheet and script (by their SHA-256, so the page can be cached) and
/// `data:` images; no other source, base URL or form target. Computed
/// once, on first use.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; img-src data:; \
         base-uri 'none'; form-action 'none'",
        sha256_source(STYLE),
        sha256_source(SCRIPT)
    )
});

/// A CSP hash source for an inline element's text: `sha256-BASE64`.
fn sha256_source(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    format!("sha256-{}", base64(digest.as_ref()))
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let triple = byte(0) << 16 | byte(1) << 8 | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(triple >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `<a>` for each segment of `/a/b/`, the root included: every level is a
/// link (absolute, so it works wherever the page is).
fn breadcrumbs(rel: &Path, page: &mut String) {
    let mut href = String::from("/");
    page.push_str("<a href=\"/\">/</a>");
    for segment in rel.iter() {
        href.extend(percent_encode(segment.as_bytes(), SEGMENT));
        href.push('/');
        page.push_str("<a href=\"");
        push_escaped(page, &href);
        page.push_str("\">");
        push_escaped(page, &segment.to_string_lossy());
        page.push_str("</a>/");
    }
}

/// A column header: a link that sorts by its column, ascending, or, on
/// the column sorted now, the other way; the active one shows an arrow.
fn header_cell(key: SortKey, view: View, page: &mut String) {
    let (label, class) = match key {
        SortKey::Name => ("Name", ""),
        SortKey::Size => ("Size", " class=\"s\""),
        SortKey::Modified => ("Modified (UTC)", " class=\"m\""),
    };
    let active = view.key == key;
    let next = match (active, view.order) {
        (true, Order::Asc) => Order::Desc,
        _ => Order::Asc,
    };
    let (sort, arrow) = match (active, view.order) {
        (false, _) => ("", ""),
        (true, Order::Asc) => (" aria-sort=\"ascending\"", " ↑"),
        (true, Order::Desc) => (" aria-sort=\"descending\"", " ↓"),
    };
    let _ = write!(
        page,
        "<th{class}{sort}><a href=\"?sort={key}&amp;order={order}\" data-sort=\"{key}\">\
         {label}{arrow}</a></th>",
        key = key.token(),
        order = next.token(),
    );
}

/// One entry's row, on one line.
fn row(entry: &Entry, page: &mut String) {
    let class = match (entry.is_dir, entry.kind == Kind::Symlink) {
        (true, true) => " class=\"d l\"",
        (true, false) => " class=\"d\"",
        (false, true) => " class=\"l\"",
        (false, false) => "",
    };
    let _ = write!(page, "<tr{class}><td><a href=\"");
    for piece in url(entry) {
        push_escaped(page, piece);
    }
    page.push_str("\">");
    push_escaped(page, &entry.shown);
    if entry.is_dir {
        page.push('/');
    }
    page.push_str("</a></td><td class=\"s\">");
    match entry.size {
        Some(size) => push_size(page, size),
        None => page.push('-'),
    }
    page.push_str("</td><td class=\"m\"");
    if let Some(utc) = entry.modified.and_then(Utc::of) {
        let _ = write!(page, " title=\"{}\">{}", utc.http(), utc.minutes());
    } else {
        page.push('>');
    }
    page.push_str("</td></tr>\n");
}

/// An entry's link, relative to the listing, in pieces: its name
/// percent-encoded byte for byte (invalid UTF-8 too), `/` after a folder.
/// It may hold `&`: HTML-escape it in an attribute.
fn url(entry: &Entry) -> impl Iterator<Item = &str> {
    let slash = if entry.is_dir { "/" } else { "" };
    percent_encode(entry.name.as_bytes(), SEGMENT).chain(std::iter::once(slash))
}

/// Names as people sort them, compared as [`fold`] leaves them: runs of
/// digits as numbers (`file2` before `file10`), everything else by code
/// point. Names equal this way (`a` and `A`, `7` and `007`) are then put
/// in byte order by the caller.
fn natural(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (end_a, end_b) = (digits_end(a, i), digits_end(b, j));
            let m = trim_zeros(&a[i..end_a]);
            let n = trim_zeros(&b[j..end_b]);
            let by_value = m.len().cmp(&n.len()).then_with(|| m.cmp(n));
            if by_value != Ordering::Equal {
                return by_value;
            }
            (i, j) = (end_a, end_b);
        } else if a[i] != b[j] {
            // UTF-8 puts bytes in code point order; equal bytes before
            // keep `i` and `j` on the same character boundaries.
            return a[i].cmp(&b[j]);
        } else {
            (i, j) = (i + 1, j + 1);
        }
    }
    // One has ended: the shorter first.
    (a.len() - i).cmp(&(b.len() - j))
}

/// A name as [`natural`] compares it: in lower case, once per entry
/// rather than once per comparison (a 10 000-entry sort makes about
/// 140 000).
fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// Where the run of ASCII digits that starts at `start` ends.
fn digits_end(s: &[u8], start: usize) -> usize {
    s[start..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(s.len(), |n| start + n)
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&d| d == b'0').count();
    &digits[zeros..]
}

/// Appends `text` as a JSON string: quotes, backslashes and control
/// characters escaped (and U+2028/U+2029, which some JavaScript parsers
/// take for line ends).
fn json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || matches!(c, '\u{7f}' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `1 file`, `2 files`; `10 000 files`.
fn count(n: usize, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", thousands(n as u64))
}

/// `10 000`: thousands set apart by a (no-break) space.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 2);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(digit);
    }
    out
}

/// Appends a size for people: `512 B`, `1.5 KiB`, `3.2 GiB`.
fn push_size(out: &mut String, bytes: u64) {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    let _ = if unit == 0 {
        write!(out, "{bytes} B")
    } else {
        write!(out, "{size:.1} {}", UNITS[unit])
    };
}

/// Appends `text` escaped for HTML text and for an attribute in double
/// or single quotes.
fn push_escaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_table() {
        use {Format::*, Order::*, SortKey::*};
        // (query, Accept, format, key, order)
        type Case = (
            Option<&'static str>,
            Option<&'static str>,
            Format,
            SortKey,
            Order,
        );
        let cases: &[Case] = &[
            (None, None, Html, Name, Asc),
            (Some(""), None, Html, Name, Asc),
            (Some("sort=size"), None, Html, Size, Asc),
            (Some("sort=modified&order=desc"), None, Html, Modified, Desc),
            (Some("order=desc"), None, Html, Name, Desc),
            (Some("sort=bogus&order=sideways"), None, Html, Name, Asc),
            (Some("sort=SIZE"), None, Html, Name, Asc),
            (Some("sort=size&sort=name"), None, Html, Size, Asc),
            (Some("format=json"), None, Json, Name, Asc),
            (Some("format=json&sort=size"), None, Json, Size, Asc),
            (Some("format=xml"), None, Html, Name, Asc),
            (None, Some("application/json"), Json, Name, Asc),
            (
                Some("format=html"),
                Some("application/json"),
                Html,
                Name,
                Asc,
            ),
            (Some("format=json"), Some("text/html"), Json, Name, Asc),
            (None, Some("text/html,*/*;q=0.8"), Html, Name, Asc),
            (Some("x=1&sort=modified"), None, Html, Modified, Asc),
        ];
        for &(query, accept, format, key, order) in cases {
            let expected = View { format, key, order };
            assert_eq!(View::new(query, accept), expected, "{query:?} {accept:?}");
        }
    }

    #[test]
    fn natural_order_table() {
        let cases = [
            ("a", "b", Ordering::Less),
            ("B", "a", Ordering::Greater),
            ("a", "A", Ordering::Equal),
            ("file2", "file10", Ordering::Less),
            ("file10", "file9", Ordering::Greater),
            ("file007", "file7", Ordering::Equal),
            ("file1a", "file1b", Ordering::Less),
            ("x", "x1", Ordering::Less),
            ("", "a", Ordering::Less),
            ("1", "a", Ordering::Less),
            ("Ärger", "ärger", Ordering::Equal),
            (
                "99999999999999999999999",
                "100000000000000000000000",
                Ordering::Less,
            ),
        ];
        for (a, b, expected) in cases {
            let (a, b) = (fold(a), fold(b));
            assert_eq!(natural(&a, &b), expected, "{a} vs {b}");
            assert_eq!(natural(&b, &a), expected.reverse(), "{b} vs {a}");
        }
    }

    fn entry(name: &str, kind: Kind, size: Option<u64>, modified: u64) -> Entry {
        Entry {
            name: name.into(),
            shown: name.into(),
            folded: fold(name),
            kind,
            is_dir: kind == Kind::Dir,
            size,
            modified: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(modified)),
        }
    }

    fn sample() -> Listing {
        Listing {
            entries: vec![
                entry("b.txt", Kind::File, Some(30), 100),
                entry("zdir", Kind::Dir, None, 50),
                entry("A.txt", Kind::File, Some(10), 300),
                entry("a.txt", Kind::File, Some(10), 200),
                entry("adir", Kind::Dir, None, 60),
                entry("c10.txt", Kind::File, Some(20), 150),
                entry("c9.txt", Kind::File, Some(40), 150),
            ],
            truncated: false,
        }
    }

    #[test]
    fn sorting_table() {
        use {Order::*, SortKey::*};
        let cases: &[(SortKey, Order, &[&str])] = &[
            (
                Name,
                Asc,
                &[
                    "adir", "zdir", "A.txt", "a.txt", "b.txt", "c9.txt", "c10.txt",
                ],
            ),
            (
                Name,
                Desc,
                &[
                    "zdir", "adir", "c10.txt", "c9.txt", "b.txt", "A.txt", "a.txt",
                ],
            ),
            (
                Size,
                Asc,
                &[
                    "adir", "zdir", "A.txt", "a.txt", "c10.txt", "b.txt", "c9.txt",
                ],
            ),
            (
                Size,
                Desc,
                &[
                    "adir", "zdir", "c9.txt", "b.txt", "c10.txt", "A.txt", "a.txt",
                ],
            ),
            (
                Modified,
                Asc,
                &[
                    "zdir", "adir", "b.txt", "c9.txt", "c10.txt", "a.txt", "A.txt",
                ],
            ),
            (
                Modified,
                Desc,
                &[
                    "adir", "zdir", "A.txt", "a.txt", "c9.txt", "c10.txt", "b.txt",
                ],
            ),
        ];
        for &(key, order, expected) in cases {
            let mut listing = sample();
            listing.sort(key, order);
            let names: Vec<&str> = listing.entries.iter().map(|e| e.shown.as_str()).collect();
            assert_eq!(names, expected, "{key:?} {order:?}");
        }
    }

    #[test]
    fn json_escapes_and_encodes() {
        let mut hostile = entry("q\"b\\s\n\u{1}<&>%#?.txt", Kind::File, Some(5), 0);
        hostile.modified = None;
        let listing = Listing {
            entries: vec![hostile, entry("dir x", Kind::Dir, None, 1_796_378_504)],
            truncated: false,
        };
        assert_eq!(
            listing.json(),
            "[\n{\"name\":\"q\\\"b\\\\s\\n\\u0001<&>%#?.txt\",\"type\":\"file\",\"size\":5,\
             \"modified\":null,\"url\":\"q%22b%5Cs%0A%01%3C&%3E%25%23%3F.txt\"},\n\
             {\"name\":\"dir x\",\"type\":\"dir\",\"size\":null,\
             \"modified\":\"2026-12-04T10:01:44Z\",\"url\":\"dir%20x/\"}\n]\n"
        );
        let empty = Listing {
            entries: Vec::new(),
            truncated: false,
        };
        assert_eq!(empty.json(), "[\n]\n");
    }

    #[test]
    fn html_escapes_names_in_every_place() {
        let listing = Listing {
            entries: vec![entry("<b>&\"'.txt", Kind::File, Some(1), 0)],
            truncated: false,
        };
        let rel = Path::new("a<b>/c&d");
        let view = View::new(None, None);
        let page = listing.html(rel, view);
        assert!(!page.contains("<b>"), "{page}");
        assert!(
            page.contains(">&lt;b&gt;&amp;&quot;&#39;.txt</a>"),
            "{page}"
        );
        // `&` stays in a URL path, but is `&amp;` in an attribute.
        assert!(page.contains("href=\"%3Cb%3E&amp;%22%27.txt\""), "{page}");
        assert!(page.contains("<title>Index of /a&lt;b&gt;/c&amp;d/</title>"));
        assert!(
            page.contains(
                "<a href=\"/a%3Cb%3E/\">a&lt;b&gt;</a>/<a href=\"/a%3Cb%3E/c&amp;d/\">c&amp;d</a>/"
            ),
            "{page}"
        );
    }

    #[test]
    fn summaries() {
        assert_eq!(sample().summary(), "2 folders, 5 files, 110 B in total");
        let one = Listing {
            entries: vec![entry("a", Kind::File, Some(2048), 0)],
            truncated: false,
        };
        assert_eq!(one.summary(), "0 folders, 1 file, 2.0 KiB in total");
        assert_eq!(thousands(10_000), "10\u{a0}000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1\u{a0}234\u{a0}567");
    }

    #[test]
    fn base64_and_hashes() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (text, expected) in cases {
            assert_eq!(base64(text.as_bytes()), expected, "{text}");
        }
        assert_eq!(
            sha256_source("abc"),
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        let policy = CONTENT_SECURITY_POLICY.as_str();
        assert!(policy.contains(&sha256_source(STYLE)), "{policy}");
        assert!(policy.contains(&sha256_source(SCRIPT)), "{policy}");
    }

    #[test]
    fn inline_code_cannot_end_its_element() {
        assert!(!STYLE.contains("</"));
        assert!(!SCRIPT.contains("</"));
    }

    #[test]
    fn escaping_and_sizes() {
        let escaped = |text: &str| {
            let mut out = String::new();
            push_escaped(&mut out, text);
            out
        };
        assert_eq!(escaped("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(escaped("plain 日本"), "plain 日本");
        assert_eq!(escaped("&&"), "&amp;&amp;");
        let size = |bytes| {
            let mut out = String::new();
            push_size(&mut out, bytes);
            out
        };
        assert_eq!(size(0), "0 B");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
    }
}
