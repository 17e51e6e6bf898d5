//! The event-log format: how a host journals each accepted command and the genesis (the
//! command that began the state), as bytes that stay readable by every later build.
//!
//! The journal is the source of truth (the engine's state is a function of the genesis and
//! the events), so its records are a versioned file format like the checkpoint's, never the
//! live serde types: `Command` or `EngineConfig` may change shape freely, the frozen
//! [`v1`] types may not. A record is the postcard encoding of [`v1::EventV1`] (an event) or
//! [`v1::GenesisV1`] (the genesis), with nothing after it; which format a journal's records
//! use is recorded once in the journal (the host's `meta` table), not per record.
//!
//! Decoding never panics and checks everything it can without an engine: the bytes decode
//! as the format's type, nothing trails, no reserved variant is used. Whether the command
//! applies is the engine's business when the journal is replayed.

pub mod v1;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use crate::abi::Request;
use crate::checkpoint::v4::{config_from, config_to};
use crate::{Command, EngineConfig};

/// The newest record format this build writes and reads.
pub const FORMAT: u16 = 1;

/// How a state began.
#[derive(Debug, Clone, PartialEq)]
pub enum Genesis {
    /// A new engine.
    Create {
        /// Its configuration.
        config: Box<EngineConfig>,
        /// Its seed.
        seed: u64,
        /// Its creation time (ms since the Unix epoch).
        now: i64,
    },
    /// An engine restored from these checkpoint bytes (an import).
    Restore(Vec<u8>),
}

impl Genesis {
    /// The plugin request that starts the engine this genesis describes.
    pub fn into_request(self) -> Request {
        match self {
            Genesis::Create { config, seed, now } => Request::Create { config, seed, now },
            Genesis::Restore(bytes) => Request::Restore(bytes),
        }
    }
}

/// Why a record cannot be written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventLogError {
    /// The journal's records use a format this build does not know (a newer tradeloop
    /// wrote them).
    UnknownFormat(u16),
    /// The bytes do not decode as the format's record.
    Decode,
    /// The record decodes, but this many bytes follow it.
    TrailingBytes(usize),
    /// A reserved variant (a command that is never journalled) was read, or asked to be
    /// written.
    NotJournaled,
}

impl fmt::Display for EventLogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventLogError::UnknownFormat(v) => write!(
                f,
                "event-log format {v} is newer than this build reads (at most {FORMAT}); \
                 upgrade tradeloop"
            ),
            EventLogError::Decode => f.write_str("the record does not decode"),
            EventLogError::TrailingBytes(n) => write!(f, "{n} bytes follow the record"),
            EventLogError::NotJournaled => {
                f.write_str("Suggest and Query change nothing and are never journalled")
            }
        }
    }
}

/// The record of an accepted command, in format [`FORMAT`].
pub fn encode_event(command: &Command) -> Result<Vec<u8>, EventLogError> {
    let event = v1::EventV1::from_command(command).ok_or(EventLogError::NotJournaled)?;
    postcard::to_allocvec(&event).map_err(|_| EventLogError::Decode)
}

/// The command in a record of format `format`.
pub fn decode_event(format: u16, bytes: &[u8]) -> Result<Command, EventLogError> {
    match format {
        1 => whole::<v1::EventV1>(bytes)?
            .into_command()
            .ok_or(EventLogError::NotJournaled),
        other => Err(EventLogError::UnknownFormat(other)),
    }
}

/// The record of a genesis, in format [`FORMAT`].
pub fn encode_genesis(genesis: &Genesis) -> Vec<u8> {
    let dto = match genesis {
        Genesis::Create { config, seed, now } => v1::GenesisV1::Create {
            config: Box::new(config_to(config)),
            seed: *seed,
            now: *now,
        },
        Genesis::Restore(bytes) => v1::GenesisV1::Restore(bytes.clone()),
    };
    // Every value of these types encodes (no maps, no unsized sequences).
    postcard::to_allocvec(&dto).unwrap_or_default()
}

/// The genesis in a record of format `format`.
pub fn decode_genesis(format: u16, bytes: &[u8]) -> Result<Genesis, EventLogError> {
    match format {
        1 => Ok(match whole::<v1::GenesisV1>(bytes)? {
            v1::GenesisV1::Create { config, seed, now } => Genesis::Create {
                config: Box::new(config_from(*config)),
                seed,
                now,
            },
            v1::GenesisV1::Restore(bytes) => Genesis::Restore(bytes),
        }),
        other => Err(EventLogError::UnknownFormat(other)),
    }
}

/// `T` from exactly `bytes`.
fn whole<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, EventLogError> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(EventLogError::TrailingBytes(rest.len())),
        Err(_) => Err(EventLogError::Decode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Query, Side, SuggestRequest};

    #[test]
    fn bad_records_are_typed_errors() {
        let bytes = encode_event(&Command::RunDue).unwrap();
        assert_eq!(
            decode_event(2, &bytes),
            Err(EventLogError::UnknownFormat(2))
        );
        assert_eq!(
            decode_genesis(0, &bytes),
            Err(EventLogError::UnknownFormat(0))
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_event(1, &long), Err(EventLogError::TrailingBytes(1)));
        assert_eq!(decode_event(1, &[]), Err(EventLogError::Decode));
        assert_eq!(decode_event(1, &[2]), Err(EventLogError::NotJournaled));
        assert_eq!(decode_event(1, &[9]), Err(EventLogError::NotJournaled));
        assert_eq!(decode_event(1, &[12]), Err(EventLogError::Decode));
        let q = Command::Query(Query::Stats);
        assert_eq!(encode_event(&q), Err(EventLogError::NotJournaled));
        let s = Command::Suggest(SuggestRequest {
            side: Side::Long,
            price: 1.0,
            features: alloc::vec![],
            levels: alloc::vec![],
        });
        assert_eq!(encode_event(&s), Err(EventLogError::NotJournaled));
        let mut r = crate::rng::SplitMix64::new(5);
        for n in 0..3000 {
            let bytes: Vec<u8> = (0..n % 48).map(|_| r.next_u64() as u8).collect();
            let _ = decode_event(1, &bytes);
            let _ = decode_genesis(1, &bytes);
        }
    }
}
