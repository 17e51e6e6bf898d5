//! Typed errors. Every failure of a command names what was wrong; a failed command never
//! changes the engine's state.

use core::fmt;

/// Everything a command, a configuration or a checkpoint can be rejected for.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A number that must be finite was NaN or infinite.
    NonFinite {
        /// Which input (`"price"`, `"features"`...).
        field: &'static str,
    },
    /// A number that must be strictly positive was zero or negative.
    NonPositive {
        /// Which input.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A feature vector of the wrong length.
    FeatureLength {
        /// Length the configuration asks for.
        expected: u32,
        /// Length given.
        got: u32,
    },
    /// A buffer or batch of the wrong shape.
    ShapeMismatch {
        /// Which buffer.
        what: &'static str,
        /// Length expected.
        expected: u64,
        /// Length given.
        got: u64,
    },
    /// A class label outside `0..classes`.
    InvalidLabel {
        /// The label given.
        label: u8,
        /// Number of classes.
        classes: u8,
    },
    /// A symbol that is empty, too long or not printable ASCII.
    InvalidSymbol,
    /// A support/resistance level input that is out of range.
    InvalidLevel(&'static str),
    /// Caller-given stop-loss / take-profit prices on the wrong side of the entry.
    InvalidExits(&'static str),
    /// No trade with this id was ever opened.
    UnknownTrade(u64),
    /// The trade was already closed.
    TradeAlreadyClosed(u64),
    /// The trade closed so long ago that the journal no longer keeps it (`journal.max_closed`).
    TradeNotKept(u64),
    /// A close timestamped before the trade's open.
    CloseBeforeOpen {
        /// The trade.
        trade: u64,
        /// Its open time (ms since the Unix epoch).
        opened_at: i64,
        /// The close time given.
        closed_at: i64,
    },
    /// A configuration value out of its allowed range; the text names the field and range.
    InvalidConfig(&'static str),
    /// A candle that is not a possible bar (see [`crate::market::Candle::validate`]).
    InvalidCandle(crate::market::CandleError),
    /// A checkpoint could not be read.
    Checkpoint(CheckpointError),
    /// No retained model version has this id.
    UnknownVersion(u32),
    /// A rollback without a target, but no earlier champion is retained.
    NoPreviousVersion,
    /// A host running the engine elsewhere (the wasm plugin) failed or reported an error it
    /// could not type: a trap, a limit, a journal write. The text says what.
    Host(alloc::string::String),
    /// A ranking that is not possible (see [`crate::ranking::RankRequest`]); the text says
    /// why.
    InvalidRanking(&'static str),
    /// A ranking asked the engine's ranker for scores, but no ranker is attached (the host
    /// was started without a model).
    NoRanker,
    /// The ranker failed; the text says why.
    Ranker(alloc::string::String),
    /// An error the engine raised somewhere else (in the wasm plugin), relayed by its host as
    /// the engine gave it: its kind and its message. [`Error::kind`] and the text are those
    /// of the original error.
    Relayed {
        /// The original error's kind.
        kind: ErrorKind,
        /// The original error's message.
        message: alloc::string::String,
    },
}

/// What kind of [`Error`] it is: one per variant, with a stable name (`"UnknownTrade"`...)
/// that crosses the plugin ABI and is the `kind` of the JS package's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::NonFinite`].
    NonFinite,
    /// [`Error::NonPositive`].
    NonPositive,
    /// [`Error::FeatureLength`].
    FeatureLength,
    /// [`Error::ShapeMismatch`].
    ShapeMismatch,
    /// [`Error::InvalidLabel`].
    InvalidLabel,
    /// [`Error::InvalidSymbol`].
    InvalidSymbol,
    /// [`Error::InvalidLevel`].
    InvalidLevel,
    /// [`Error::InvalidExits`].
    InvalidExits,
    /// [`Error::UnknownTrade`].
    UnknownTrade,
    /// [`Error::TradeAlreadyClosed`].
    TradeAlreadyClosed,
    /// [`Error::TradeNotKept`].
    TradeNotKept,
    /// [`Error::CloseBeforeOpen`].
    CloseBeforeOpen,
    /// [`Error::InvalidConfig`].
    InvalidConfig,
    /// [`Error::InvalidCandle`].
    InvalidCandle,
    /// [`Error::Checkpoint`].
    Checkpoint,
    /// [`Error::UnknownVersion`].
    UnknownVersion,
    /// [`Error::NoPreviousVersion`].
    NoPreviousVersion,
    /// [`Error::Host`].
    Host,
    /// [`Error::InvalidRanking`].
    InvalidRanking,
    /// [`Error::NoRanker`].
    NoRanker,
    /// [`Error::Ranker`].
    Ranker,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 21] = [
        ErrorKind::NonFinite,
        ErrorKind::NonPositive,
        ErrorKind::FeatureLength,
        ErrorKind::ShapeMismatch,
        ErrorKind::InvalidLabel,
        ErrorKind::InvalidSymbol,
        ErrorKind::InvalidLevel,
        ErrorKind::InvalidExits,
        ErrorKind::UnknownTrade,
        ErrorKind::TradeAlreadyClosed,
        ErrorKind::TradeNotKept,
        ErrorKind::CloseBeforeOpen,
        ErrorKind::InvalidConfig,
        ErrorKind::InvalidCandle,
        ErrorKind::Checkpoint,
        ErrorKind::UnknownVersion,
        ErrorKind::NoPreviousVersion,
        ErrorKind::Host,
        ErrorKind::InvalidRanking,
        ErrorKind::NoRanker,
        ErrorKind::Ranker,
    ];

    /// The stable name: the variant's name.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::NonFinite => "NonFinite",
            ErrorKind::NonPositive => "NonPositive",
            ErrorKind::FeatureLength => "FeatureLength",
            ErrorKind::ShapeMismatch => "ShapeMismatch",
            ErrorKind::InvalidLabel => "InvalidLabel",
            ErrorKind::InvalidSymbol => "InvalidSymbol",
            ErrorKind::InvalidLevel => "InvalidLevel",
            ErrorKind::InvalidExits => "InvalidExits",
            ErrorKind::UnknownTrade => "UnknownTrade",
            ErrorKind::TradeAlreadyClosed => "TradeAlreadyClosed",
            ErrorKind::TradeNotKept => "TradeNotKept",
            ErrorKind::CloseBeforeOpen => "CloseBeforeOpen",
            ErrorKind::InvalidConfig => "InvalidConfig",
            ErrorKind::InvalidCandle => "InvalidCandle",
            ErrorKind::Checkpoint => "Checkpoint",
            ErrorKind::UnknownVersion => "UnknownVersion",
            ErrorKind::NoPreviousVersion => "NoPreviousVersion",
            ErrorKind::Host => "Host",
            ErrorKind::InvalidRanking => "InvalidRanking",
            ErrorKind::NoRanker => "NoRanker",
            ErrorKind::Ranker => "Ranker",
        }
    }

    /// The kind with this [`name`](ErrorKind::name), if there is one.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl Error {
    /// What kind of error this is (for a relayed error, the original's kind).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NonFinite { .. } => ErrorKind::NonFinite,
            Error::NonPositive { .. } => ErrorKind::NonPositive,
            Error::FeatureLength { .. } => ErrorKind::FeatureLength,
            Error::ShapeMismatch { .. } => ErrorKind::ShapeMismatch,
            Error::InvalidLabel { .. } => ErrorKind::InvalidLabel,
            Error::InvalidSymbol => ErrorKind::InvalidSymbol,
            Error::InvalidLevel(_) => ErrorKind::InvalidLevel,
            Error::InvalidExits(_) => ErrorKind::InvalidExits,
            Error::UnknownTrade(_) => ErrorKind::UnknownTrade,
            Error::TradeAlreadyClosed(_) => ErrorKind::TradeAlreadyClosed,
            Error::TradeNotKept(_) => ErrorKind::TradeNotKept,
            Error::CloseBeforeOpen { .. } => ErrorKind::CloseBeforeOpen,
            Error::InvalidConfig(_) => ErrorKind::InvalidConfig,
            Error::InvalidCandle(_) => ErrorKind::InvalidCandle,
            Error::Checkpoint(_) => ErrorKind::Checkpoint,
            Error::UnknownVersion(_) => ErrorKind::UnknownVersion,
            Error::NoPreviousVersion => ErrorKind::NoPreviousVersion,
            Error::Host(_) => ErrorKind::Host,
            Error::InvalidRanking(_) => ErrorKind::InvalidRanking,
            Error::NoRanker => ErrorKind::NoRanker,
            Error::Ranker(_) => ErrorKind::Ranker,
            Error::Relayed { kind, .. } => *kind,
        }
    }
}

