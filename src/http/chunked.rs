//! The chunked transfer coding of a request body (RFC 9112 §7.1), read
//! strictly and thrown away: a static file server needs no request body,
//! but must find where it ends.
//!
//! Every line ends in CRLF (a bare LF is an error here, as in the request
//! head); a chunk size is 1 to 16 hex digits, nothing else; extensions are
//! tokens with token or quoted-string values, at most [`MAX_LINE`] bytes of
//! them on a line; the data is exactly the chunk size, then CRLF; trailer
//! fields are `name: value` lines, at most [`MAX_TRAILERS`] bytes in all.

use super::request::{MAX_DISCARDED_BODY, is_tchar};

/// Longest chunk-size line (size and extensions).
const MAX_LINE: usize = 256;
/// Most bytes of trailer fields.
const MAX_TRAILERS: usize = 16 * 1024;

/// Why a chunked body is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// Malformed framing: `400`, and the connection closes.
    Malformed(&'static str),
    /// More than [`MAX_DISCARDED_BODY`] decoded bytes: `413`.
    TooLarge,
}

/// Where the decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Hex digits of a chunk size (`digits` so far).
    Size {
        digits: usize,
    },
    /// Spaces after the size: only more of them or `;` may follow.
    SizeSpace,
    /// Extensions after the size, up to the line's CR.
    Extensions {
        quoted: bool,
        escaped: bool,
    },
    /// The LF that ends a line whose CR was seen; `then` follows.
    Lf {
        then: AfterLf,
    },
    /// Chunk data still to skip.
    Data {
        left: u64,
    },
    /// The CR after a chunk's data.
    DataCr,
    /// At the start of a trailer line (an empty one ends the body).
    TrailerStart,
    /// Inside a trailer field line (`colon`: its colon was seen).
    Trailer {
        colon: bool,
        name: usize,
    },
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterLf {
    /// After a size line: its data (or the trailers, for size 0).
    Data,
    /// After a chunk's data.
    NextSize,
    /// After a trailer field line.
    Trailer,
    /// After the empty line that ends the trailers.
    Done,
}

/// A chunked body being read.
#[derive(Debug)]
pub struct Chunked {
    step: Step,
    size: u64,
    line: usize,
    trailers: usize,
    decoded: u64,
}

impl Default for Chunked {
    fn default() -> Chunked {
        Chunked {
            step: Step::Size { digits: 0 },
            size: 0,
            line: 0,
            trailers: 0,
            decoded: 0,
        }
    }
}

