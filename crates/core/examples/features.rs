//! Dumps the core's 32 candle features of a price series as CSV, with the training labels.
//!
//! `cargo run --release -p tradeloop-core --example features -- FILE.csv > out.csv`
//!
//! One row per bar whose features exist (bar index >= 96, see
//! [`tradeloop_core::market::FeatureExtractor`]):
//!
//! ```text
//! timestamp,ret_0,...,upper_wick,fwd_ret,label
//! ```
//!
//! * `timestamp`: the bar's open time, ISO-8601 UTC (`YYYY-MM-DDTHH:MM:SSZ`).
//! * the 32 features, named as in [`FEATURE_NAMES`], exactly the `f32` values the engine
//!   computes at run time (printed shortest round-trip, so they parse back to the same bits).
//! * `fwd_ret`: the forward 12-bar log return `ln(c[t+12] / c[t])` (`f64`).
//! * `label`: the W6 class of that return ([`w6_label`]: 0 down, 1 flat, 2 up, after scaling
//!   by `sigma_t * sqrt(12)`).
//!
//! The last 12 bars have no 12-bar future: their `fwd_ret` and `label` are empty. This is the
//! single feature definition shared by model training (`models/make_models.py`) and the
//! engine.

#![allow(clippy::print_stdout)] // writing the CSV to stdout is this example's job

use std::error::Error;
use std::io::{BufWriter, Write};

use tradeloop_core::market::{FEATURE_NAMES, FeatureExtractor, HORIZON, parse_csv, w6_label};

/// `(year, month, day)` of a day count since 1970-01-01 (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // month, March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both fit: 1 <= day <= 31, 1 <= month <= 12.
    (year, month as u32, day as u32)
}

/// ISO-8601 UTC text of milliseconds since the Unix epoch (whole seconds).
fn iso_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3_600,
        sod / 60 % 60,
        sod % 60
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        return Err("usage: features FILE.csv > out.csv".into());
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let candles = parse_csv(&text).map_err(|e| format!("{path}:\n{e}"))?;

    let mut out = BufWriter::new(std::io::stdout().lock());
    write!(out, "timestamp")?;
    for name in FEATURE_NAMES {
        write!(out, ",{name}")?;
    }
    writeln!(out, ",fwd_ret,label")?;

    let mut extractor = FeatureExtractor::new();
    for (t, bar) in candles.iter().enumerate() {
        let Some(features) = extractor.push(bar) else {
            continue;
        };
        write!(out, "{}", iso_utc(bar.time))?;
        for x in features {
            write!(out, ",{x}")?;
        }
        match (candles.get(t + HORIZON), extractor.sigma()) {
            (Some(later), Some(sigma)) => writeln!(
                out,
                ",{},{}",
                (later.close / bar.close).ln(),
                w6_label(bar.close, later.close, sigma)
            )?,
            _ => writeln!(out, ",,")?,
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradeloop_core::market::parse_timestamp;

    #[test]
    fn iso_utc_round_trips_through_the_parser() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2013-01-02T05:00:00Z",
            "2016-12-31T23:00:00Z",
            "2100-03-01T12:34:56Z",
            "1969-12-31T23:59:59Z",
        ] {
            let ms = parse_timestamp(text).expect("valid timestamp");
            assert_eq!(iso_utc(ms), text);
        }
    }
}
