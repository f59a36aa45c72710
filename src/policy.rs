//! What the public listener adds to every response and asks of every
//! request: the `--header` fields and `--cors`'s, formatted once at
//! start-up so that a response pays one copy for all of them, CORS
//! preflights, and `--auth`. The admin listener gets [`Policy::default`],
//! which adds and asks nothing.

use std::str::FromStr;

use crate::auth::{Users, Verdict};
use crate::config::Config;
use crate::cors;
use crate::http::{Reply, Request, is_token};

/// The most bytes the `--header` fields may take in a response head, all
/// together (`Name: value` and the line end each).
pub const MAX_FIELDS_BYTES: usize = 16 * 1024;

/// A header field sent with every response of the public listener
/// (`--header 'Name: value'`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderField {
    pub name: String,
    pub value: String,
}

impl HeaderField {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> HeaderField {
        HeaderField {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The bytes this field takes in a head.
    fn len(&self) -> usize {
        self.name.len() + 2 + self.value.len() + 2
    }

    /// What is wrong with the field, as what would be accepted instead.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !is_token(&self.name) {
            return Err("'Name: value' with a field name of letters, digits and \
                 !#$%&'*+-.^_`|~ (RFC 9110), like 'X-Frame-Options: DENY'"
                .into());
        }
        if let Some((owned, hint)) = OWNED
            .iter()
            .find(|(owned, _)| owned.eq_ignore_ascii_case(&self.name))
        {
            return Err(format!(
                "a field the server does not set itself ({owned} is its own{hint})"
            ));
        }
        // It goes into response heads as it is: no CR/LF, no controls.
        let printable = |b: u8| b == b' ' || b == b'\t' || b.is_ascii_graphic();
        if self.value.trim_matches([' ', '\t']).is_empty() || !self.value.bytes().all(printable) {
            return Err("a value of printable ASCII, like 'X-Frame-Options: DENY'".into());
        }
        Ok(())
    }
}

/// `Name: value`: the name up to the first `:`, the value after it
/// without the spaces around it. The rest is checked by
/// [`Config::validate`].
impl FromStr for HeaderField {
    type Err = String;

    fn from_str(field: &str) -> Result<HeaderField, String> {
        let (name, value) = field
            .split_once(':')
            .ok_or("expected 'Name: value', like 'X-Frame-Options: DENY'")?;
        Ok(HeaderField::new(name, value.trim_matches([' ', '\t'])))
    }
}

/// The fields the server writes itself, which `--header` may not add or
/// replace: framing and connection fields, and those that describe a
/// response or come from another flag. A hint says where to go instead.
/// (`--help` and the README list them too.)
const OWNED: [(&str, &str); 27] = [
    ("Content-Length", ""),
    ("Transfer-Encoding", ""),
    ("Connection", ""),
    ("Keep-Alive", ""),
    ("Proxy-Connection", ""),
    ("Upgrade", ""),
    ("Trailer", ""),
    ("TE", ""),
    ("Date", ""),
    ("Server", ""),
    ("X-Content-Type-Options", ""),
    ("Content-Type", ""),
    ("Content-Encoding", ""),
    ("Content-Range", ""),
    ("ETag", ""),
    ("Last-Modified", ""),
    ("Vary", ""),
    ("Accept-Ranges", ""),
    ("Location", ""),
    ("Allow", ""),
    ("WWW-Authenticate", "; see --auth"),
    ("Cache-Control", "; use --cache-control"),
    ("Access-Control-Allow-Origin", "; use --cors"),
    ("Access-Control-Allow-Methods", "; use --cors"),
    ("Access-Control-Allow-Headers", "; use --cors"),
    ("Access-Control-Expose-Headers", "; use --cors"),
    ("Access-Control-Max-Age", "; use --cors"),
];

/// The public listener's policy.
#[derive(Default)]
pub struct Policy {
    /// The `--header` fields, then `--cors`'s, formatted: copied into
    /// every head as they are.
    fields: Vec<u8>,
    /// `--cors ORIGIN`: `Vary: Origin`, merged with `Accept-Encoding`.
    vary_origin: bool,
    /// `--cors`: preflights are answered.
    cors: bool,
    users: Users,
}

