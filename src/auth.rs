//! HTTP Basic authentication (RFC 7617) for the public listener (`--auth`):
//! the users, each with the SHA-256 digest of its password, and the check
//! of a request's `Authorization` field. The check takes the same steps
//! whichever part is wrong, so its time does not say whether a user exists.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{self, SHA256};

use crate::config::ConfigError;
use crate::http::{Reply, Status};

/// What a `401` asks for: the realm a browser shows beside its prompt,
/// and that user names and passwords are UTF-8 (RFC 7617 §2.1).
pub const CHALLENGE: &str = "Basic realm=\"simple-web-server\", charset=\"UTF-8\"";

/// Wrong or malformed credentials one connection may send: the answer to
/// the last of them closes it, so a guesser pays a new connection (and a
/// TLS handshake) for every ten guesses, and no worker ever waits.
pub const MAX_FAILURES: u32 = 10;

/// A SHA-256 digest.
type Digest = [u8; 32];

/// The `--auth` flag's forms, for its error message.
const EXPECTED: &str = "USER:PASSWORD or USER:sha256:HEX (a user name without ':' \
    and a password that is not empty, or the 64 hex digits of its SHA-256 digest)";

/// One `--auth` user: a name and the SHA-256 digest of its password (the
/// password itself is not kept).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    user: String,
    password: Digest,
}

impl Credential {
    /// `user`, whose password is `password`.
    pub fn new(user: impl Into<String>, password: &str) -> Credential {
        Credential::from_digest(user, sha256(password.as_bytes()))
    }

    /// `user`, whose password has the SHA-256 digest `digest`.
    pub fn from_digest(user: impl Into<String>, digest: [u8; 32]) -> Credential {
        Credential {
            user: user.into(),
            password: digest,
        }
    }

    /// The user name: what the access log shows for this user's requests.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Why the user name can't be used, if it can't: RFC 7617 leaves no
    /// way to send a `:` in one, and a control character has no place in
    /// a header (nor in a log line).
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let user = &self.user;
        if user.is_empty() || user.contains(':') || user.chars().any(char::is_control) {
            return Err(ConfigError::new(
                "--auth",
                format!("{}:…", user.escape_debug()),
                EXPECTED.into(),
            ));
        }
        Ok(())
    }
}

/// The password, or its digest, never shows.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// `USER:PASSWORD` (the password is everything after the first `:`, and
/// may hold more of them) or `USER:sha256:HEX`. An error shows the user
/// name at most, never what follows it.
impl FromStr for Credential {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Credential, ConfigError> {
        let Some((user, secret)) = spec.split_once(':') else {
            // It may all be a password typed without its user.
            return Err(ConfigError::new("--auth", "…".into(), EXPECTED.into()));
        };
        let invalid = || {
            let shown = format!("{}:…", user.escape_debug());
            ConfigError::new("--auth", shown, EXPECTED.into())
        };
        let credential = match secret.strip_prefix("sha256:") {
            Some(hex) => Credential::from_digest(user, parse_digest(hex).ok_or_else(invalid)?),
            None if secret.is_empty() => return Err(invalid()),
            None => Credential::new(user, secret),
        };
        credential.check()?;
        Ok(credential)
    }
}

/// 64 hex digits, either case.
fn parse_digest(hex: &str) -> Option<Digest> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut digest = [0; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(digest)
}

fn sha256(bytes: &[u8]) -> Digest {
    let mut out = [0; 32];
    out.copy_from_slice(digest::digest(&SHA256, bytes).as_ref());
    out
}

/// What the `Authorization` field of a request earns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// No `--auth`: every request is let in.
    Open,
    /// Valid credentials of this user.
    User(&'a str),
    /// No credentials (`attempted` is false), or wrong or malformed ones.
    Denied { attempted: bool },
}

/// A user ready to be checked: the digests of its name and password.
struct Known {
    name: String,
    name_digest: Digest,
    password: Digest,
}

/// The `--auth` users; none means no authentication.
#[derive(Default)]
pub struct Users {
    known: Vec<Known>,
}

impl Users {
    pub fn new(credentials: &[Credential]) -> Users {
        let known = credentials
            .iter()
            .map(|c| Known {
                name: c.user.clone(),
                name_digest: sha256(c.user.as_bytes()),
                password: c.password,
            })
            .collect();
        Users { known }
    }

    /// Checks an `Authorization` field (`Basic` and the base64 of
    /// `user:password`). Both parts are hashed and every user is compared,
    /// name and password digests alike, in constant time and without
    /// stopping at a match, so neither which part was wrong nor which user
    /// matched shows in the time taken.
    pub fn check(&self, authorization: Option<&str>) -> Verdict<'_> {
        if self.known.is_empty() {
            return Verdict::Open;
        }
        let Some(value) = authorization else {
            return Verdict::Denied { attempted: false };
        };
        let Some(decoded) = basic_credentials(value) else {
            return Verdict::Denied { attempted: true };
        };
        // A user-id holds no ':' (RFC 7617 §2): the first one ends it.
        let colon = decoded.iter().position(|&b| b == b':');
        let Some(colon) = colon else {
            return Verdict::Denied { attempted: true };
        };
        let name = sha256(&decoded[..colon]);
        let password = sha256(&decoded[colon + 1..]);
        let mut matched = None;
        for known in &self.known {
            let name_ok = verify_slices_are_equal(&known.name_digest, &name).is_ok();
            let password_ok = verify_slices_are_equal(&known.password, &password).is_ok();
            if name_ok & password_ok {
                matched = Some(known.name.as_str());
            }
        }
        match matched {
            Some(user) => Verdict::User(user),
            None => Verdict::Denied { attempted: true },
        }
    }
}