impl CheckpointError {
    /// The variant's name (`"ChecksumMismatch"`...), stable like [`ErrorKind::name`].
    pub fn name(&self) -> &'static str {
        match self {
            CheckpointError::Truncated { .. } => "Truncated",
            CheckpointError::Foreign => "Foreign",
            CheckpointError::UnsupportedFormat(_) => "UnsupportedFormat",
            CheckpointError::FutureSchema { .. } => "FutureSchema",
            CheckpointError::TrailingBytes(_) => "TrailingBytes",
            CheckpointError::ChecksumMismatch => "ChecksumMismatch",
            CheckpointError::Decode => "Decode",
            CheckpointError::Invalid(_) => "Invalid",
        }
    }
}

/// Why checkpoint bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Fewer bytes than the header or the declared payload needs.
    Truncated {
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        got: u64,
    },
    /// Not a tradeloop checkpoint (wrong magic bytes).
    Foreign,
    /// An envelope format this build cannot read.
    UnsupportedFormat(u16),
    /// A schema newer than this build knows: written by a newer tradeloop.
    FutureSchema {
        /// Schema in the file.
        found: u16,
        /// Newest schema this build reads.
        supported: u16,
    },
    /// Bytes after the declared payload.
    TrailingBytes(u64),
    /// The checksum does not match: the file is corrupt.
    ChecksumMismatch,
    /// The payload does not decode.
    Decode,
    /// The payload decodes but is inconsistent; the text says what.
    Invalid(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NonFinite { field } => write!(f, "{field} must be a finite number"),
            Error::NonPositive { field, value } => {
                write!(f, "{field} must be greater than zero (got {value})")
            }
            Error::FeatureLength { expected, got } => {
                write!(f, "expected {expected} features, got {got}")
            }
            Error::ShapeMismatch {
                what,
                expected,
                got,
            } => {
                write!(f, "{what}: expected length {expected}, got {got}")
            }
            Error::InvalidLabel { label, classes } => {
                write!(f, "class label {label} is not below {classes}")
            }
            Error::InvalidSymbol => {
                f.write_str("symbol must be 1 to 32 printable ASCII characters without spaces")
            }
            Error::InvalidLevel(why) => write!(f, "invalid level: {why}"),
            Error::InvalidExits(why) => write!(f, "invalid exits: {why}"),
            Error::UnknownTrade(id) => write!(f, "no trade with id {id} was opened"),
            Error::TradeAlreadyClosed(id) => write!(f, "trade {id} is already closed"),
            Error::TradeNotKept(id) => {
                write!(
                    f,
                    "trade {id} closed long ago and is no longer kept (see journal.max_closed)"
                )
            }
            Error::CloseBeforeOpen {
                trade,
                opened_at,
                closed_at,
            } => write!(
                f,
                "trade {trade} cannot close at {closed_at} ms, before it opened at {opened_at} ms"
            ),
            Error::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
            Error::InvalidCandle(e) => write!(f, "invalid candle: {e}"),
            Error::Checkpoint(e) => write!(f, "checkpoint rejected: {e}"),
            Error::UnknownVersion(id) => write!(f, "no retained model version has id {id}"),
            Error::NoPreviousVersion => f.write_str("there is no earlier champion to roll back to"),
            Error::Host(why) => f.write_str(why),
            Error::InvalidRanking(why) => write!(f, "invalid ranking: {why}"),
            Error::NoRanker => f.write_str(
                "no ranker model is loaded: start the host with a model to rank candidates",
            ),
            Error::Ranker(why) => write!(f, "ranker failed: {why}"),
            Error::Relayed { message, .. } => f.write_str(message),
        }
    }
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Truncated { needed, got } => {
                write!(f, "truncated: {got} bytes, at least {needed} needed")
            }
            CheckpointError::Foreign => f.write_str("not a tradeloop checkpoint (bad magic)"),
            CheckpointError::UnsupportedFormat(v) => {
                write!(f, "envelope format {v} is not supported by this build")
            }
            CheckpointError::FutureSchema { found, supported } => write!(
                f,
                "schema {found} was written by a newer tradeloop (this build reads up to {supported})"
            ),
            CheckpointError::TrailingBytes(n) => {
                write!(f, "{n} unexpected bytes after the payload")
            }
            CheckpointError::ChecksumMismatch => {
                f.write_str("checksum mismatch: the data is corrupt")
            }
            CheckpointError::Decode => f.write_str("payload does not decode"),
            CheckpointError::Invalid(why) => write!(f, "inconsistent state: {why}"),
        }
    }
}

