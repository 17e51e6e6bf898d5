//! The plugin ABI's messages: what a host sends to the `tradeloop-plugin` wasm module and
//! what it answers, as postcard bytes. Shared by the plugin and every host (the native
//! `tradeloop` binary), so both sides encode exactly the same types.
//!
//! One call carries one [`Request`]; the plugin answers with a status code and a result
//! buffer: a postcard [`Response`] on [`Status::Ok`], a postcard [`Rejection`] (the
//! engine's error kind and message) on [`Status::Rejected`], UTF-8 text otherwise. The whole
//! calling convention (exports, imports, memory ownership) is written down in `docs/ABI.md`.
//! [`handle`] is the plugin's logic without the wasm plumbing, so hosts can run the same
//! code natively (and tests can compare the two).

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::command::{Command, Reply};
use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::error::Error;
use crate::ranking::{NoRanker, RankOutput, Ranker};

/// What the host's `rank` import answers, postcard-encoded: the ranker's output, or why it
/// could not rank.
pub type RankAnswer = Result<RankOutput, String>;

/// What the host's `rank` import returns when no ranker is attached: the engine answers
/// [`Error::NoRanker`], as a local engine without a ranker does.
pub const RANK_NO_RANKER: i32 = -2;

/// The rows a plugin passes to the host's `rank` import: every `f32` little-endian, row
/// after row.
pub fn encode_rows(rows: &[f32]) -> Vec<u8> {
    rows.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Reads [`encode_rows`] bytes back; `None` unless they hold whole rows of `dim` (>= 1)
/// values.
pub fn decode_rows(bytes: &[u8], dim: usize) -> Option<Vec<f32>> {
    if dim == 0 || bytes.is_empty() || !bytes.len().is_multiple_of(4 * dim) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// Decodes the bytes of a [`RankAnswer`] into the ranker's output or a typed error.
pub fn decode_rank_answer(bytes: &[u8]) -> Result<RankOutput, Error> {
    match postcard::from_bytes::<RankAnswer>(bytes) {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(why)) => Err(Error::Ranker(why)),
        Err(_) => Err(Error::Ranker(
            "the host's rank answer does not decode".to_string(),
        )),
    }
}

/// The ABI version this build speaks (the plugin's `tl_abi_version` export). Version 2 added
/// the `rank` / `rank_result` imports; version 3 answers a rejected request with a
/// [`Rejection`] (kind and message) instead of text.
pub const ABI_VERSION: u32 = 3;

/// The name of the only import module a plugin may use.
pub const IMPORT_MODULE: &str = "tradeloop_host";

/// Largest request the plugin accepts, in bytes (a checkpoint to restore is the largest).
pub const MAX_REQUEST: u32 = 256 * 1024 * 1024;

/// What a host asks the plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Create a fresh engine (replacing any current one).
    Create {
        /// Its configuration.
        config: Box<EngineConfig>,
        /// Its seed.
        seed: u64,
        /// Creation time, ms since the Unix epoch.
        now: i64,
    },
    /// Replace the current engine by one restored from checkpoint bytes.
    Restore(Vec<u8>),
    /// Apply one command to the current engine.
    Apply {
        /// The command.
        command: Command,
        /// Its time, ms since the Unix epoch.
        now: i64,
    },
    /// The current engine's checkpoint bytes.
    Snapshot,
}

/// The plugin's answer to a successful [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Answer to `Create` and `Restore`: an engine is ready.
    Ready,
    /// Answer to `Apply`.
    Reply(Box<Reply>),
    /// Answer to `Snapshot`.
    Snapshot(Vec<u8>),
}

/// The result buffer of [`Status::Rejected`]: the engine's error as its kind
/// ([`crate::ErrorKind::name`], e.g. `"UnknownTrade"`) and its message, postcard-encoded
/// (two length-prefixed UTF-8 strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The error's kind.
    pub kind: String,
    /// The error's message.
    pub message: String,
}

impl Rejection {
    /// The rejection of `error`.
    pub fn of(error: &Error) -> Self {
        Rejection {
            kind: error.kind().name().to_string(),
            message: error.to_string(),
        }
    }

    /// Reads a rejection's bytes back into an [`Error::Relayed`] with the engine's kind and
    /// message; bytes that do not decode, or a kind this build does not know, become
    /// [`Error::Host`] with what could be read.
    pub fn decode(bytes: &[u8]) -> Error {
        match postcard::from_bytes::<Rejection>(bytes) {
            Ok(r) => match crate::ErrorKind::from_name(&r.kind) {
                Some(kind) => Error::Relayed {
                    kind,
                    message: r.message,
                },
                None => Error::Host(alloc::format!("{} ({})", r.message, r.kind)),
            },
            Err(_) => Error::Host(alloc::format!(
                "the plugin's rejection does not decode: {}",
                String::from_utf8_lossy(bytes)
            )),
        }
    }
}

/// Status codes returned by the plugin's `tl_call` export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(i32)]
pub enum Status {
    /// Success: the result buffer holds a postcard [`Response`].
    Ok = 0,
    /// The engine rejected the command or checkpoint (bad input); its state is unchanged.
    /// The result buffer holds a postcard [`Rejection`].
    Rejected = 1,
    /// The request bytes do not decode as a [`Request`] (or are too long).
    BadRequest = 2,
    /// `Apply` or `Snapshot` before any `Create` or `Restore`.
    NoEngine = 3,
}

