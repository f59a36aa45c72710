//! A file as HTTP sees it: its representations (the file itself, any
//! precompressed sidecars, and variants compressed on the fly), their
//! validators, which one a client gets, and the answer to a request
//! for one of them: conditional (`304`, `412`) and range (`206`, `416`,
//! `multipart/byteranges`) requests; which coding (`Accept-Encoding`)
//! and which media type (`Accept`) a client prefers.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::ops::Range;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::rc::Rc;
use std::sync::Arc;

use crate::compress::{Coding, Source};

use crate::http::{self, Conditions, Payload, Precondition, Ranges, Reply, Representation, Status};

/// File bodies up to this size are read into memory once (and cached), and
/// go out with the response head in one `write`.
pub const INLINE_BODY: u64 = 128 * 1024;

/// A file's representations: as it is, precompressed beside it, and
/// compressed on the fly.
pub struct Variants {
    pub identity: Variant,
    pub brotli: Option<Variant>,
    pub gzip: Option<Variant>,
    /// The file's metadata when it is to be compressed on the fly (a
    /// compressible type and size): what its variants are cached under.
    pub compressible: Option<fs::Metadata>,
    /// Variants compressed on the fly that this worker has found ready
    /// (shared bytes), by [`Coding::index`].
    pub encoded: [OnceCell<Variant>; 3],
}

/// One representation: its headers and where its bytes are.
pub struct Variant {
    pub representation: Rc<Representation>,
    pub body: Body,
}

/// Where a representation's bytes are.
pub enum Body {
    /// Small, or compressed: in memory (a compressed variant's bytes are
    /// shared by all workers).
    Inline(Arc<[u8]>),
    /// Large: sent from this descriptor with `sendfile`.
    Descriptor(Rc<File>),
}

impl Variants {
    /// Bytes of content held in memory.
    pub fn inline_bytes(&self) -> usize {
        [
            Some(&self.identity),
            self.brotli.as_ref(),
            self.gzip.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|v| match &v.body {
            Body::Inline(bytes) => bytes.len(),
            Body::Descriptor(_) => 0,
        })
        .sum()
    }
}

impl Variant {
    /// Loads a representation from an open regular file.
    pub fn load(
        file: File,
        meta: &fs::Metadata,
        content_type: Cow<'static, str>,
        content_encoding: Option<&'static str>,
        varies: bool,
    ) -> io::Result<Variant> {
        let len = meta.size();
        // A time no HTTP date can write (before 1970 with `httpdate`, or
        // past 9999) is no validator: no `Last-Modified`, no date conditions.
        let modified = meta.modified().ok().filter(|t| http::Utc::of(*t).is_some());
        let representation = Rc::new(Representation {
            content_type,
            content_encoding,
            varies,
            varies_by_type: false,
            etag: etag(meta),
            modified,
            last_modified: modified.and_then(http::http_date),
            len,
        });
        let body = if len <= INLINE_BODY {
            let mut content = vec![0; len as usize];
            file.read_exact_at(&mut content, 0)?;
            Body::Inline(content.into())
        } else {
            Body::Descriptor(Rc::new(file))
        };
        Ok(Variant {
            representation,
            body,
        })
    }

    /// The same representation encoded with `coding`: its own length and
    /// strong ETag (this one's with the coding as a suffix, so a `304` or
    /// an `If-Range` matches only this variant).
    pub fn encoded(&self, coding: Coding, bytes: Arc<[u8]>) -> Variant {
        let rep = &self.representation;
        let etag = rep.etag.trim_end_matches('"');
        let representation = Rc::new(Representation {
            content_type: rep.content_type.clone(),
            content_encoding: Some(coding.token()),
            varies: true,
            varies_by_type: rep.varies_by_type,
            etag: format!("{etag}-{}\"", coding.token()),
            modified: rep.modified,
            last_modified: rep.last_modified.clone(),
            len: bytes.len() as u64,
        });
        Variant {
            representation,
            body: Body::Inline(bytes),
        }
    }

    /// Where a compression thread can read this representation's bytes.
    pub fn source(&self) -> io::Result<Source> {
        Ok(match &self.body {
            Body::Inline(bytes) => Source::Bytes(bytes.to_vec()),
            Body::Descriptor(file) => Source::File(file.try_clone()?, self.representation.len),
        })
    }

