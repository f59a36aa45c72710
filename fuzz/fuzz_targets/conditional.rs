//! The conditional-request evaluator (RFC 9110 §13) and `If-Range`, on
//! structured headers (entity-tag lists, dates around the file's time)
//! and on raw ones.
//!
//! Invariants: no panic; for structured headers, the outcome RFC 9110
//! §13.2.2 gives (If-Match compares strongly, If-None-Match weakly, dates
//! to the second); for any headers, If-Match makes If-Unmodified-Since
//! irrelevant and If-None-Match makes If-Modified-Since irrelevant;
//! weakness of the request's tags does not matter to If-None-Match and
//! makes If-Match fail; `If-Range` holds only for the strong tag itself,
//! compared symmetrically, or for the exact `Last-Modified` second.

#![no_main]

use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use simple_web_server::fuzzing::{
    Conditions, Precondition, evaluate_preconditions, if_range_holds,
};

/// The last second an HTTP date can name (9999-12-31T23:59:59Z).
const LAST_DATE: u64 = 253_402_300_799;

#[derive(Arbitrary, Debug)]
struct Input {
    /// The opaque part of our strong entity-tag.
    etag: String,
    /// Last-Modified: seconds since the epoch and milliseconds.
    modified: Option<(u32, u16)>,
    if_match: Option<List>,
    if_none_match: Option<List>,
    if_unmodified_since: Option<Date>,
    if_modified_since: Option<Date>,
    if_range: Option<IfRange>,
}

#[derive(Arbitrary, Debug, Clone)]
enum List {
    Star,
    Tags(Vec<Tag>),
    Raw(String),
}

#[derive(Arbitrary, Debug, Clone)]
struct Tag {
    weak: bool,
    /// Ours, or another one with this opaque part.
    ours: bool,
    other: String,
    /// How it is separated from the one before.
    spacing: u8,
}

#[derive(Arbitrary, Debug)]
enum Date {
    /// Seconds from the file's time (or a fixed time without one).
    Offset(i32),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum IfRange {
    Tag(Tag),
    Date(i32),
    Raw(String),
}

/// `"opaque"`, with only the characters an entity-tag may hold.
fn quoted(opaque: &str) -> String {
    let opaque: String = opaque
        .chars()
        .filter(|&c| c.is_ascii_graphic() && c != '"')
        .collect();
    format!("\"{opaque}\"")
}

impl Tag {
    fn quoted(&self, etag: &str) -> String {
        if self.ours {
            etag.to_owned()
        } else {
            quoted(&self.other)
        }
    }

    fn render(&self, etag: &str) -> String {
        let weak = if self.weak { "W/" } else { "" };
        format!("{weak}{}", self.quoted(etag))
    }
}

impl List {
    fn render(&self, etag: &str) -> String {
        match self {
            List::Star => "*".to_owned(),
            List::Raw(raw) => raw.clone(),
            List::Tags(tags) => {
                let mut out = String::new();
                for (i, tag) in tags.iter().enumerate() {
                    if i > 0 {
                        out.push_str([", ", ",", " ,\t"][usize::from(tag.spacing % 3)]);
                    }
                    out.push_str(&tag.render(etag));
                }
                out
            }
        }
    }

    /// Whether the list matches `etag`, compared strongly or weakly;
    /// `None` for a raw value.
    fn matches(&self, etag: &str, strong: bool) -> Option<bool> {
        match self {
            List::Star => Some(true),
            List::Raw(_) => None,
            List::Tags(tags) => Some(
                tags.iter()
                    .any(|t| t.quoted(etag) == etag && !(strong && t.weak)),
            ),
        }
    }

