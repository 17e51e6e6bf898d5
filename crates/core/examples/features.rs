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

use tradeloop_core::market::{
    FEATURE_NAMES, FeatureExtractor, HORIZON, iso_datetime, parse_csv, w6_label,
};

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
        write!(out, "{}", iso_datetime(bar.time))?;
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
