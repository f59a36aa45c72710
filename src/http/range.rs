//! `Range: bytes=…` (RFC 9110 §14).

use std::ops::Range;

/// More ranges than this in one request are not honoured: the whole file is
/// sent instead (`200`), as a defence against range amplification.
pub const MAX_RANGES: usize = 100;

/// What a `Range` header asks of a representation of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Ranges {
    /// Send the whole representation (`200`): no valid byte ranges, or ones
    /// we decline to honour.
    Whole,
    /// Send these byte ranges (`206`): sorted, with overlapping and adjacent
    /// ones merged; each is non-empty and within the representation.
    Partial(Vec<Range<u64>>),
    /// None of the ranges overlaps the representation (`416`).
    Unsatisfiable,
}

/// Interprets a `Range` header for a representation of `len` bytes. A header
/// that is not a valid `bytes` range set is ignored (RFC 9110 §14.2), so
/// is one with more than [`MAX_RANGES`] ranges, or whose ranges add up to
/// more than the representation (overlap used to amplify a response).
pub fn parse(header: &str, len: u64) -> Ranges {
    let Some((unit, set)) = header.split_once('=') else {
        return Ranges::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranges::Whole;
    }
    let mut ranges = Vec::new();
    let mut requested: u64 = 0;
    let mut count = 0;
    for spec in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        count += 1;
        if count > MAX_RANGES {
            return Ranges::Whole;
        }
        let Some((first, last)) = spec.split_once('-') else {
            return Ranges::Whole;
        };
        let (first, last) = (first.trim(), last.trim());
        let range = match (number(first), number(last)) {
            // `a-b` and `a-`
            (Some(a), Some(b)) if a <= b => (a < len).then(|| a..b.saturating_add(1).min(len)),
            (Some(_), Some(_)) => return Ranges::Whole,
            (Some(a), None) if last.is_empty() => (a < len).then_some(a..len),
            // `-n`: the last n bytes
            (None, Some(n)) if first.is_empty() => {
                (n > 0 && len > 0).then(|| len - n.min(len)..len)
            }
            _ => return Ranges::Whole,
        };
        if let Some(range) = range {
            requested = requested.saturating_add(range.end - range.start);
            ranges.push(range);
        }
    }
    if count == 0 {
        return Ranges::Whole;
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    if requested > len {
        return Ranges::Whole;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    Ranges::Partial(merged)
}

/// A decimal number of at most 19 digits (fits u64); `None` otherwise.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // a list of one range is meant
    fn table() {
        use Ranges::*;
        let cases: Vec<(&str, u64, Ranges)> = vec![
            ("bytes=0-0", 10, Partial(vec![0..1])),
            ("bytes=0-9", 10, Partial(vec![0..10])),
            ("bytes=2-5", 10, Partial(vec![2..6])),
            ("bytes=5-100", 10, Partial(vec![5..10])),
            ("bytes=7-", 10, Partial(vec![7..10])),
            ("bytes=-3", 10, Partial(vec![7..10])),
            ("bytes=-30", 10, Partial(vec![0..10])),
            ("Bytes = 1-2", 10, Partial(vec![1..3])),
            ("bytes=0-1, 4-5", 10, Partial(vec![0..2, 4..6])),
            ("bytes=4-5,0-1", 10, Partial(vec![0..2, 4..6])),
            ("bytes=0-1,2-3", 10, Partial(vec![0..4])),
            ("bytes=0-3,2-5", 10, Partial(vec![0..6])), // 4 + 4 bytes: merged
            ("bytes=0-4,2-8", 10, Whole),               // 5 + 7 > 10: amplification
            ("bytes=0-1,,4-5", 10, Partial(vec![0..2, 4..6])),
            ("bytes=0-1, 20-30", 10, Partial(vec![0..2])),
            ("bytes=10-", 10, Unsatisfiable),
            ("bytes=10-20", 10, Unsatisfiable),
            ("bytes=-0", 10, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-5", 0, Unsatisfiable),
            ("bytes=5-2", 10, Whole),
            ("bytes=a-b", 10, Whole),
            ("bytes=1", 10, Whole),
            ("bytes=", 10, Whole),
            ("bytes=-", 10, Whole),
            ("items=0-1", 10, Whole),
            ("0-1", 10, Whole),
            ("bytes=99999999999999999999-", 10, Whole),
        ];
        for (header, len, expected) in cases {
            assert_eq!(parse(header, len), expected, "{header} of {len}");
        }
    }

    #[test]
    fn too_many_ranges_get_the_whole_file() {
        let many: Vec<String> = (0..=MAX_RANGES as u64)
            .map(|i| format!("{0}-{0}", i * 2))
            .collect();
        let header = format!("bytes={}", many.join(","));
        assert_eq!(parse(&header, 1000), Ranges::Whole);
        let fine: Vec<String> = (0..MAX_RANGES as u64)
            .map(|i| format!("{0}-{0}", i * 2))
            .collect();
        let header = format!("bytes={}", fine.join(","));
        assert!(matches!(parse(&header, 1000), Ranges::Partial(r) if r.len() == MAX_RANGES));
    }
}
