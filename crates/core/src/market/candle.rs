//! One OHLCV bar and its validity rules.

use core::fmt;

use serde::{Deserialize, Serialize};

/// One OHLCV bar.
///
/// `time` is the bar's **open** time in milliseconds since the Unix epoch, UTC. Prices and
/// volume are plain `f64`s; [`Candle::validate`] says whether they form a possible bar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Candle {
    /// Bar open time, milliseconds since 1970-01-01T00:00:00Z.
    pub time: i64,
    /// First traded (or quoted) price of the bar.
    pub open: f64,
    /// Highest price of the bar.
    pub high: f64,
    /// Lowest price of the bar.
    pub low: f64,
    /// Last price of the bar.
    pub close: f64,
    /// Traded volume; `0` when the source has none (FX / CFD quotes).
    pub volume: f64,
}

/// Why a [`Candle`] is not a possible bar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CandleError {
    /// A price or the volume is NaN or infinite.
    NonFinite {
        /// `"open"`, `"high"`, `"low"`, `"close"` or `"volume"`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A price is zero or negative.
    NonPositivePrice {
        /// `"open"`, `"high"`, `"low"` or `"close"`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// The volume is negative.
    NegativeVolume {
        /// The value given.
        value: f64,
    },
    /// `high < low`.
    HighBelowLow {
        /// The bar's high.
        high: f64,
        /// The bar's low.
        low: f64,
    },
    /// `high < max(open, close)`.
    HighBelowBody {
        /// The bar's high.
        high: f64,
        /// `max(open, close)`.
        body_top: f64,
    },
    /// `low > min(open, close)`.
    LowAboveBody {
        /// The bar's low.
        low: f64,
        /// `min(open, close)`.
        body_bottom: f64,
    },
}

impl fmt::Display for CandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NonFinite { field, value } => write!(f, "{field} {value} is not finite"),
            Self::NonPositivePrice { field, value } => {
                write!(f, "{field} {value} is not a positive price")
            }
            Self::NegativeVolume { value } => write!(f, "volume {value} is negative"),
            Self::HighBelowLow { high, low } => write!(f, "high {high} is below low {low}"),
            Self::HighBelowBody { high, body_top } => {
                write!(f, "high {high} is below max(open, close) {body_top}")
            }
            Self::LowAboveBody { low, body_bottom } => {
                write!(f, "low {low} is above min(open, close) {body_bottom}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CandleError {}

impl Candle {
    /// Checks that the bar is possible: every price finite and `> 0`, the volume finite and
    /// `>= 0`, `high >= low`, `high >= max(open, close)` and `low <= min(open, close)`.
    ///
    /// The first violated rule is returned, in the order listed.
    pub fn validate(&self) -> Result<(), CandleError> {
        let prices = [
            ("open", self.open),
            ("high", self.high),
            ("low", self.low),
            ("close", self.close),
        ];
        for (field, value) in prices {
            if !value.is_finite() {
                return Err(CandleError::NonFinite { field, value });
            }
            if value <= 0.0 {
                return Err(CandleError::NonPositivePrice { field, value });
            }
        }
        if !self.volume.is_finite() {
            return Err(CandleError::NonFinite {
                field: "volume",
                value: self.volume,
            });
        }
        if self.volume < 0.0 {
            return Err(CandleError::NegativeVolume { value: self.volume });
        }
        if self.high < self.low {
            return Err(CandleError::HighBelowLow {
                high: self.high,
                low: self.low,
            });
        }
        let body_top = if self.open > self.close {
            self.open
        } else {
            self.close
        };
        if self.high < body_top {
            return Err(CandleError::HighBelowBody {
                high: self.high,
                body_top,
            });
        }
        let body_bottom = if self.open < self.close {
            self.open
        } else {
            self.close
        };
        if self.low > body_bottom {
            return Err(CandleError::LowAboveBody {
                low: self.low,
                body_bottom,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(open: f64, high: f64, low: f64, close: f64, volume: f64) -> Candle {
        Candle {
            time: 0,
            open,
            high,
            low,
            close,
            volume,
        }
    }

    #[test]
    fn valid_bars_pass() {
        assert_eq!(bar(10.0, 11.0, 9.0, 10.5, 100.0).validate(), Ok(()));
        assert_eq!(bar(10.0, 10.0, 10.0, 10.0, 0.0).validate(), Ok(()));
    }

    #[test]
    fn each_rule_is_reported() {
        assert!(matches!(
            bar(f64::NAN, 11.0, 9.0, 10.0, 1.0).validate(),
            Err(CandleError::NonFinite { field: "open", .. })
        ));
        assert!(matches!(
            bar(10.0, f64::INFINITY, 9.0, 10.0, 1.0).validate(),
            Err(CandleError::NonFinite { field: "high", .. })
        ));
        assert_eq!(
            bar(10.0, 11.0, 0.0, 10.0, 1.0).validate(),
            Err(CandleError::NonPositivePrice {
                field: "low",
                value: 0.0
            })
        );
        assert_eq!(
            bar(10.0, 11.0, 9.0, -1.0, 1.0).validate(),
            Err(CandleError::NonPositivePrice {
                field: "close",
                value: -1.0
            })
        );
        assert!(matches!(
            bar(10.0, 11.0, 9.0, 10.0, f64::NAN).validate(),
            Err(CandleError::NonFinite {
                field: "volume",
                ..
            })
        ));
        assert_eq!(
            bar(10.0, 11.0, 9.0, 10.0, -2.0).validate(),
            Err(CandleError::NegativeVolume { value: -2.0 })
        );
        assert_eq!(
            bar(10.0, 9.0, 11.0, 10.0, 1.0).validate(),
            Err(CandleError::HighBelowLow {
                high: 9.0,
                low: 11.0
            })
        );
        assert_eq!(
            bar(100.2, 99.5, 99.0, 99.8, 1.0).validate(),
            Err(CandleError::HighBelowBody {
                high: 99.5,
                body_top: 100.2
            })
        );
        assert_eq!(
            bar(10.0, 11.0, 10.5, 10.8, 1.0).validate(),
            Err(CandleError::LowAboveBody {
                low: 10.5,
                body_bottom: 10.0
            })
        );
    }

    #[test]
    fn messages_name_the_values() {
        let e = bar(100.2, 99.5, 99.0, 99.8, 1.0).validate().unwrap_err();
        assert_eq!(
            alloc::format!("{e}"),
            "high 99.5 is below max(open, close) 100.2"
        );
    }
}