impl From<CheckpointError> for Error {
    fn from(e: CheckpointError) -> Self {
        Error::Checkpoint(e)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Checkpoint(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CheckpointError {}

/// `Ok(())` if `x` is finite, else [`Error::NonFinite`].
pub(crate) fn finite(field: &'static str, x: f64) -> Result<(), Error> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite { field })
    }
}

/// `Ok(())` if `x` is finite and `> 0`.
pub(crate) fn positive(field: &'static str, x: f64) -> Result<(), Error> {
    finite(field, x)?;
    if x > 0.0 {
        Ok(())
    } else {
        Err(Error::NonPositive { field, value: x })
    }
}

/// `Ok(())` if every element is finite. Counts instead of stopping at the first bad value,
/// which vectorises (it runs over every network input and every restored array).
pub(crate) fn all_finite(field: &'static str, xs: &[f32]) -> Result<(), Error> {
    if xs.iter().filter(|x| !x.is_finite()).count() == 0 {
        Ok(())
    } else {
        Err(Error::NonFinite { field })
    }
}

/// `Err(InvalidConfig(msg))` unless `ok`.
pub(crate) fn check(ok: bool, msg: &'static str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_unique_names_that_read_back() {
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(ErrorKind::from_name(k.name()), Some(*k));
            assert!(ErrorKind::ALL[..i].iter().all(|o| o.name() != k.name()));
        }
        assert_eq!(ErrorKind::from_name("NoSuchKind"), None);
        let e = Error::UnknownTrade(7);
        let relayed = Error::Relayed {
            kind: e.kind(),
            message: alloc::string::ToString::to_string(&e),
        };
        assert_eq!(relayed.kind(), ErrorKind::UnknownTrade);
        assert_eq!(
            alloc::string::ToString::to_string(&relayed),
            "no trade with id 7 was opened"
        );
    }
}