    /// A generated page (a directory listing) as a representation, with a
    /// strong ETag from its content, so conditionals and ranges work on it.
    /// `varies`: it may also be sent compressed. `view`: the page is one of
    /// several its URL gives (HTML or JSON, in one order or another), chosen
    /// by the query or by `Accept`; then it says `Vary: Accept`, and the
    /// view and the media type go into the ETag with the content, so each
    /// view has its own.
    pub fn generated(
        page: Vec<u8>,
        content_type: Cow<'static, str>,
        varies: bool,
        view: Option<&str>,
    ) -> Variant {
        // SipHash with fixed keys: the same page gets the same tag in every
        // worker and every run.
        let mut hasher = std::hash::DefaultHasher::new();
        if let Some(view) = view {
            hasher.write(view.as_bytes());
            hasher.write_u8(0);
            hasher.write(content_type.as_bytes());
            hasher.write_u8(0);
        }
        hasher.write(&page);
        let representation = Rc::new(Representation {
            content_type,
            content_encoding: None,
            varies,
            varies_by_type: view.is_some(),
            etag: format!("\"p-{:x}-{:016x}\"", page.len(), hasher.finish()),
            modified: None,
            last_modified: None,
            len: page.len() as u64,
        });
        Variant {
            representation,
            body: Body::Inline(page.into()),
        }
    }

    /// This representation's whole body as the page of an error `status`
    /// (a site's own `404.html`): its `Content-Type` and bytes, but no
    /// validators and no ranges, so nothing can make it a `304` or a `206`.
    pub fn error_page(&self, status: Status) -> Reply {
        let mut reply = Reply::error(status);
        reply.content_type = Some(self.representation.content_type.clone());
        reply.payload = self.slice(0..self.representation.len);
        reply
    }

    /// The answer to a GET or HEAD of this representation: preconditions
    /// first (RFC 9110 §13.2.2), then `Range` (and `If-Range`).
    pub fn respond(&self, conditions: &Conditions) -> Reply {
        let rep = &self.representation;
        match http::evaluate_preconditions(conditions, &rep.etag, rep.modified) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                return self.reply(Status::NotModified, Payload::None, None);
            }
            Precondition::Failed => return Reply::error(Status::PreconditionFailed),
        }
        let ranges = match (&conditions.range, &conditions.if_range) {
            (Some(range), None) => http::parse_range(range, rep.len),
            (Some(range), Some(if_range))
                if http::if_range_holds(if_range, &rep.etag, rep.modified) =>
            {
                http::parse_range(range, rep.len)
            }
            _ => Ranges::Whole,
        };
        match ranges {
            Ranges::Whole => self.reply(Status::Ok, self.slice(0..rep.len), None),
            Ranges::Unsatisfiable => {
                let mut reply = Reply::error(Status::RangeNotSatisfiable);
                reply.content_range = Some(format!("bytes */{}", rep.len));
                reply
            }
            Ranges::Partial(ranges) if ranges.len() == 1 => {
                let range = ranges[0].clone();
                let content_range = content_range(&range, rep.len);
                self.reply(
                    Status::PartialContent,
                    self.slice(range),
                    Some(content_range),
                )
            }
            Ranges::Partial(ranges) => self.multipart(&ranges),
        }
    }

    fn reply(&self, status: Status, payload: Payload, content_range: Option<String>) -> Reply {
        Reply {
            status,
            content_type: None,
            representation: Some(self.representation.clone()),
            content_range,
            cache_control: None,
            content_security_policy: None,
            location: None,
            allow: None,
            headers: Vec::new(),
            payload,
        }
    }

    fn slice(&self, range: Range<u64>) -> Payload {
        match &self.body {
            Body::Inline(bytes) => Payload::Shared {
                bytes: bytes.clone(),
                range: range.start as usize..range.end as usize,
            },
            Body::Descriptor(file) => Payload::File {
                file: file.clone(),
                offset: range.start,
                len: range.end - range.start,
            },
        }
    }

    /// A `206` with `multipart/byteranges`: each range with its own
    /// `Content-Type` and `Content-Range`, between random boundaries.
    fn multipart(&self, ranges: &[Range<u64>]) -> Reply {
        let rep = &self.representation;
        let boundary = boundary();
        let mut parts = Vec::with_capacity(ranges.len() * 2 + 1);
        for (i, range) in ranges.iter().enumerate() {
            let mut head = String::new();
            if i > 0 {
                head.push_str("\r\n");
            }
            let _ = write!(
                head,
                "--{boundary}\r\nContent-Type: {}\r\nContent-Range: {}\r\n\r\n",
                rep.content_type,
                content_range(range, rep.len)
            );
            parts.push(Payload::Bytes(head.into_bytes()));
            parts.push(self.slice(range.clone()));
        }
        parts.push(Payload::Bytes(
            format!("\r\n--{boundary}--\r\n").into_bytes(),
        ));
        let mut reply = self.reply(Status::PartialContent, Payload::Parts(parts), None);
        reply.content_type = Some(Cow::Owned(format!(
            "multipart/byteranges; boundary={boundary}"
        )));
        reply
    }
}

