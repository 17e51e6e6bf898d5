//! Timestamps of the market CSV: unix seconds or ISO-8601, to milliseconds since the epoch.
//!
//! The calendar is the proleptic Gregorian one, computed with integer arithmetic only
//! (H. Hinnant's `days_from_civil`), so no date library is needed.

use core::fmt;

/// Why a timestamp was rejected by [`parse_timestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampError {
    /// Empty text.
    Empty,
    /// Neither integer unix seconds nor a supported ISO-8601 layout.
    Format,
    /// A well-formed date that does not exist (month 13, February 30, ...).
    InvalidDate,
    /// A time of day out of range (hour 24, minute 60, second 60, ...).
    InvalidTime,
    /// A malformed or out-of-range UTC offset.
    InvalidOffset,
    /// Outside the years 0000..=9999.
    OutOfRange,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Empty => "is empty",
            Self::Format => {
                "is neither unix seconds nor ISO-8601 \
                 (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, optional .fff and +HH:MM)"
            }
            Self::InvalidDate => "is not a valid calendar date",
            Self::InvalidTime => "is not a valid time of day",
            Self::InvalidOffset => "has an invalid UTC offset",
            Self::OutOfRange => "is outside the years 0000..9999",
        };
        f.write_str(text)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TimestampError {}

const MS_PER_SECOND: i64 = 1_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// 0000-01-01T00:00:00Z in unix seconds.
const MIN_SECONDS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z in unix seconds.
const MAX_SECONDS: i64 = 253_402_300_799;

/// Whether `year` is a leap year of the proleptic Gregorian calendar.
const fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1..=12) of `year`; 0 for a month out of range.
const fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d` (H. Hinnant's
/// `days_from_civil`), in `i128` so that no input overflows. The inverse of
/// [`civil_from_days`] for valid dates.
pub fn days_from_civil(y: i128, m: i128, d: i128) -> i128 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month 1..=12, day 1..=31)` of `days` since
/// 1970-01-01 (H. Hinnant).
pub fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    (y, m, d)
}

/// The UTC calendar date `(year, month 1..=12, day 1..=31)` of a time in ms since the Unix
/// epoch. Total: every `i64` has a date.
pub fn date_of(ms: i64) -> (i64, u32, u32) {
    let (y, m, d) = civil_from_days(i128::from(ms.div_euclid(86_400_000)));
    // |y| < 2^63 / (365 * 86_400_000) and 1 <= m, d <= 31: the narrowing is exact.
    (y as i64, m as u32, d as u32)
}

/// The UTC calendar date of a time in ms since the Unix epoch as `YYYY-MM-DD`.
pub fn iso_date(ms: i64) -> alloc::string::String {
    let (y, m, d) = date_of(ms);
    alloc::format!("{y:04}-{m:02}-{d:02}")
}

/// ISO-8601 UTC text of a time in ms since the Unix epoch, to the second:
/// `YYYY-MM-DDTHH:MM:SSZ` (what [`parse_timestamp`] reads back).
pub fn iso_datetime(ms: i64) -> alloc::string::String {
    let (y, m, d) = date_of(ms);
    let s = ms.rem_euclid(86_400_000) / 1000;
    alloc::format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parses a timestamp of the market CSV into **milliseconds** since the Unix epoch, UTC.
///
/// Accepted forms (surrounding whitespace is ignored):
/// * integer unix **seconds**, optionally signed: `1577836800`, `-86400`;
/// * `YYYY-MM-DD` (midnight UTC);
/// * `YYYY-MM-DDTHH:MM[:SS[.f...]]` followed by nothing, `Z`, `±HH:MM`, `±HHMM` or `±HH`.
///   `T` may be `t` or a space, `Z` may be `z`. Without a zone the time is taken as UTC; a
///   non-zero offset is converted to UTC. Fraction digits after the third (sub-millisecond)
///   are ignored (truncated).
///
/// Dates that do not exist (`2021-02-29`, month 13) and times out of range (`24:00`,
/// second 60) are errors, as is anything outside the years 0000..=9999.
pub fn parse_timestamp(text: &str) -> Result<i64, TimestampError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(TimestampError::Empty);
    }
    let b = s.as_bytes();
    // Unix seconds: optional sign, then digits only.
    let digits = match b.first() {
        Some(b'+' | b'-') => b.get(1..).unwrap_or(&[]),
        _ => b,
    };
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        // Longer than 12 digits is out of range anyway; avoids i64 overflow in `parse`.
        if digits.len() > 12 {
            return Err(TimestampError::OutOfRange);
        }
        let secs: i64 = s.parse().map_err(|_| TimestampError::Format)?;
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&secs) {
            return Err(TimestampError::OutOfRange);
        }
        return Ok(secs * MS_PER_SECOND);
    }
    parse_iso(b)
}