    fn with_weak(&self, weak: impl Fn(bool) -> bool) -> List {
        match self {
            List::Tags(tags) => List::Tags(
                tags.iter()
                    .map(|t| Tag {
                        weak: weak(t.weak),
                        ..t.clone()
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// An IMF-fixdate `offset` seconds from `base`, within what a date can name.
fn date(base: u64, offset: i32) -> (u64, String) {
    let secs = base.saturating_add_signed(offset.into()).min(LAST_DATE);
    let text = httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    (secs, text)
}

/// The second `time` falls in.
fn seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A date field's text, and the second it names (`None` when raw).
type DateField = (String, Option<u64>);

fuzz_target!(|input: Input| {
    let etag = quoted(&input.etag);
    let modified = input.modified.map(|(secs, millis)| {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(secs.into())
            + Duration::from_millis(u64::from(millis % 1000))
    });
    let modified_secs = modified.map(seconds);
    let base = modified_secs.unwrap_or(1_000_000_000);
    let date_field = |field: &Date| -> DateField {
        match field {
            Date::Offset(offset) => {
                let (secs, text) = date(base, *offset);
                (text, Some(secs))
            }
            Date::Raw(raw) => (raw.clone(), None),
        }
    };
    let ius = input.if_unmodified_since.as_ref().map(date_field);
    let ims = input.if_modified_since.as_ref().map(date_field);
    let (im, inm) = (input.if_match.as_ref(), input.if_none_match.as_ref());

    let evaluate = |im: Option<&List>,
                    ius: Option<&DateField>,
                    inm: Option<&List>,
                    ims: Option<&DateField>| {
        let conditions = Conditions {
            if_match: im.map(|list| list.render(&etag)),
            if_unmodified_since: ius.map(|(text, _)| text.clone()),
            if_none_match: inm.map(|list| list.render(&etag)),
            if_modified_since: ims.map(|(text, _)| text.clone()),
            ..Conditions::default()
        };
        evaluate_preconditions(&conditions, &etag, modified)
    };
    let got = evaluate(im, ius.as_ref(), inm, ims.as_ref());

    // RFC 9110 §13.2.2, where every field is structured.
    let expected = || -> Option<Precondition> {
        if let Some(list) = im {
            if !list.matches(&etag, true)? {
                return Some(Precondition::Failed);
            }
        } else if let Some((_, date)) = &ius {
            let date = (*date)?;
            if modified_secs.is_some_and(|m| m > date) {
                return Some(Precondition::Failed);
            }
        }
        if let Some(list) = inm {
            if list.matches(&etag, false)? {
                return Some(Precondition::NotModified);
            }
        } else if let Some((_, date)) = &ims {
            let date = (*date)?;
            if modified_secs.is_some_and(|m| m <= date) {
                return Some(Precondition::NotModified);
            }
        }
        Some(Precondition::Proceed)
    };
    if let Some(expected) = expected() {
        assert_eq!(got, expected, "for {etag} modified at {modified_secs:?}");
    }

    // Precedence, whatever the values.
    if im.is_some() {
        let without = evaluate(im, None, inm, ims.as_ref());
        assert_eq!(got, without, "If-Unmodified-Since counted beside If-Match");
    }
    if inm.is_some() {
        let without = evaluate(im, ius.as_ref(), inm, None);
        assert_eq!(
            got, without,
            "If-Modified-Since counted beside If-None-Match"
        );
    }
    // Weak comparison ignores weakness; strong comparison never matches a weak tag.
    if let Some(list @ List::Tags(_)) = inm {
        let flipped = list.with_weak(|weak| !weak);
        let again = evaluate(im, ius.as_ref(), Some(&flipped), ims.as_ref());
        assert_eq!(got, again, "weakness changed an If-None-Match");
    }
    if let Some(list @ List::Tags(_)) = im {
        let weak = list.with_weak(|_| true);
        let again = evaluate(Some(&weak), ius.as_ref(), inm, ims.as_ref());
        assert_eq!(again, Precondition::Failed, "a weak tag passed If-Match");
    }

    if let Some(if_range) = &input.if_range {
        let (text, expected) = match if_range {
            IfRange::Tag(tag) => (
                tag.render(&etag),
                Some(!tag.weak && tag.quoted(&etag) == etag),
            ),
            IfRange::Date(offset) => {
                let (secs, text) = date(base, *offset);
                (text, Some(modified_secs == Some(secs)))
            }
            IfRange::Raw(raw) => (raw.clone(), None),
        };
        let holds = if_range_holds(&text, &etag, modified);
        if let Some(expected) = expected {
            assert_eq!(
                holds, expected,
                "If-Range {text:?} for {etag} at {modified_secs:?}"
            );
        }
        if holds {
            let text = text.trim();
            let date = httpdate::parse_http_date(text).ok().map(seconds);
            assert!(
                text == etag || (date.is_some() && date == modified_secs),
                "If-Range {text:?} held for {etag} at {modified_secs:?}"
            );
        }
        if let IfRange::Tag(tag) = if_range
            && !tag.weak
        {
            let theirs = tag.quoted(&etag);
            assert_eq!(
                if_range_holds(&theirs, &etag, modified),
                if_range_holds(&etag, &theirs, modified),
                "If-Range compares {theirs} and {etag} one way only"
            );
        }
    }
});