impl Status {
    /// The status for a raw code, if it is one.
    pub fn from_code(code: i32) -> Option<Status> {
        match code {
            0 => Some(Status::Ok),
            1 => Some(Status::Rejected),
            2 => Some(Status::BadRequest),
            3 => Some(Status::NoEngine),
            _ => None,
        }
    }
}

/// Handles one encoded request against `engine` (the plugin's state): the status and the
/// result bytes. Never panics on any input; a failed request leaves `engine` unchanged.
pub fn handle(engine: &mut Option<Engine>, request: &[u8]) -> (Status, Vec<u8>) {
    handle_with(engine, request, &mut NoRanker)
}

/// [`handle`] with a ranker for `Command::Rank` (the plugin's is its host's `rank` import).
pub fn handle_with(
    engine: &mut Option<Engine>,
    request: &[u8],
    ranker: &mut dyn Ranker,
) -> (Status, Vec<u8>) {
    if request.len() as u64 > u64::from(MAX_REQUEST) {
        return (Status::BadRequest, b"request too long".to_vec());
    }
    let request = match postcard::from_bytes::<Request>(request) {
        Ok(r) => r,
        Err(e) => {
            return (
                Status::BadRequest,
                alloc::format!("request does not decode: {e}").into_bytes(),
            );
        }
    };
    let response = match request {
        Request::Create { config, seed, now } => match Engine::new(*config, seed, now) {
            Ok(e) => {
                *engine = Some(e);
                Response::Ready
            }
            Err(e) => return rejected(&e),
        },
        Request::Restore(bytes) => match Engine::restore(&bytes) {
            Ok(e) => {
                *engine = Some(e);
                Response::Ready
            }
            Err(e) => return rejected(&e),
        },
        Request::Apply { command, now } => {
            let Some(e) = engine.as_mut() else {
                return no_engine();
            };
            match e.apply_with(command, now, ranker) {
                Ok(reply) => Response::Reply(Box::new(reply)),
                Err(e) => return rejected(&e),
            }
        }
        Request::Snapshot => match engine.as_ref() {
            Some(e) => Response::Snapshot(e.snapshot()),
            None => return no_engine(),
        },
    };
    // Serialising into a Vec cannot fail for these types.
    (
        Status::Ok,
        postcard::to_allocvec(&response).unwrap_or_default(),
    )
}

fn rejected(error: &Error) -> (Status, Vec<u8>) {
    (
        Status::Rejected,
        postcard::to_allocvec(&Rejection::of(error)).unwrap_or_default(),
    )
}

fn no_engine() -> (Status, Vec<u8>) {
    (
        Status::NoEngine,
        b"no engine: send Create or Restore first".to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Query;

    fn enc(r: &Request) -> Vec<u8> {
        postcard::to_allocvec(r).unwrap()
    }

    #[test]
    fn create_apply_snapshot_restore() {
        let mut e = None;
        let q = enc(&Request::Apply {
            command: Command::Query(Query::Stats),
            now: 0,
        });
        assert_eq!(handle(&mut e, &q).0, Status::NoEngine);
        assert_eq!(handle(&mut e, &enc(&Request::Snapshot)).0, Status::NoEngine);
        let config = EngineConfig {
            features: 4,
            ..EngineConfig::default()
        };
        let (s, out) = handle(
            &mut e,
            &enc(&Request::Create {
                config: Box::new(config),
                seed: 1,
                now: 0,
            }),
        );
        assert_eq!(
            (s, postcard::from_bytes(&out).ok()),
            (Status::Ok, Some(Response::Ready))
        );
        let (s, out) = handle(&mut e, &q);
        assert_eq!(s, Status::Ok);
        assert!(matches!(
            postcard::from_bytes::<Response>(&out),
            Ok(Response::Reply(r)) if matches!(*r, Reply::Stats(_))
        ));
        let (_, out) = handle(&mut e, &enc(&Request::Snapshot));
        let Ok(Response::Snapshot(bytes)) = postcard::from_bytes::<Response>(&out) else {
            panic!()
        };
        let mut other = None;
        assert_eq!(
            handle(&mut other, &enc(&Request::Restore(bytes))).0,
            Status::Ok
        );
        assert_eq!(other, e);
        let (s, msg) = handle(&mut other, &enc(&Request::Restore(vec![1, 2, 3])));
        assert_eq!(s, Status::Rejected);
        let err = Rejection::decode(&msg);
        assert_eq!(err.kind(), crate::ErrorKind::Checkpoint);
        assert_eq!(
            err.to_string(),
            Engine::restore(&[1, 2, 3]).unwrap_err().to_string()
        );
        assert_eq!(other, e, "a rejected restore keeps the engine");
    }

    #[test]
    fn hostile_bytes_are_bad_requests() {
        let mut e = None;
        let mut r = crate::rng::SplitMix64::new(9);
        for n in 0..2000 {
            let bytes: Vec<u8> = (0..n % 64).map(|_| r.next_u64() as u8).collect();
            let (s, _) = handle(&mut e, &bytes);
            assert_ne!(s, Status::Ok, "{bytes:?}");
        }
        assert_eq!(e, None);
        for code in -2..6 {
            assert_eq!(
                Status::from_code(code).map(|s| s as i32),
                (0..4).contains(&code).then_some(code)
            );
        }
    }
}