/// Reads exactly `n` ASCII digits at `pos` as a number.
fn digits_at(b: &[u8], pos: usize, n: usize) -> Option<u32> {
    let field = b.get(pos..pos.checked_add(n)?)?;
    let mut value = 0u32;
    for &c in field {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(c - b'0');
    }
    Some(value)
}

fn parse_iso(b: &[u8]) -> Result<i64, TimestampError> {
    use TimestampError::{Format, InvalidDate, InvalidOffset, InvalidTime};
    // YYYY-MM-DD
    let year = digits_at(b, 0, 4).ok_or(Format)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(Format);
    }
    let month = digits_at(b, 5, 2).ok_or(Format)?;
    let day = digits_at(b, 8, 2).ok_or(Format)?;
    let year = i64::from(year);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(InvalidDate);
    }
    // Years 0..=9999: the day count fits `i64` with room to spare.
    let days = days_from_civil(i128::from(year), i128::from(month), i128::from(day)) as i64;
    let mut ms = days * SECONDS_PER_DAY * MS_PER_SECOND;
    if b.len() == 10 {
        return Ok(ms);
    }
    // Time of day.
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(Format);
    }
    let hour = digits_at(b, 11, 2).ok_or(Format)?;
    if b.get(13) != Some(&b':') {
        return Err(Format);
    }
    let minute = digits_at(b, 14, 2).ok_or(Format)?;
    let mut pos = 16;
    let mut second = 0;
    let has_seconds = b.get(pos) == Some(&b':');
    if has_seconds {
        second = digits_at(b, pos + 1, 2).ok_or(Format)?;
        pos += 3;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(InvalidTime);
    }
    let mut millis = 0i64;
    if has_seconds && b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while let Some(c) = b.get(pos).filter(|c| c.is_ascii_digit()) {
            if pos - start < 3 {
                millis = millis * 10 + i64::from(c - b'0');
            }
            pos += 1;
        }
        let n = pos - start;
        if n == 0 {
            return Err(Format);
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let seconds_of_day = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    ms += seconds_of_day * MS_PER_SECOND + millis;
    // Zone.
    let offset_minutes: i64 = match b.get(pos) {
        None => 0,
        Some(b'Z' | b'z') if b.len() == pos + 1 => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = b.get(pos + 1..).unwrap_or(&[]);
            let (oh, om) = match rest.len() {
                2 => (digits_at(rest, 0, 2), Some(0)),
                4 => (digits_at(rest, 0, 2), digits_at(rest, 2, 2)),
                5 if rest.get(2) == Some(&b':') => (digits_at(rest, 0, 2), digits_at(rest, 3, 2)),
                _ => (None, None),
            };
            let (oh, om) = oh.zip(om).ok_or(InvalidOffset)?;
            if oh > 23 || om > 59 {
                return Err(InvalidOffset);
            }
            let minutes = i64::from(oh) * 60 + i64::from(om);
            if sign == b'-' { -minutes } else { minutes }
        }
        Some(_) => return Err(Format),
    };
    ms -= offset_minutes * 60 * MS_PER_SECOND;
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_datetimes_round_trip_through_the_parser() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2013-01-02T05:00:00Z",
            "2016-12-31T23:00:00Z",
            "2100-03-01T12:34:56Z",
            "1969-12-31T23:59:59Z",
        ] {
            let ms = parse_timestamp(text).expect("valid timestamp");
            assert_eq!(iso_datetime(ms), text);
        }
    }

    #[test]
    fn dates_of_instants() {
        assert_eq!(date_of(0), (1970, 1, 1));
        assert_eq!(date_of(-1), (1969, 12, 31));
        assert_eq!(date_of(1_582_934_400_000), (2020, 2, 29));
        assert_eq!(date_of(1_609_459_199_000), (2020, 12, 31));
        assert_eq!(date_of(1_609_459_200_000), (2021, 1, 1));
        assert_eq!(date_of(1_169_578_800_000), (2007, 1, 23));
        assert_eq!(iso_date(1_169_578_800_000), "2007-01-23");
        assert_eq!(iso_date(-1), "1969-12-31");
        assert_eq!(
            parse_timestamp(&iso_date(1_582_934_400_000)),
            Ok(1_582_934_400_000)
        );
        for ms in [i64::MIN, i64::MAX] {
            let (y, m, d) = date_of(ms);
            assert!(y.abs() > 200_000_000 && (1..=12).contains(&m) && (1..=31).contains(&d));
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(parse_timestamp("1970-01-01"), Ok(0));
        assert_eq!(parse_timestamp("2000-01-01T00:00:00Z"), Ok(946_684_800_000));
        assert_eq!(parse_timestamp("946684800"), Ok(946_684_800_000));
        assert_eq!(parse_timestamp("-86400"), Ok(-86_400_000));
        assert_eq!(parse_timestamp("+86400"), Ok(86_400_000));
        assert_eq!(
            parse_timestamp("2020-02-29 12:30:15"),
            Ok(1_582_979_415_000)
        );
        assert_eq!(
            parse_timestamp("2020-02-29t12:30:15z"),
            Ok(1_582_979_415_000)
        );
        assert_eq!(parse_timestamp("2020-02-29T12:30"), Ok(1_582_979_400_000));
        assert_eq!(
            parse_timestamp("2020-02-29T12:30:15.25Z"),
            Ok(1_582_979_415_250)
        );
        assert_eq!(
            parse_timestamp("2020-02-29T12:30:15.123999+00:00"),
            Ok(1_582_979_415_123)
        );
        assert_eq!(
            parse_timestamp("2020-02-29T14:30:15+02:00"),
            Ok(1_582_979_415_000)
        );
        assert_eq!(
            parse_timestamp("2020-02-29T07:00:15-0530"),
            Ok(1_582_979_415_000)
        );
        assert_eq!(
            parse_timestamp("2020-02-29T10:30:15-02"),
            Ok(1_582_979_415_000)
        );
        assert_eq!(parse_timestamp("0000-01-01"), Ok(MIN_SECONDS * 1000));
        assert_eq!(
            parse_timestamp("9999-12-31T23:59:59Z"),
            Ok(MAX_SECONDS * 1000)
        );
        assert_eq!(parse_timestamp("  1969-12-31T23:59:59Z "), Ok(-1000));
    }

    #[test]
    fn bad_timestamps() {
        use TimestampError::*;
        let cases: &[(&str, TimestampError)] = &[
            ("", Empty),
            ("  ", Empty),
            ("abc", Format),
            ("2020-1-01", Format),
            ("2020/01/01", Format),
            ("2020-01-01T", Format),
            ("2020-01-01X00:00:00Z", Format),
            ("2020-01-01T00:00:00.Z", Format),
            ("2020-01-01T00:00:00ZZ", Format),
            ("2020-01-01T00:00:00 UTC", Format),
            ("1577836800.5", Format),
            ("2020-01-01T00:00.5Z", Format),
            ("--5", Format),
            ("+", Format),
            ("2020-13-01", InvalidDate),
            ("2020-00-10", InvalidDate),
            ("2021-02-29", InvalidDate),
            ("1900-02-29", InvalidDate),
            ("2020-02-30", InvalidDate),
            ("2020-04-31", InvalidDate),
            ("2020-01-00", InvalidDate),
            ("2020-01-01T24:00:00Z", InvalidTime),
            ("2020-01-01T23:60:00Z", InvalidTime),
            ("2016-12-31T23:59:60Z", InvalidTime),
            ("2020-01-01T00:00:00+24:00", InvalidOffset),
            ("2020-01-01T00:00:00+01:60", InvalidOffset),
            ("2020-01-01T00:00:00+1", InvalidOffset),
            ("2020-01-01T00:00:00+01:0", InvalidOffset),
            ("253402300800", OutOfRange),
            ("-62167219201", OutOfRange),
            ("99999999999999999999999", OutOfRange),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text), Err(*want), "{text:?}");
        }
        // Leap-year rules that do hold.
        assert!(parse_timestamp("2000-02-29").is_ok());
        assert!(parse_timestamp("2024-02-29").is_ok());
    }

    /// Walks every day from 1600 to 2400 with a naive calendar and checks that consecutive
    /// dates are exactly one day apart.
    #[test]
    fn every_day_is_one_day_after_the_previous() {
        let mut prev = parse_timestamp("1599-12-31").unwrap_or(i64::MIN);
        for year in 1600..=2400i64 {
            for month in 1..=12u32 {
                for day in 1..=days_in_month(year, month) {
                    let text = alloc::format!("{year:04}-{month:02}-{day:02}");
                    let Ok(ms) = parse_timestamp(&text) else {
                        panic!("{text} rejected");
                    };
                    assert_eq!(ms - prev, 86_400_000, "{text}");
                    prev = ms;
                }
            }
        }
    }
}