/// `bytes a-b/len` for a range `a..b+1`.
fn content_range(range: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", range.start, range.end - 1)
}

/// A strong entity-tag from the file's identity and version: inode, size
/// and modification time (to the nanosecond), as nginx and lighttpd do.
fn etag(meta: &fs::Metadata) -> String {
    format!(
        "\"{:x}-{:x}-{:x}.{:x}\"",
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    )
}

/// 32 random hex digits, from the standard library's randomly seeded hasher.
fn boundary() -> String {
    let mut out = String::with_capacity(32);
    for _ in 0..2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u8(0);
        let _ = write!(out, "{:016x}", hasher.finish());
    }
    out
}

/// The coding to send for an `Accept-Encoding` (RFC 9110 §12.5.3), among
/// those `available`: the acceptable one with the highest q-value,
/// brotli, then zstd, then gzip among equals; `None` (identity) when none
/// is acceptable or the client ranks `identity` higher by name. Identity
/// is what is sent when nothing else is, even after `identity;q=0`
/// (never a `406`).
pub fn negotiate(
    accept_encoding: Option<&str>,
    available: impl Fn(Coding) -> bool,
) -> Option<Coding> {
    let accept = accept_encoding?;
    let (q, coding) = Coding::ALL
        .into_iter()
        .filter(|coding| available(*coding))
        .map(|coding| (quality(accept, coding.token()), coding))
        .filter(|(q, _)| *q > 0)
        // max_by_key keeps the last of equals: reversed, the first wins.
        .rev()
        .max_by_key(|(q, _)| *q)?;
    // Identity ranks only where it is named: an acceptable coding is
    // preferred to an identity the client says nothing about.
    let identity = named_quality(accept, "identity").unwrap_or(0);
    (q >= identity).then_some(coding)
}

/// Whether a client that sent `accept` gets JSON rather than HTML:
/// `application/json` is named with a q-value above 0, and `text/html`
/// (by name, `text/*` or `*/*`) is not ranked above it. A browser, which
/// names no JSON, gets HTML; `Accept: application/json, */*` gets JSON.
pub fn prefers_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let json = named_quality(accept, "application/json").unwrap_or(0);
    json > 0 && media_quality(accept, "text/html") <= json
}

/// Whether `accept` asks for a page: `text/html` is named with a q-value
/// above 0 and nothing is ranked above it (what a browser sends when it
/// navigates, not the `*/*` of a script, an image or a stylesheet).
pub fn prefers_html(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let html = named_quality(accept, "text/html").unwrap_or(0);
    html > 0 && members(accept).all(|(_, q)| q <= html)
}

/// The q-value `Accept` gives the media type `media` (`type/subtype`):
/// that of the most specific range that matches it (`type/subtype`, then
/// `type/*`, then `*/*`), 0 when none does. Parameters other than `q` are
/// not compared.
fn media_quality(accept: &str, media: &str) -> u16 {
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    named_quality(accept, media)
        .or_else(|| named_quality(accept, &format!("{kind}/*")))
        .or_else(|| named_quality(accept, "*/*"))
        .unwrap_or(0)
}

/// The q-value (in thousandths) `Accept-Encoding` gives `coding`: its own
/// entry, else `*`, else 0 (not acceptable).
fn quality(accept: &str, coding: &str) -> u16 {
    stated_quality(accept, coding).unwrap_or(0)
}

/// The q-value `Accept-Encoding` states for `coding`, by name or through
/// `*`; `None` when it says nothing about it.
fn stated_quality(accept: &str, coding: &str) -> Option<u16> {
    named_quality(accept, coding).or_else(|| named_quality(accept, "*"))
}

/// The q-value of `name`'s own entry in an `Accept-Encoding` or `Accept`
/// list, if it has one (the first, if it has several).
fn named_quality(list: &str, name: &str) -> Option<u16> {
    members(list)
        .find(|(member, _)| member.eq_ignore_ascii_case(name))
        .map(|(_, q)| q)
}

/// The members of a list with q-values (`gzip;q=0.5, br`,
/// `text/html, */*;q=0.8`): each name, and its q-value in thousandths
/// (1000 when it has none).
fn members(list: &str) -> impl Iterator<Item = (&str, u16)> {
    list.split(',').map(|member| {
        let mut params = member.split(';');
        let name = params.next().unwrap_or_default().trim();
        let q = params
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .map(parse_q)
            .next()
            .unwrap_or(1000);
        (name, q)
    })
}

