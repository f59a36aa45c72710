//! `Accept-Encoding` negotiation on any header and any set of available
//! codings.
//!
//! Input: one byte (bits 0–2: brotli, zstd and gzip available; bit 3: no
//! header at all), then the header (lossy UTF-8).
//!
//! Invariants: no panic; no header, identity; the coding chosen is
//! available and not refused by the header (its own entry, else `*`,
//! with q > 0); taking away codings that were not chosen changes nothing,
//! and identity stays identity with fewer codings; for a header that
//! follows RFC 9110's grammar, the choice is the acceptable coding with
//! the highest q (brotli, zstd, gzip among equals), unless `identity` is
//! named with a higher q.

#![no_main]

use libfuzzer_sys::fuzz_target;
use simple_web_server::fuzzing::{Coding, negotiate};

/// Optional whitespace (RFC 9110 §5.6.3).
const OWS: [char; 2] = [' ', '\t'];

/// A `qvalue` in thousandths (RFC 9110 §12.4.2), if well-formed.
fn qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match int {
        "0" => Some(format!("{frac:0<3}").parse().expect("three digits")),
        "1" if frac.bytes().all(|b| b == b'0') => Some(1000),
        _ => None,
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The members of a header that follows the grammar (`#( codings [
/// weight ] )`): `(name, q)`; `None` for any other header.
fn members(accept: &str) -> Option<Vec<(&str, u16)>> {
    let mut members = Vec::new();
    for member in accept.split(',') {
        let member = member.trim_matches(OWS);
        if member.is_empty() {
            continue;
        }
        let (name, weight) = match member.split_once(';') {
            Some((name, weight)) => (name.trim_matches(OWS), Some(weight.trim_matches(OWS))),
            None => (member, None),
        };
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return None;
        }
        let q = match weight {
            None => 1000,
            Some(weight) => {
                let value = weight.strip_prefix("q=").or(weight.strip_prefix("Q="))?;
                qvalue(value)?
            }
        };
        members.push((name, q));
    }
    Some(members)
}

/// The q the members give `name`: its first entry's, else `*`'s if `star`.
fn quality(members: &[(&str, u16)], name: &str, star: bool) -> u16 {
    let named = |n: &str| members.iter().find(|(m, _)| m.eq_ignore_ascii_case(n));
    let entry = named(name).or_else(|| if star { named("*") } else { None });
    entry.map_or(0, |(_, q)| *q)
}

/// What RFC 9110 §12.5.3 and the server's preferences choose.
fn expected(members: &[(&str, u16)], available: impl Fn(Coding) -> bool) -> Option<Coding> {
    let mut best: Option<(u16, Coding)> = None;
    for coding in Coding::ALL.into_iter().filter(|c| available(*c)) {
        let q = quality(members, coding.token(), true);
        if q > 0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, coding));
        }
    }
    let (q, coding) = best?;
    (q >= quality(members, "identity", false)).then_some(coding)
}

fn bit(coding: Coding) -> u8 {
    match coding {
        Coding::Brotli => 1,
        Coding::Zstd => 2,
        Coding::Gzip => 4,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, header)) = data.split_first() else {
        return;
    };
    let mask = flags & 7;
    let available = |mask: u8| move |coding: Coding| mask & bit(coding) != 0;
    if flags & 8 != 0 {
        assert_eq!(
            negotiate(None, available(mask)),
            None,
            "a coding without Accept-Encoding"
        );
        return;
    }
    let header = String::from_utf8_lossy(header);
    let chosen = negotiate(Some(&header), available(mask));

    if let Some(coding) = chosen {
        assert!(available(mask)(coding), "{coding:?} chosen, not available");
        assert_eq!(
            negotiate(Some(&header), available(bit(coding))),
            Some(coding),
            "{coding:?} not chosen alone"
        );
        // Not refused: its own entry, else `*`, says q > 0.
        let entry = header.split(',').find(|member| {
            let name = member.split(';').next().unwrap_or_default().trim();
            name.eq_ignore_ascii_case(coding.token())
        });
        let entry = entry.or_else(|| {
            header
                .split(',')
                .find(|member| member.split(';').next().unwrap_or_default().trim() == "*")
        });
        let entry = entry.unwrap_or_else(|| panic!("{coding:?} chosen, not named in {header:?}"));
        // The first q parameter counts (a second one is malformed anyway).
        let q = entry.split(';').skip(1).find_map(|param| {
            let param = param.trim();
            param.strip_prefix("q=").or(param.strip_prefix("Q="))
        });
        let zero = q.is_some_and(|v| v.trim().parse::<f64>().is_ok_and(|q| q == 0.0));
        assert!(!zero, "{coding:?} chosen, refused by {entry:?}");
    } else {
        for fewer in 0..mask {
            if fewer & !mask == 0 {
                assert_eq!(
                    negotiate(Some(&header), available(fewer)),
                    None,
                    "fewer codings"
                );
            }
        }
    }

    if let Some(members) = members(&header) {
        assert_eq!(
            chosen,
            expected(&members, available(mask)),
            "{header:?} with {mask:03b} available"
        );
    }
});
