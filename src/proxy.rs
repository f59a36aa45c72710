//! The PROXY protocol (HAProxy's spec, versions 1 and 2): a load balancer
//! that relays a connection first says who the client was. With
//! `--proxy-protocol` every connection must start with such a header;
//! nothing is guessed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The version 2 signature, the first 12 bytes of a binary header.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest version 1 header, CRLF included (the spec's figure).
const V1_MAX: usize = 107;
/// The longest version 2 header accepted: 16 bytes and up to this many of
/// addresses and TLVs (a balancer's TLVs, such as SSL details, take a few
/// hundred bytes).
pub const V2_MAX_PAYLOAD: usize = 2048;
/// Bytes to look at to find any header we accept.
pub const MAX_HEADER: usize = 16 + V2_MAX_PAYLOAD;

/// What a complete header says.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    /// Its length: the connection's own bytes start after it.
    pub len: usize,
    /// The client the balancer relays; `None` when the header says to use
    /// the connection's own addresses (v1 `UNKNOWN`, v2 `LOCAL`, or a
    /// family that is not TCP over IP).
    pub source: Option<SocketAddr>,
}

/// Why a connection's first bytes are not a header we accept.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

/// Parses the header at the start of `buf`: `Ok(None)` when it may still
/// be one but is not complete yet.
pub fn parse(buf: &[u8]) -> Result<Option<Header>, Invalid> {
    let v1 = b"PROXY ";
    let prefix = buf.len().min(12);
    if buf[..prefix] == V2_SIGNATURE[..prefix] {
        return if buf.len() < 16 {
            Ok(None)
        } else {
            parse_v2(buf)
        };
    }
    if buf[..buf.len().min(6)] == v1[..buf.len().min(6)] {
        return parse_v1(buf);
    }
    Err(Invalid("no PROXY protocol header"))
}

fn parse_v1(buf: &[u8]) -> Result<Option<Header>, Invalid> {
    let Some(end) = buf.iter().take(V1_MAX).position(|&b| b == b'\n') else {
        return if buf.len() >= V1_MAX {
            Err(Invalid("PROXY v1 header too long"))
        } else {
            Ok(None)
        };
    };
    let line = &buf[..end];
    let line = line
        .strip_suffix(b"\r")
        .ok_or(Invalid("PROXY v1 header not ended by CRLF"))?;
    // After UNKNOWN the rest of the line is to be ignored, whatever it is
    // (the spec).
    if line.starts_with(b"PROXY UNKNOWN") && matches!(line.get(13), None | Some(b' ')) {
        return Ok(Some(Header {
            len: end + 1,
            source: None,
        }));
    }
    let line = std::str::from_utf8(line).map_err(|_| Invalid("PROXY v1 header not ASCII"))?;
    let mut fields = line.split(' ');
    let _proxy = fields.next();
    let source = match fields.next() {
        Some(family @ ("TCP4" | "TCP6")) => {
            let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
            ) else {
                return Err(Invalid("PROXY v1 header needs four addresses and ports"));
            };
            let ip = |s: &str| -> Result<IpAddr, Invalid> {
                let ip = match family {
                    "TCP4" => s.parse::<Ipv4Addr>().map(IpAddr::V4),
                    _ => s.parse::<Ipv6Addr>().map(IpAddr::V6),
                };
                ip.map_err(|_| Invalid("PROXY v1 header with a bad address"))
            };
            let port = |s: &str| -> Result<u16, Invalid> {
                // Decimal without sign or leading zeros (the spec).
                let canonical = !s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && (s == "0" || !s.starts_with('0'));
                canonical
                    .then(|| s.parse().ok())
                    .flatten()
                    .ok_or(Invalid("PROXY v1 header with a bad port"))
            };
            let (src, _dst, sport, _dport) = (ip(src)?, ip(dst)?, port(sport)?, port(dport)?);
            Some(SocketAddr::new(src, sport))
        }
        _ => return Err(Invalid("PROXY v1 header with an unknown protocol")),
    };
    Ok(Some(Header {
        len: end + 1,
        source,
    }))
}

fn parse_v2(buf: &[u8]) -> Result<Option<Header>, Invalid> {
    let version_command = buf[12];
    if version_command >> 4 != 2 {
        return Err(Invalid("PROXY v2 header with an unknown version"));
    }
    let local = match version_command & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(Invalid("PROXY v2 header with an unknown command")),
    };
    let family = buf[13];
    let payload = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    if payload > V2_MAX_PAYLOAD {
        return Err(Invalid("PROXY v2 header too long"));
    }
    let len = 16 + payload;
    let Some(body) = buf.get(16..len) else {
        return Ok(None);
    };
    // LOCAL: the balancer's own connection (a health check): the whole
    // address block is to be ignored, family included (the spec).
    if local {
        return Ok(Some(Header { len, source: None }));
    }
    // The addresses' length for each address family (STREAM or DGRAM).
    let addresses = match family {
        0x11 | 0x12 => 12,
        0x21 | 0x22 => 36,
        0x31 | 0x32 => 216,
        _ => 0,
    };
    if body.len() < addresses {
        return Err(Invalid("PROXY v2 header shorter than its addresses"));
    }
    check_tlvs(&body[addresses..])?;
    // An unspecified or non-IP family: the connection's own addresses (the
    // spec).
    let source = match family {
        0x11 => {
            let ip: [u8; 4] = body[0..4].try_into().expect("4 bytes");
            Some(SocketAddr::new(
                IpAddr::from(ip),
                u16::from_be_bytes([body[8], body[9]]),
            ))
        }
        0x21 => {
            let ip: [u8; 16] = body[0..16].try_into().expect("16 bytes");
            Some(SocketAddr::new(
                IpAddr::from(ip),
                u16::from_be_bytes([body[32], body[33]]),
            ))
        }
        0x00 | 0x31 | 0x32 => None,
        _ => return Err(Invalid("PROXY v2 header for a protocol other than TCP")),
    };
    Ok(Some(Header { len, source }))
}

