//! Dates: the ones formatted once per second, not once per response, and
//! any file time written as an HTTP date or RFC 3339.

use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

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

/// A moment as UTC calendar fields, for a time in the years 0 to 9999:
/// what HTTP dates and RFC 3339 can write. A file may carry any time
/// (`touch -d 1960-01-01`), and `httpdate` panics outside 1970 to 9999.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    year: i64,
    /// 1 to 12.
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// 0 is Sunday.
    weekday: u8,
}

impl Utc {
    /// The calendar fields of `time` (to the second, rounded down), or
    /// `None` outside the years 0 to 9999.
    pub fn of(time: SystemTime) -> Option<Utc> {
        let seconds = unix_seconds(time)?;
        let (days, in_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        // Howard Hinnant's civil_from_days: days since 1970-01-01 to a
        // proleptic Gregorian date, in eras of 400 years.
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        if !(0..=9999).contains(&year) {
            return None;
        }
        Some(Utc {
            year,
            month: month as u8,
            day: day as u8,
            hour: (in_day / 3600) as u8,
            minute: (in_day / 60 % 60) as u8,
            second: (in_day % 60) as u8,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u8,
        })
    }

    /// `Fri, 04 Dec 2026 10:01:44 GMT` (IMF-fixdate).
    pub fn http(self) -> String {
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            WEEKDAYS[usize::from(self.weekday)],
            self.day,
            MONTHS[usize::from(self.month - 1)],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }

    /// `2026-12-04T10:01:44Z` (RFC 3339).
    pub fn rfc3339(self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2026-12-04 10:01`: short enough for a listing's column.
    pub fn minutes(self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// Whole seconds from the epoch to `time`, rounded down (negative before
/// 1970); `None` past what an `i64` holds.
pub fn unix_seconds(time: SystemTime) -> Option<i64> {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok(),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).ok()?;
            Some(-whole - i64::from(before.subsec_nanos() > 0))
        }
    }
}

/// `time` as an HTTP date, if it can be written as one.
pub fn http_date(time: SystemTime) -> Option<String> {
    Utc::of(time).map(|utc| utc.http())
}

/// Rearranges `Tue, 24 Nov 2026 06:52:49 GMT` into `2026-11-24T06:52:49Z`.
fn iso_from_http(http: &str) -> String {
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
    fn utc_fields_table() {
        use std::time::Duration;
        // (seconds from the epoch, HTTP date, RFC 3339, to the minute)
        let cases: &[(i64, &str, &str, &str)] = &[
            (
                0,
                "Thu, 01 Jan 1970 00:00:00 GMT",
                "1970-01-01T00:00:00Z",
                "1970-01-01 00:00",
            ),
            (
                1_796_378_504,
                "Fri, 04 Dec 2026 10:01:44 GMT",
                "2026-12-04T10:01:44Z",
                "2026-12-04 10:01",
            ),
            (
                951_782_400,
                "Tue, 29 Feb 2000 00:00:00 GMT",
                "2000-02-29T00:00:00Z",
                "2000-02-29 00:00",
            ),
            (
                -1,
                "Wed, 31 Dec 1969 23:59:59 GMT",
                "1969-12-31T23:59:59Z",
                "1969-12-31 23:59",
            ),
            (
                -315_619_200,
                "Fri, 01 Jan 1960 00:00:00 GMT",
                "1960-01-01T00:00:00Z",
                "1960-01-01 00:00",
            ),
            (
                253_402_300_799,
                "Fri, 31 Dec 9999 23:59:59 GMT",
                "9999-12-31T23:59:59Z",
                "9999-12-31 23:59",
            ),
            (
                -62_167_219_200,
                "Sat, 01 Jan 0000 00:00:00 GMT",
                "0000-01-01T00:00:00Z",
                "0000-01-01 00:00",
            ),
        ];
        for &(seconds, http, rfc3339, minutes) in cases {
            let time = if seconds >= 0 {
                UNIX_EPOCH + Duration::from_secs(seconds as u64)
            } else {
                UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
            };
            let utc = Utc::of(time).unwrap_or_else(|| panic!("{seconds}"));
            assert_eq!(utc.http(), http, "{seconds}");
            assert_eq!(utc.rfc3339(), rfc3339, "{seconds}");
            assert_eq!(utc.minutes(), minutes, "{seconds}");
            if (0..=253_402_300_799).contains(&seconds) {
                assert_eq!(httpdate::fmt_http_date(time), http, "{seconds}");
            }
        }
        // Half a second before the epoch is still in 1969.
        let before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(
            Utc::of(before).unwrap().http(),
            "Wed, 31 Dec 1969 23:59:59 GMT"
        );
        // Outside the years 0 to 9999: nothing to write.
        let after = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(Utc::of(after), None);
        assert_eq!(
            Utc::of(UNIX_EPOCH - Duration::from_secs(62_167_219_201)),
            None
        );
        if let Some(far) = UNIX_EPOCH.checked_add(Duration::from_secs(u64::MAX / 2)) {
            assert_eq!(Utc::of(far), None);
        }
    }

    #[test]
    fn clock_matches_httpdate() {
        let clock = Clock::new();
        assert!(httpdate::parse_http_date(clock.http_date()).is_ok());
        assert_eq!(clock.clf_date().len(), "24/Nov/2026:06:52:49 +0000".len());
    }
}