impl Policy {
    /// The policy of a validated configuration.
    pub fn new(config: &Config) -> Policy {
        let mut fields = Vec::new();
        for field in &config.headers {
            let value = field.value.trim_matches([' ', '\t']);
            fields.extend_from_slice(format!("{}: {value}\r\n", field.name).as_bytes());
        }
        if let Some(origin) = &config.cors {
            cors::response_fields(origin, &mut fields);
        }
        Policy {
            fields,
            vary_origin: config.cors.as_deref().is_some_and(cors::varies),
            cors: config.cors.is_some(),
            users: Users::new(&config.auth),
        }
    }

    /// The fields every response gets, formatted.
    pub fn fields(&self) -> &[u8] {
        &self.fields
    }

    /// Whether every response says `Vary: Origin`.
    pub fn varies_by_origin(&self) -> bool {
        self.vary_origin
    }

    /// With `--cors`, the answer to `request` if it is a preflight. A
    /// preflight needs no credentials: browsers never send them with one.
    pub fn preflight(&self, request: &Request) -> Option<Reply> {
        if !self.cors {
            return None;
        }
        cors::preflight(request)
    }

    /// What `request`'s credentials earn it.
    pub fn authorize(&self, request: &Request) -> Verdict<'_> {
        self.users.check(request.access.authorization.as_deref())
    }
}

/// Every `--header` field: each valid, and all of them within
/// [`MAX_FIELDS_BYTES`]. The error is the field's text and what is
/// accepted.
pub(crate) fn check_fields(fields: &[HeaderField]) -> Result<(), (String, String)> {
    let shown = |field: &HeaderField| format!("{}: {}", field.name, field.value);
    for field in fields {
        field
            .check()
            .map_err(|expected| (shown(field).escape_debug().to_string(), expected))?;
    }
    let total: usize = fields.iter().map(HeaderField::len).sum();
    if total > MAX_FIELDS_BYTES {
        let last = fields.last().map(shown).unwrap_or_default();
        return Err((
            last.escape_debug().to_string(),
            format!(
                "at most {} KiB of --header fields in all",
                MAX_FIELDS_BYTES / 1024
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_and_check() {
        let cases = [
            ("X-Frame-Options: DENY", Some(("X-Frame-Options", "DENY"))),
            ("X-A:b", Some(("X-A", "b"))),
            ("X-A:  b c\t", Some(("X-A", "b c"))),
            ("Link: <a>; rel=x", Some(("Link", "<a>; rel=x"))),
            (
                "Set-Cookie: a=b; Path=/",
                Some(("Set-Cookie", "a=b; Path=/")),
            ),
            ("X-A: a:b", Some(("X-A", "a:b"))),
            ("no colon", None),
            ("X-A:", None),
            ("X-A:   ", None),
            ("X A: b", None),
            (" X-A: b", None),
            ("X-A : b", None),
            (": b", None),
            ("X-A: b\r\nX-Injected: 1", None),
            ("X-A: caf\u{e9}", None),
            ("content-length: 5", None),
            ("CACHE-CONTROL: no-store", None),
            ("Vary: Cookie", None),
            ("Access-Control-Allow-Origin: *", None),
            ("Server: x", None),
        ];
        for (text, expected) in cases {
            let checked = text
                .parse::<HeaderField>()
                .ok()
                .filter(|field| field.check().is_ok());
            let expected = expected.map(|(name, value)| HeaderField::new(name, value));
            assert_eq!(checked, expected, "{text:?}");
        }
    }

    #[test]
    fn refusals_say_where_to_go() {
        let err = HeaderField::new("Cache-Control", "x").check().unwrap_err();
        assert!(err.contains("--cache-control"), "{err}");
        let err = HeaderField::new("etag", "x").check().unwrap_err();
        assert!(err.contains("ETag is its own"), "{err}");
    }

    #[test]
    fn fields_are_bounded_in_all() {
        let field = HeaderField::new("X-Long", "x".repeat(1000));
        assert!(check_fields(&vec![field.clone(); 16]).is_ok());
        let (shown, expected) = check_fields(&vec![field; 17]).unwrap_err();
        assert!(shown.starts_with("X-Long: x"), "{shown}");
        assert!(expected.contains("16 KiB"), "{expected}");
    }
}
