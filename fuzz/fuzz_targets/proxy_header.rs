//! The PROXY protocol header parser on a connection's first bytes.
//!
//! Invariants: no panic; a header found is non-empty, within the input
//! and within `MAX_HEADER` (the bytes a connection peeks at); it is the
//! same found on its own bytes alone, or with anything after it; every
//! shorter prefix is "not complete yet" (a header arriving in pieces is
//! never refused); a refusal stays a refusal however much more arrives,
//! and no prefix of a refused input is a header; and a buffer of
//! `MAX_HEADER` bytes is never "not complete yet".

#![no_main]

use libfuzzer_sys::fuzz_target;
use simple_web_server::fuzzing::{MAX_PROXY_HEADER, parse_proxy_header};

/// Up to `n` cut points spread over `0..len`, and the ends.
fn cuts(len: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..n)
        .map(move |i| i * len / n)
        .chain([len.saturating_sub(1)])
}

fuzz_target!(|data: &[u8]| {
    let result = parse_proxy_header(data);
    match &result {
        Ok(Some(header)) => {
            assert!(header.len > 0, "an empty header");
            assert!(
                header.len <= data.len(),
                "a header of {} in {}",
                header.len,
                data.len()
            );
            assert!(
                header.len <= MAX_PROXY_HEADER,
                "a header of {} bytes",
                header.len
            );
            let own = &data[..header.len];
            assert_eq!(parse_proxy_header(own), result, "alone");
            let mut more = own.to_vec();
            more.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n\0\xff");
            assert_eq!(parse_proxy_header(&more), result, "followed");
            for cut in cuts(header.len, 16) {
                assert_eq!(
                    parse_proxy_header(&own[..cut]),
                    Ok(None),
                    "a prefix of {cut} of a {}-byte header",
                    header.len
                );
            }
        }
        Ok(None) => {
            assert!(
                data.len() < MAX_PROXY_HEADER,
                "{} bytes, still incomplete",
                data.len()
            );
        }
        Err(_) => {
            let mut more = data.to_vec();
            more.extend_from_slice(b"\r\n");
            assert!(
                parse_proxy_header(&more).is_err(),
                "refused, then taken with more"
            );
            for cut in cuts(data.len(), 16) {
                assert!(
                    !matches!(parse_proxy_header(&data[..cut]), Ok(Some(_))),
                    "a header in a prefix of {cut} of a refused input"
                );
            }
        }
    }
});