impl Chunked {
    /// Reads what `input` holds of the body; returns how many bytes belong
    /// to it (the rest is the next request). [`is_done`](Chunked::is_done)
    /// says whether the body ended.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, ChunkError> {
        let mut at = 0;
        while at < input.len() && self.step != Step::Done {
            if let Step::Data { left } = self.step {
                let take = left.min((input.len() - at) as u64);
                at += take as usize;
                self.step = match left - take {
                    0 => Step::DataCr,
                    left => Step::Data { left },
                };
                continue;
            }
            self.byte(input[at])?;
            at += 1;
        }
        Ok(at)
    }

    /// The body ended (the last chunk and the trailers were read).
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    fn byte(&mut self, b: u8) -> Result<(), ChunkError> {
        use ChunkError::Malformed;
        self.step = match self.step {
            Step::Size { digits } => {
                self.line += 1;
                match b {
                    _ if b.is_ascii_hexdigit() => {
                        if digits == 16 {
                            return Err(Malformed("chunk size too long"));
                        }
                        let digit = (b as char).to_digit(16).unwrap_or(0);
                        self.size = self.size << 4 | u64::from(digit);
                        Step::Size { digits: digits + 1 }
                    }
                    _ if digits == 0 => return Err(Malformed("chunk size is not hex")),
                    b';' => Step::Extensions {
                        quoted: false,
                        escaped: false,
                    },
                    b' ' | b'\t' => Step::SizeSpace,
                    b'\r' => self.end_size_line()?,
                    _ => return Err(Malformed("invalid chunk size")),
                }
            }
            Step::SizeSpace => {
                self.line += 1;
                match b {
                    b' ' | b'\t' if self.line <= MAX_LINE => Step::SizeSpace,
                    b';' => Step::Extensions {
                        quoted: false,
                        escaped: false,
                    },
                    _ => return Err(Malformed("invalid chunk size")),
                }
            }
            Step::Extensions { quoted, escaped } => {
                self.line += 1;
                if self.line > MAX_LINE {
                    return Err(Malformed("chunk extensions too long"));
                }
                match (quoted, escaped, b) {
                    (true, true, _) if b == b'\t' || (b' '..=b'~').contains(&b) => {
                        Step::Extensions {
                            quoted: true,
                            escaped: false,
                        }
                    }
                    (true, false, b'\\') => Step::Extensions {
                        quoted: true,
                        escaped: true,
                    },
                    (true, false, b'"') => Step::Extensions {
                        quoted: false,
                        escaped: false,
                    },
                    (true, false, _) if b == b'\t' || (b' '..=b'~').contains(&b) => self.step,
                    (false, _, b'"') => Step::Extensions {
                        quoted: true,
                        escaped: false,
                    },
                    (false, _, b'\r') => self.end_size_line()?,
                    (false, _, b';' | b'=' | b' ' | b'\t') => self.step,
                    (false, _, _) if is_tchar(b) => self.step,
                    _ => return Err(Malformed("invalid chunk extension")),
                }
            }
            Step::Lf { then } => {
                if b != b'\n' {
                    return Err(Malformed("CR without LF"));
                }
                match then {
                    AfterLf::Data if self.size == 0 => Step::TrailerStart,
                    AfterLf::Data => Step::Data { left: self.size },
                    AfterLf::NextSize => {
                        self.size = 0;
                        self.line = 0;
                        Step::Size { digits: 0 }
                    }
                    AfterLf::Trailer => Step::TrailerStart,
                    AfterLf::Done => Step::Done,
                }
            }
            Step::DataCr => match b {
                b'\r' => Step::Lf {
                    then: AfterLf::NextSize,
                },
                _ => return Err(Malformed("chunk data longer than its size")),
            },
            Step::TrailerStart => match b {
                b'\r' => Step::Lf {
                    then: AfterLf::Done,
                },
                _ if is_tchar(b) => {
                    self.count_trailer()?;
                    Step::Trailer {
                        colon: false,
                        name: 1,
                    }
                }
                _ => return Err(Malformed("invalid trailer field")),
            },
            Step::Trailer { colon, name } => {
                self.count_trailer()?;
                match (colon, b) {
                    (false, b':') if name > 0 => Step::Trailer { colon: true, name },
                    (false, _) if is_tchar(b) => Step::Trailer {
                        colon: false,
                        name: name + 1,
                    },
                    (true, b'\r') => Step::Lf {
                        then: AfterLf::Trailer,
                    },
                    (true, _) if b == b'\t' || b >= b' ' && b != 0x7f => self.step,
                    _ => return Err(Malformed("invalid trailer field")),
                }
            }
            Step::Data { .. } | Step::Done => unreachable!("handled by feed"),
        };
        Ok(())
    }

    /// The CR of a chunk-size line: its size is counted against the limit.
    fn end_size_line(&mut self) -> Result<Step, ChunkError> {
        self.decoded = self.decoded.saturating_add(self.size);
        if self.decoded > MAX_DISCARDED_BODY {
            return Err(ChunkError::TooLarge);
        }
        Ok(Step::Lf {
            then: AfterLf::Data,
        })
    }

    fn count_trailer(&mut self) -> Result<(), ChunkError> {
        self.trailers += 1;
        if self.trailers > MAX_TRAILERS {
            return Err(ChunkError::Malformed("trailer section too large"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `body` whole and then byte by byte; both must agree.
    fn decode(body: &[u8]) -> Result<(usize, bool), ChunkError> {
        let mut whole = Chunked::default();
        let used = whole.feed(body);
        let mut split = Chunked::default();
        let mut at = 0;
        let mut bytewise = Ok(0);
        while at < body.len() && !split.is_done() {
            match split.feed(&body[at..at + 1]) {
                Ok(n) => at += n,
                Err(err) => {
                    bytewise = Err(err);
                    break;
                }
            }
        }
        if bytewise.is_ok() {
            bytewise = Ok(at);
        }
        assert_eq!(used, bytewise, "{:?}", String::from_utf8_lossy(body));
        used.map(|n| (n, whole.is_done()))
    }

    #[test]
    fn valid_bodies_end_where_they_should() {
        let cases: &[&[u8]] = &[
            b"0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
            b"5;name=value;other\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n",
            b"5 ; q=\"a \\\" b\"\r\nhello\r\n0\r\n\r\n",
            b"00000003\r\nabc\r\n0\r\nExpires: never\r\nX-T: 1\r\n\r\n",
            b"f\r\n0123456789abcde\r\n0\r\n\r\n",
        ];
        for body in cases {
            let mut with_next = body.to_vec();
            with_next.extend_from_slice(b"GET / HTTP/1.1\r\n");
            assert_eq!(decode(&with_next), Ok((body.len(), true)), "{body:?}");
        }
        assert_eq!(decode(b"5\r\nhel"), Ok((6, false)));
    }

    #[test]
    fn malformed_framing_is_refused() {
        let cases: &[&[u8]] = &[
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"5 6\r\nhello\r\n0\r\n\r\n",
            b"5 \r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"5_0\r\nhello\r\n0\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            b"\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\n",
            b"11111111111111111\r\n",
            b"5;\x01\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"unterminated\r\nhello\r\n0\r\n\r\n",
            b"0\r\nno colon\r\n\r\n",
            b"0\r\n: no name\r\n\r\n",
        ];
        for body in cases {
            assert!(
                matches!(decode(body), Err(ChunkError::Malformed(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(body),
                decode(body)
            );
        }
        let long_ext = format!("1;{}\r\n", "a".repeat(MAX_LINE));
        assert!(matches!(
            decode(long_ext.as_bytes()),
            Err(ChunkError::Malformed(_))
        ));
    }

    #[test]
    fn the_decoded_size_counts_against_the_limit() {
        let just = format!("{:x}\r\n", MAX_DISCARDED_BODY);
        assert_eq!(decode(just.as_bytes()), Ok((just.len(), false)));
        let over = format!("{:x}\r\n", MAX_DISCARDED_BODY + 1);
        assert_eq!(decode(over.as_bytes()), Err(ChunkError::TooLarge));
        // Many chunks add up.
        let half = format!(
            "{:x}\r\n{}\r\n",
            MAX_DISCARDED_BODY / 2 + 1,
            "a".repeat(MAX_DISCARDED_BODY as usize / 2 + 1)
        );
        let two = format!("{half}{half}");
        assert_eq!(decode(two.as_bytes()), Err(ChunkError::TooLarge));
    }
}