/// The answer to a request without valid credentials: `401` with the
/// challenge and the small error page.
pub fn challenge() -> Reply {
    let mut reply = Reply::error(Status::Unauthorized);
    reply
        .headers
        .push(("WWW-Authenticate", Cow::Borrowed(CHALLENGE)));
    reply
}

/// The decoded credentials of a `Basic` field: the scheme in any case,
/// one or more spaces, then base64 (RFC 7617 §2, RFC 9110 §11.4).
fn basic_credentials(value: &str) -> Option<Vec<u8>> {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    decode_base64(token.trim_start_matches(' ').as_bytes())
}

/// Base64 with the standard alphabet (RFC 4648 §4), decoded by hand (a
/// few lines, against a crate). Padding may be there (then the length is
/// a multiple of four) or left out; bits left over must be zero. Anything
/// else, whitespace included, is refused.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let data = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    if (data.len() != text.len() && !text.len().is_multiple_of(4)) || data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        let sextet = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_the_standard_alphabet_and_nothing_else() {
        let cases: [(&str, Option<&[u8]>); 14] = [
            ("", Some(b"")),
            ("YQ==", Some(b"a")),
            ("YQ", Some(b"a")),
            ("YWI=", Some(b"ab")),
            ("YWI", Some(b"ab")),
            ("YWJj", Some(b"abc")),
            ("YWxpY2U6czNjcjN0", Some(b"alice:s3cr3t")),
            ("+/+/", Some(&[0xfb, 0xff, 0xbf])),
            ("YQ=", None),   // padded, but not to a multiple of four
            ("YR==", None),  // bits left over
            ("Y", None),     // one sextet is no byte
            ("YW Jj", None), // whitespace
            ("-_-_", None),  // the URL-safe alphabet
            ("YQ===", None), // too much padding
        ];
        for (text, expected) in cases {
            assert_eq!(
                decode_base64(text.as_bytes()).as_deref(),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn credentials_parse_in_both_forms() {
        let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let cases: [(&str, Option<Credential>); 9] = [
            ("alice:secret", Some(Credential::new("alice", "secret"))),
            ("alice:a:b:c", Some(Credential::new("alice", "a:b:c"))),
            (
                &format!("bob:sha256:{digest}"),
                Some(Credential::new("bob", "test")),
            ),
            (
                &format!("bob:sha256:{}", digest.to_uppercase()),
                Some(Credential::new("bob", "test")),
            ),
            ("alice", None),
            (":secret", None),
            ("alice:", None),
            ("bob:sha256:9f86d0", None),
            ("a\u{7}b:secret", None),
        ];
        for (spec, expected) in cases {
            assert_eq!(spec.parse::<Credential>().ok(), expected, "{spec:?}");
        }
    }

    #[test]
    fn errors_and_debug_never_show_the_secret() {
        for spec in ["alice:", "alice:sha256:zz", "secret-alone", ":secret"] {
            let err = spec.parse::<Credential>().unwrap_err().to_string();
            assert!(!err.contains("secret") && !err.contains("zz"), "{err}");
        }
        let debug = format!("{:?}", Credential::new("alice", "secret"));
        assert!(
            debug.contains("alice") && !debug.contains("secret"),
            "{debug}"
        );
    }

    #[test]
    fn check_lets_in_known_users_only() {
        let users = Users::new(&[
            Credential::new("alice", "secret"),
            Credential::new("bob", "pa:ss"),
        ]);
        let denied = Verdict::Denied { attempted: true };
        let cases = [
            (Some("Basic YWxpY2U6c2VjcmV0"), Verdict::User("alice")),
            (Some("basic  YWxpY2U6c2VjcmV0 "), Verdict::User("alice")),
            (Some("Basic Ym9iOnBhOnNz"), Verdict::User("bob")), // bob:pa:ss
            (Some("Basic YWxpY2U6d3Jvbmc="), denied),           // alice:wrong
            (Some("Basic Y2Fyb2w6c2VjcmV0"), denied),           // carol:secret
            (Some("Basic Ym9iOnNlY3JldA=="), denied),           // bob:secret
            (Some("Basic YWxpY2U="), denied),                   // no colon
            (Some("Basic !!!!"), denied),
            (Some("Bearer YWxpY2U6c2VjcmV0"), denied),
            (Some("Basic"), denied),
            (None, Verdict::Denied { attempted: false }),
        ];
        for (authorization, expected) in cases {
            assert_eq!(users.check(authorization), expected, "{authorization:?}");
        }
        assert_eq!(Users::default().check(None), Verdict::Open);
    }
}
