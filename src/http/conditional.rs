//! Conditional requests (RFC 9110 §13): validators and preconditions.

use std::time::SystemTime;

use super::request::Conditions;

/// What the preconditions of a request say to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Go on and answer the request.
    Proceed,
    /// `304 Not Modified` (GET and HEAD only).
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates the preconditions in the order of RFC 9110 §13.2.2 for a GET
/// or HEAD of a representation with strong `etag` and `last_modified`.
/// Unparseable dates are ignored, as §13.1.3 and §13.1.4 say.
pub fn evaluate(
    conditions: &Conditions,
    etag: &str,
    last_modified: Option<SystemTime>,
) -> Precondition {
    // Step 1 and 2: If-Match, else If-Unmodified-Since.
    if let Some(if_match) = &conditions.if_match {
        if !matches_any(if_match, etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let (Some(since), Some(modified)) = (
        conditions
            .if_unmodified_since
            .as_deref()
            .and_then(parse_date),
        last_modified,
    ) && seconds(modified) > seconds(since)
    {
        return Precondition::Failed;
    }
    // Step 3 and 4: If-None-Match, else If-Modified-Since (GET/HEAD only).
    if let Some(if_none_match) = &conditions.if_none_match {
        if matches_any(if_none_match, etag, Comparison::Weak) {
            return Precondition::NotModified;
        }
    } else if let (Some(since), Some(modified)) = (
        conditions.if_modified_since.as_deref().and_then(parse_date),
        last_modified,
    ) && seconds(modified) <= seconds(since)
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// Whether a `Range` may be honoured given `If-Range` (RFC 9110 §13.1.5):
/// an entity-tag must match strongly, a date must equal `Last-Modified`.
pub fn if_range_holds(if_range: &str, etag: &str, last_modified: Option<SystemTime>) -> bool {
    let if_range = if_range.trim();
    if if_range.starts_with('"') || if_range.starts_with("W/") {
        return !if_range.starts_with("W/") && if_range == etag;
    }
    match (parse_date(if_range), last_modified) {
        (Some(date), Some(modified)) => seconds(date) == seconds(modified),
        _ => false,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether an `If-Match`/`If-None-Match` value (`*` or a list of
/// entity-tags) matches our strong `etag`.
fn matches_any(header: &str, etag: &str, comparison: Comparison) -> bool {
    if header.trim() == "*" {
        return true;
    }
    entity_tags(header).any(|(weak, tag)| tag == etag && (comparison == Comparison::Weak || !weak))
}

/// The entity-tags of a list: `(is_weak, "opaque")`, quotes kept. Malformed
/// members end the list (they can't match anyway).
fn entity_tags(header: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = header;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return None;
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        if !rest.starts_with('"') {
            return None;
        }
        let end = rest[1..].find('"')? + 2;
        let tag = &rest[..end];
        rest = &rest[end..];
        Some((weak, tag))
    })
}

fn parse_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

/// HTTP dates have whole seconds: compare at that resolution (before 1970
/// too).
fn seconds(time: SystemTime) -> i64 {
    super::date::unix_seconds(time).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ETAG: &str = "\"abc-1\"";

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn date(secs: u64) -> String {
        httpdate::fmt_http_date(at(secs))
    }

    #[test]
    fn precedence_table() {
        // (if_match, if_unmodified_since, if_none_match, if_modified_since, expected)
        // The file was last modified at t=1000 (plus a fraction of a second).
        type Case = (
            Option<&'static str>,
            Option<String>,
            Option<&'static str>,
            Option<String>,
            Precondition,
        );
        let cases: Vec<Case> = vec![
            (None, None, None, None, Precondition::Proceed),
            (Some("\"abc-1\""), None, None, None, Precondition::Proceed),
            (
                Some("\"x\", \"abc-1\""),
                None,
                None,
                None,
                Precondition::Proceed,
            ),
            (Some("*"), None, None, None, Precondition::Proceed),
            (Some("\"x\""), None, None, None, Precondition::Failed),
            (Some("W/\"abc-1\""), None, None, None, Precondition::Failed),
            (None, Some(date(1000)), None, None, Precondition::Proceed),
            (None, Some(date(999)), None, None, Precondition::Failed),
            (
                None,
                Some("garbage".into()),
                None,
                None,
                Precondition::Proceed,
            ),
            // If-Match wins over If-Unmodified-Since.
            (
                Some("\"abc-1\""),
                Some(date(999)),
                None,
                None,
                Precondition::Proceed,
            ),
            (
                None,
                None,
                Some("\"abc-1\""),
                None,
                Precondition::NotModified,
            ),
            (
                None,
                None,
                Some("W/\"abc-1\""),
                None,
                Precondition::NotModified,
            ),
            (
                None,
                None,
                Some("\"x\", W/\"abc-1\""),
                None,
                Precondition::NotModified,
            ),
            (None, None, Some("*"), None, Precondition::NotModified),
            (None, None, Some("\"x\""), None, Precondition::Proceed),
            (
                None,
                None,
                None,
                Some(date(1000)),
                Precondition::NotModified,
            ),
            (
                None,
                None,
                None,
                Some(date(2000)),
                Precondition::NotModified,
            ),
            (None, None, None, Some(date(999)), Precondition::Proceed),
            (
                None,
                None,
                None,
                Some("not a date".into()),
                Precondition::Proceed,
            ),
            // If-None-Match beats If-Modified-Since, both ways.
            (
                None,
                None,
                Some("\"x\""),
                Some(date(2000)),
                Precondition::Proceed,
            ),
            (
                None,
                None,
                Some("\"abc-1\""),
                Some(date(10)),
                Precondition::NotModified,
            ),
            // A failed If-Match comes first.
            (
                Some("\"x\""),
                None,
                Some("\"abc-1\""),
                None,
                Precondition::Failed,
            ),
        ];
        for (if_match, ius, inm, ims, expected) in cases {
            let conditions = Conditions {
                if_match: if_match.map(str::to_owned),
                if_unmodified_since: ius.clone(),
                if_none_match: inm.map(str::to_owned),
                if_modified_since: ims.clone(),
                ..Conditions::default()
            };
            let modified = Some(at(1000) + Duration::from_millis(300));
            assert_eq!(
                evaluate(&conditions, ETAG, modified),
                expected,
                "{if_match:?} {ius:?} {inm:?} {ims:?}"
            );
        }
    }

    #[test]
    fn if_range() {
        let modified = Some(at(1000));
        assert!(if_range_holds("\"abc-1\"", ETAG, modified));
        assert!(!if_range_holds("W/\"abc-1\"", ETAG, modified));
        assert!(!if_range_holds("\"other\"", ETAG, modified));
        assert!(if_range_holds(&date(1000), ETAG, modified));
        assert!(!if_range_holds(&date(999), ETAG, modified));
        assert!(!if_range_holds("junk", ETAG, modified));
    }
}
