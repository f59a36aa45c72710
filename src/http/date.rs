//! Dates formatted once per second, not once per response.

use std::time::{SystemTime, UNIX_EPOCH};

/// A worker's clock: the current second as an HTTP date (`Date` header) and
/// as a Common Log Format timestamp, each formatted when the second changes.
pub struct Clock {
    second: u64,
    http: String,
    clf: String,
    iso: String,
}

impl Clock {
    pub fn new() -> Clock {
        let mut clock = Clock {
            second: u64::MAX,
            http: String::new(),
            clf: String::new(),
            iso: String::new(),
        };
        clock.tick();
        clock
    }

    /// Brings the dates up to the current second.
    pub fn tick(&mut self) {
        let now = SystemTime::now();
        let second = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if second == self.second {
            return;
        }
        self.second = second;
        self.http = httpdate::fmt_http_date(now);
        self.clf = clf_from_http(&self.http);
        self.iso = iso_from_http(&self.http);
    }

    /// `Tue, 24 Nov 2026 06:52:49 GMT`
    pub fn http_date(&self) -> &str {
        &self.http
    }

    /// `24/Nov/2026:06:52:49 +0000`
    pub fn clf_date(&self) -> &str {
        &self.clf
    }

    /// `2026-11-24T06:52:49Z` (RFC 3339)
    pub fn iso_date(&self) -> &str {
        &self.iso
    }
}

/// Rearranges `Tue, 24 Nov 2026 06:52:49 GMT` into `2026-11-24T06:52:49Z`.
fn iso_from_http(http: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = http
        .get(8..11)
        .and_then(|m| MONTHS.iter().position(|&name| name == m));
    match (http.get(5..7), month, http.get(12..16), http.get(17..25)) {
        (Some(day), Some(month), Some(year), Some(time)) => {
            format!("{year}-{:02}-{day}T{time}Z", month + 1)
        }
        _ => http.to_owned(),
    }
}

/// Rearranges `Tue, 24 Nov 2026 06:52:49 GMT` (IMF-fixdate, always this
/// shape) into `24/Nov/2026:06:52:49 +0000`.
fn clf_from_http(http: &str) -> String {
    match (
        http.get(5..7),
        http.get(8..11),
        http.get(12..16),
        http.get(17..25),
    ) {
        (Some(day), Some(month), Some(year), Some(time)) => {
            format!("{day}/{month}/{year}:{time} +0000")
        }
        _ => http.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_format() {
        assert_eq!(
            clf_from_http("Tue, 24 Nov 2026 06:52:49 GMT"),
            "24/Nov/2026:06:52:49 +0000"
        );
    }

    #[test]
    fn iso_format() {
        assert_eq!(
            iso_from_http("Tue, 24 Nov 2026 06:52:49 GMT"),
            "2026-11-24T06:52:49Z"
        );
        assert_eq!(
            iso_from_http("Fri, 01 Jan 2027 00:00:00 GMT"),
            "2027-01-01T00:00:00Z"
        );
    }

    #[test]
    fn clock_matches_httpdate() {
        let clock = Clock::new();
        assert!(httpdate::parse_http_date(clock.http_date()).is_ok());
        assert_eq!(clock.clf_date().len(), "24/Nov/2026:06:52:49 +0000".len());
    }
}