/// `0`, `0.5`, `1.000` → thousandths; anything malformed counts as 0.
fn parse_q(text: &str) -> u16 {
    let text = text.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().unwrap_or(0);
    match int {
        "0" => frac_value,
        "1" if frac_value == 0 => 1000,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values() {
        let cases = [
            ("br", "br", 1000),
            ("gzip, br", "br", 1000),
            ("gzip;q=0.5, br;q=0.8", "br", 800),
            ("gzip;q=0.5, br;q=0.8", "gzip", 500),
            ("br;q=0", "br", 0),
            ("br; q=0.000", "br", 0),
            ("*", "gzip", 1000),
            ("*;q=0", "gzip", 0),
            ("gzip;q=0, *", "gzip", 0),
            ("identity", "gzip", 0),
            ("br;q=1.5", "br", 0),
            ("br;q=abc", "br", 0),
            ("BR", "br", 1000),
        ];
        for (accept, coding, expected) in cases {
            assert_eq!(quality(accept, coding), expected, "{accept} / {coding}");
        }
    }

    #[test]
    fn negotiation() {
        let cases = [
            (None, None),
            (Some(""), None),
            (Some("gzip"), Some(Coding::Gzip)),
            (Some("gzip, deflate, br, zstd"), Some(Coding::Brotli)),
            (Some("gzip, zstd"), Some(Coding::Zstd)),
            (Some("br;q=0.5, gzip"), Some(Coding::Gzip)),
            (Some("br;q=0, *"), Some(Coding::Zstd)),
            (Some("*"), Some(Coding::Brotli)),
            (Some("*;q=0"), None),
            (Some("gzip;q=0.5, identity"), None),
            (Some("gzip;q=0.5, identity;q=0.5"), Some(Coding::Gzip)),
            (Some("identity;q=0"), None),
            (Some("deflate"), None),
            (Some("gzip;q=0.5"), Some(Coding::Gzip)),
            (Some("gzip;q=0.5, zstd;q=0.8"), Some(Coding::Zstd)),
        ];
        for (accept, expected) in cases {
            assert_eq!(negotiate(accept, |_| true), expected, "{accept:?}");
        }
        // Only what is available competes.
        let gzip_only = |coding| coding == Coding::Gzip;
        assert_eq!(
            negotiate(Some("br, gzip;q=0.1"), gzip_only),
            Some(Coding::Gzip)
        );
        assert_eq!(negotiate(Some("br"), gzip_only), None);
    }

    #[test]
    fn media_type_preferences() {
        // (Accept, gets JSON, asks for a page)
        let cases = [
            (None, false, false),
            (Some(""), false, false),
            (Some("application/json"), true, false),
            (Some("application/json, */*"), true, false),
            (Some("application/json;q=0.9, */*;q=0.1"), true, false),
            (Some("APPLICATION/JSON"), true, false),
            (Some("application/json;q=0"), false, false),
            (Some("application/json;q=0.5, text/html"), false, true),
            (Some("application/json;q=0.5, */*"), false, false),
            (Some("application/json;q=0.5, text/*"), false, false),
            (Some("text/html;q=0.9, application/json"), true, false),
            (Some("text/html, application/json"), true, true),
            (Some("application/*"), false, false),
            (Some("*/*"), false, false),
            // A browser navigating, fetching a script, an image, a stylesheet.
            (
                Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                false,
                true,
            ),
            (
                Some("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
                false,
                false,
            ),
            (Some("text/css,*/*;q=0.1"), false, false),
            (Some("text/html;q=0"), false, false),
            (Some("text/html;q=0.5, text/plain"), false, false),
            (Some("text/html;level=1"), false, true),
            (Some("TEXT/HTML"), false, true),
        ];
        for (accept, json, html) in cases {
            assert_eq!(prefers_json(accept), json, "JSON for {accept:?}");
            assert_eq!(prefers_html(accept), html, "page for {accept:?}");
        }
    }

    #[test]
    fn generated_tags_differ_by_view_and_type() {
        let tag = |page: &[u8], ct: &'static str, view| {
            let variant = Variant::generated(page.to_vec(), Cow::Borrowed(ct), false, view);
            variant.representation.etag.clone()
        };
        let html = "text/html";
        assert_eq!(tag(b"[]", html, Some("a")), tag(b"[]", html, Some("a")));
        assert_ne!(tag(b"[]", html, Some("a")), tag(b"[]", html, Some("b")));
        assert_ne!(
            tag(b"[]", html, Some("a")),
            tag(b"[]", "application/json", Some("a"))
        );
        assert_ne!(tag(b"[1]", html, None), tag(b"[2]", html, None));
    }

    #[test]
    fn boundaries_differ() {
        let (a, b) = (boundary(), boundary());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