/// TLVs (type, 16-bit length, value) must fill what follows the addresses
/// exactly; their contents are not needed here and are skipped.
fn check_tlvs(mut tlvs: &[u8]) -> Result<(), Invalid> {
    while !tlvs.is_empty() {
        let [_kind, high, low, rest @ ..] = tlvs else {
            return Err(Invalid("PROXY v2 header with a truncated TLV"));
        };
        let len = u16::from_be_bytes([*high, *low]) as usize;
        tlvs = rest
            .get(len..)
            .ok_or(Invalid("PROXY v2 header with a truncated TLV"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.push(0x20 | command);
        header.push(family);
        header.extend_from_slice(&(body.len() as u16).to_be_bytes());
        header.extend_from_slice(body);
        header
    }

    #[test]
    fn v1_headers() {
        let ok = |raw: &[u8], source: Option<&str>| {
            let header = parse(raw).unwrap().unwrap();
            assert_eq!(header.source, source.map(|s| s.parse().unwrap()), "{raw:?}");
            assert_eq!(
                header.len,
                raw.iter().position(|&b| b == b'\n').unwrap() + 1
            );
        };
        ok(
            b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\nGET /",
            Some("192.0.2.1:56324"),
        );
        ok(
            b"PROXY TCP6 2001:db8::1 2001:db8::2 1 80\r\n",
            Some("[2001:db8::1]:1"),
        );
        ok(b"PROXY UNKNOWN whatever follows\r\n", None);
        ok(b"PROXY UNKNOWN\r\n", None);
        ok(b"PROXY UNKNOWN \xff\xfe anything\r\n", None);
        let bad: [&[u8]; 9] = [
            b"GET / HTTP/1.1\r\n",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 56324\r\n",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443 x\r\n",
            b"PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 056324 443\r\n",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 443\r\n",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1 443\n",
            b"PROXY UDP4 192.0.2.1 192.0.2.2 1 443\r\n",
            b"proxy TCP4 192.0.2.1 192.0.2.2 1 443\r\n",
        ];
        for raw in bad {
            assert!(parse(raw).is_err(), "{raw:?}");
        }
        assert!(parse(&[b'P'; 200][..]).is_err());
        let long = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 120]].concat();
        assert!(parse(&long).is_err());
        for partial in [&b"PRO"[..], b"PROXY TCP4 192.0.2.1", b""] {
            assert_eq!(parse(partial), Ok(None), "{partial:?}");
        }
    }

    #[test]
    fn v2_headers() {
        let mut tcp4 = vec![192, 0, 2, 1, 192, 0, 2, 2, 0xdc, 0x04, 0x01, 0xbb];
        let header = parse(&v2(1, 0x11, &tcp4)).unwrap().unwrap();
        assert_eq!(header.source, Some("192.0.2.1:56324".parse().unwrap()));
        assert_eq!(header.len, 28);
        // With TLVs (an ALPN and a NOOP), and a request behind it.
        tcp4.extend_from_slice(&[0x01, 0, 2, b'h', b'2', 0x04, 0, 0]);
        let mut raw = v2(1, 0x11, &tcp4);
        raw.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(parse(&raw).unwrap().unwrap().len, 16 + 20);

        let mut tcp6 = vec![0u8; 36];
        tcp6[0] = 0x20;
        tcp6[1] = 0x01;
        tcp6[15] = 7;
        tcp6[32..34].copy_from_slice(&8080u16.to_be_bytes());
        let header = parse(&v2(1, 0x21, &tcp6)).unwrap().unwrap();
        assert_eq!(header.source, Some("[2001::7]:8080".parse().unwrap()));

        // LOCAL (a health check) and UNSPEC: the connection's own addresses.
        assert_eq!(parse(&v2(0, 0x11, &tcp4)).unwrap().unwrap().source, None);
        assert_eq!(parse(&v2(1, 0x00, &[])).unwrap().unwrap().source, None);
        // LOCAL ignores the block whatever its family; AF_UNIX paths (216
        // bytes) are no address to log.
        assert_eq!(
            parse(&v2(0, 0x12, &tcp4[..12])).unwrap().unwrap().source,
            None
        );
        assert_eq!(
            parse(&v2(1, 0x31, &[b'/'; 216])).unwrap().unwrap().source,
            None
        );

        let bad = [
            v2(2, 0x11, &tcp4),                                  // unknown command
            v2(1, 0x12, &tcp4[..12]),                            // UDP
            v2(1, 0x11, &tcp4[..8]),                             // short addresses
            v2(1, 0x11, &[&tcp4[..12], &[1, 0, 9, 0]].concat()), // truncated TLV
            v2(1, 0x11, &[&tcp4[..12], &[1, 0]].concat()),       // truncated TLV
        ];
        for raw in bad {
            assert!(parse(&raw).is_err(), "{raw:?}");
        }
        let mut wrong_version = v2(1, 0x11, &tcp4);
        wrong_version[12] = 0x11;
        assert!(parse(&wrong_version).is_err());
        let mut oversized = v2(1, 0x11, &tcp4);
        oversized[14..16].copy_from_slice(&((V2_MAX_PAYLOAD + 1) as u16).to_be_bytes());
        assert!(parse(&oversized).is_err());
        // Incomplete: any prefix of a valid header.
        let whole = v2(1, 0x11, &tcp4);
        for n in 0..whole.len() {
            assert_eq!(parse(&whole[..n]), Ok(None), "{n}");
        }
    }
}
