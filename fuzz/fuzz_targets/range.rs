//! The `Range` parser on any header and length, and for lengths a page can
//! have, the answer planned from it: `200`, `416`, a single `206`, or
//! `multipart/byteranges`.
//!
//! Input: one mode byte (a multiple of 4: any 64-bit length from the next
//! 8 bytes; otherwise a length up to 65535 from the next 2), then the
//! header (lossy UTF-8).
//!
//! Invariants (`range.rs`'s contract): the ranges of a `206` are
//! non-empty, within the representation, sorted, with overlapping and
//! adjacent ones merged, at most `MAX_RANGES`, adding up to no more than
//! the length; they cover exactly the bytes the header's satisfiable
//! ranges ask for; more than `MAX_RANGES` ranges get the whole
//! representation. The answer's `Content-Length` is its body's length,
//! each part carries the bytes its `Content-Range` names, and the body is
//! a well-formed `multipart/byteranges` for several ranges.

#![no_main]

use std::ops::Range;

use libfuzzer_sys::fuzz_target;
use simple_web_server::fuzzing::{Conditions, Ranges, parse_range, respond};

/// `range.rs`: `MAX_RANGES`.
const MAX_RANGES: usize = 100;

/// What one range-spec asks for, read independently of `range.rs`:
/// `Some(None)` a valid spec that asks for nothing of `len` bytes, `None`
/// an invalid one.
fn requested(spec: &str, len: u64) -> Option<Option<Range<u64>>> {
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    Some(match (first, last) {
        ("", n) => {
            let n = number(n)?;
            (n > 0 && len > 0).then(|| len - n.min(len)..len)
        }
        (a, "") => {
            let a = number(a)?;
            (a < len).then_some(a..len)
        }
        (a, b) => {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return None;
            }
            (a < len).then(|| a..(b.saturating_add(1)).min(len))
        }
    })
}

/// Checks a `206`'s ranges against the header they came from.
fn check_partial(header: &str, len: u64, ranges: &[Range<u64>]) {
    assert!(!ranges.is_empty(), "a 206 with no range");
    assert!(ranges.len() <= MAX_RANGES, "{} ranges", ranges.len());
    for range in ranges {
        assert!(
            range.start < range.end && range.end <= len,
            "{range:?} of {len}"
        );
    }
    for pair in ranges.windows(2) {
        assert!(
            pair[0].end < pair[1].start,
            "{:?} and {:?}: not sorted, or not merged",
            pair[0],
            pair[1]
        );
    }
    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    assert!(total <= len, "{total} bytes of {len}");

    // Exactly the bytes asked for: every requested range lies within one
    // of ours, and every one of ours is covered by requested ones.
    let (_, set) = header.split_once('=').expect("a 206 from a range set");
    let mut asked: Vec<Range<u64>> = set
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|spec| requested(spec, len).expect("a 206 from an invalid spec"))
        .collect();
    for range in &asked {
        assert!(
            ranges
                .iter()
                .any(|r| r.start <= range.start && range.end <= r.end),
            "{range:?} asked for, not sent"
        );
    }
    asked.sort_by_key(|r| r.start);
    for range in ranges {
        let mut covered = range.start;
        for a in &asked {
            if a.start <= covered && a.end > covered {
                covered = a.end;
            }
        }
        assert!(covered >= range.end, "{range:?} sent, not all asked for");
    }
}

/// The bytes of the page served: position-dependent, so a wrong slice shows.
fn page(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ (i >> 8) as u8).collect()
}

/// Checks the answer planned for a GET of a page of `len` bytes.
fn check_answer(header: &str, len: usize, ranges: &Ranges) {
    let page = page(len);
    let conditions = Conditions {
        range: Some(header.to_owned()),
        ..Conditions::default()
    };
    let answer = respond(page.clone(), &conditions);
    assert_eq!(
        answer.content_length,
        answer.body.len() as u64,
        "Content-Length"
    );
    match ranges {
        Ranges::Whole => {
            assert_eq!(answer.status, 200);
            assert!(answer.body == page, "a 200 that is not the page");
        }
        Ranges::Unsatisfiable => {
            assert_eq!(answer.status, 416);
            assert_eq!(answer.content_range, Some(format!("bytes */{len}")));
        }
        Ranges::Partial(ranges) if ranges.len() == 1 => {
            let r = &ranges[0];
            assert_eq!(answer.status, 206);
            assert_eq!(
                answer.content_range,
                Some(format!("bytes {}-{}/{len}", r.start, r.end - 1))
            );
            assert!(
                answer.body == page[r.start as usize..r.end as usize],
                "{r:?}"
            );
        }
        Ranges::Partial(ranges) => {
            assert_eq!(answer.status, 206);
            let content_type = answer.content_type.as_deref().unwrap_or_default();
            let boundary = content_type
                .strip_prefix("multipart/byteranges; boundary=")
                .unwrap_or_else(|| panic!("a multipart 206 of {content_type:?}"));
            assert!(!boundary.is_empty() && boundary.len() <= 70, "{boundary:?}");
            let mut expected = Vec::new();
            for (i, r) in ranges.iter().enumerate() {
                if i > 0 {
                    expected.extend_from_slice(b"\r\n");
                }
                expected.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Type: text/plain\r\n\
                         Content-Range: bytes {}-{}/{len}\r\n\r\n",
                        r.start,
                        r.end - 1
                    )
                    .as_bytes(),
                );
                expected.extend_from_slice(&page[r.start as usize..r.end as usize]);
            }
            expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            assert!(answer.body == expected, "a multipart body not as planned");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let (len, header) = if mode % 4 == 0 {
        let Some((len, rest)) = data.split_first_chunk::<8>() else {
            return;
        };
        (u64::from_le_bytes(*len), rest)
    } else {
        let Some((len, rest)) = data.split_first_chunk::<2>() else {
            return;
        };
        (u64::from(u16::from_le_bytes(*len)), rest)
    };
    let header = String::from_utf8_lossy(header);
    let ranges = parse_range(&header, len);

    let specs = header.split_once('=').map_or(0, |(_, set)| {
        set.split(',').filter(|s| !s.trim().is_empty()).count()
    });
    if specs > MAX_RANGES {
        assert_eq!(ranges, Ranges::Whole, "{specs} ranges honoured");
    }
    if let Ranges::Partial(ranges) = &ranges {
        check_partial(&header, len, ranges);
    }
    if len <= u64::from(u16::MAX) {
        check_answer(&header, len as usize, &ranges);
    }
});
