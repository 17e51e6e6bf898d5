//! Market data: candles, CSV parsing, the 32 W6 features and support/resistance levels.
//!
//! * [`Candle`]: one OHLCV bar, time in milliseconds since the Unix epoch (UTC).
//! * [`parse_csv`]: the market CSV contract (`timestamp,open,high,low,close,volume`), with
//!   every bad row reported by line number ([`CsvError`]).
//! * [`FeatureExtractor`]: the 32 W6 features, streaming and bit-exact with the benchmark
//!   (`shared/bench/anchors/stream.py`); [`w6_label`], [`w6_stream`].
//! * [`LevelDetector`]: support/resistance levels with the six features the level-weight
//!   learner uses.

mod candle;
pub(crate) mod cr_log;
mod csv;
mod features;
mod levels;
mod time;

pub use candle::{Candle, CandleError};
pub use csv::{
    CSV_HEADER, CsvError, FeatureRows, MAX_ROW_ERRORS, RowError, RowProblem, parse_csv,
    parse_feature_rows,
};
pub use features::{
    FEATURE_NAMES, FEATURES, FeatureExtractor, HORIZON, WARM, label_of, scaled_return, w6_label,
    w6_stream,
};
pub use levels::{
    LEVEL_FEATURE_NAMES, LEVEL_FEATURES, Level, LevelDetector, LevelDetectorConfig, LevelKind,
    MAX_LEVEL_WINDOW,
};
pub use time::{
    TimestampError, civil_from_days, date_of, days_from_civil, iso_date, iso_datetime,
    parse_timestamp,
};
