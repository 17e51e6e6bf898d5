//! The portable checkpoint format: one file layout for browser exports, plugin snapshots and
//! host checkpoint files.
//!
//! ```text
//! offset size  field
//!      0    8  magic "TRADLOOP"
//!      8    8  checksum: XXH64 (seed 0) of every byte from offset 16 to the end, u64 LE
//!     16    2  envelope format version, u16 LE (this layout: 1)
//!     18    2  payload schema version, u16 LE (1 to 4; see `v4::SCHEMA`)
//!     20    2  flags, u16 LE (none defined: must be 0)
//!     22    2  payload kind, u16 LE: 0 an engine, 1 a paper trader (`PaperTrader::snapshot`)
//!     24    8  payload length in bytes, u64 LE
//!     32    n  payload: postcard encoding of the kind's schema type (`EngineV*` for an engine)
//! ```
//!
//! Engines and paper traders share this envelope (one reader of headers, checksums and
//! versions); each kind has its own schema numbers, and a reader refuses the other kind.
//!
//! Reading checks, in order: length >= 32 (`Truncated`), magic (`Foreign`), format
//! (`UnsupportedFormat`), declared length against the bytes present (`Truncated` /
//! `TrailingBytes`), checksum (`ChecksumMismatch`), schema (`FutureSchema`), decoding
//! (`Decode`) and finally every invariant of the engine (`Invalid`). The checksum is checked
//! before the schema, so a corrupt file is never mistaken for one from a newer version.

mod arrays;
pub mod v1;
pub mod v2;
pub mod v2_lifecycle;
pub mod v3;
pub mod v4;
mod xxh64;

use alloc::vec::Vec;
use postcard::ser_flavors::Flavor;

pub use arrays::{Le, Pod};
pub use xxh64::xxh64;

use crate::engine::Engine;
use crate::error::CheckpointError;

/// First 8 bytes of every checkpoint.
pub const MAGIC: [u8; 8] = *b"TRADLOOP";
/// Header size.
pub const HEADER_LEN: usize = 32;
/// Envelope layout version written and read by this build.
pub const FORMAT: u16 = 1;
/// Newest payload schema this build writes and reads.
pub const SCHEMA: u16 = v4::SCHEMA;
/// Payload kind of an engine checkpoint.
pub const KIND_ENGINE: u16 = 0;
/// Payload kind of a paper trader snapshot (`PaperTrader::snapshot`).
pub const KIND_PAPER_TRADER: u16 = 1;

/// The fixed-size header of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Envelope format version.
    pub format: u16,
    /// Payload schema version.
    pub schema: u16,
    /// Payload kind ([`KIND_ENGINE`], [`KIND_PAPER_TRADER`]).
    pub kind: u16,
    /// Payload length in bytes.
    pub payload_len: u64,
    /// Stored checksum.
    pub checksum: u64,
}

/// Serialises into a vector that already holds the header placeholder.
struct Out(Vec<u8>);

impl Flavor for Out {
    type Output = Vec<u8>;
    fn try_push(&mut self, b: u8) -> postcard::Result<()> {
        self.0.push(b);
        Ok(())
    }
    fn try_extend(&mut self, b: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(b);
        Ok(())
    }
    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// Wraps an already-encoded engine payload in the envelope.
pub fn seal(schema: u16, payload: &[u8]) -> Vec<u8> {
    seal_kind(KIND_ENGINE, schema, payload)
}

/// Wraps an already-encoded payload of `kind` in the envelope.
pub fn seal_kind(kind: u16, schema: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.resize(HEADER_LEN, 0);
    out.extend_from_slice(payload);
    finish(&mut out, kind, schema);
    out
}

/// Fills in the header of `out` (whose payload starts at `HEADER_LEN`).
fn finish(out: &mut [u8], kind: u16, schema: u16) {
    let payload_len = (out.len() - HEADER_LEN) as u64;
    out[0..8].copy_from_slice(&MAGIC);
    out[16..18].copy_from_slice(&FORMAT.to_le_bytes());
    out[18..20].copy_from_slice(&schema.to_le_bytes());
    out[20..22].copy_from_slice(&0u16.to_le_bytes());
    out[22..24].copy_from_slice(&kind.to_le_bytes());
    out[24..32].copy_from_slice(&payload_len.to_le_bytes());
    let sum = xxh64(&out[16..], 0);
    out[8..16].copy_from_slice(&sum.to_le_bytes());
}

/// Checks the envelope of an engine checkpoint and returns the header and the payload
/// bytes (any schema up to [`SCHEMA`]).
pub fn open(bytes: &[u8]) -> Result<(Header, &[u8]), CheckpointError> {
    open_kind(bytes, KIND_ENGINE, SCHEMA)
}

/// Checks the envelope of a payload of `kind` whose newest schema is `supported`, and
/// returns the header and the payload bytes.
pub fn open_kind(
    bytes: &[u8],
    kind: u16,
    supported: u16,
) -> Result<(Header, &[u8]), CheckpointError> {
    let got = bytes.len() as u64;
    if bytes.len() < HEADER_LEN {
        return Err(CheckpointError::Truncated {
            needed: HEADER_LEN as u64,
            got,
        });
    }
    if bytes[0..8] != MAGIC {
        return Err(CheckpointError::Foreign);
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u64_at = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(a)
    };
    let header = Header {
        format: u16_at(16),
        schema: u16_at(18),
        kind: u16_at(22),
        payload_len: u64_at(24),
        checksum: u64_at(8),
    };
    if header.format != FORMAT {
        return Err(CheckpointError::UnsupportedFormat(header.format));
    }
    let needed = (HEADER_LEN as u64).saturating_add(header.payload_len);
    if got < needed {
        return Err(CheckpointError::Truncated { needed, got });
    }
    if got > needed {
        return Err(CheckpointError::TrailingBytes(got - needed));
    }
    if xxh64(&bytes[16..], 0) != header.checksum {
        return Err(CheckpointError::ChecksumMismatch);
    }
    if bytes[20..22] != [0; 2] {
        return Err(CheckpointError::Invalid("unknown header flags"));
    }
    if header.kind != kind {
        return Err(CheckpointError::Invalid(match header.kind {
            KIND_ENGINE => "this is an engine checkpoint, not a paper trader snapshot",
            KIND_PAPER_TRADER => "this is a paper trader snapshot, not an engine checkpoint",
            _ => "unknown payload kind (written by a newer tradeloop?)",
        }));
    }
    if header.schema > supported {
        return Err(CheckpointError::FutureSchema {
            found: header.schema,
            supported,
        });
    }
    if header.schema == 0 {
        return Err(CheckpointError::Invalid("schema 0 does not exist"));
    }
    Ok((header, &bytes[HEADER_LEN..]))
}

/// Decodes a checkpoint into its persisted form of the current schema: what `tradeloop
/// inspect` prints. A file of an older schema is read into an engine (upgraded, see
/// [`v2_lifecycle`]) and shown as that engine would be written now.
pub fn decode(bytes: &[u8]) -> Result<v4::EngineV4<'static>, CheckpointError> {
    let (header, payload) = open(bytes)?;
    if header.schema == v4::SCHEMA {
        return take::<v4::EngineV4<'static>>(payload);
    }
    let engine = read_old(header.schema, payload)?;
    let mut now = Vec::new();
    write(&engine, &mut now);
    take::<v4::EngineV4<'static>>(&now[HEADER_LEN..])
}

/// An engine from the payload of schema 1, 2 or 3, upgraded.
#[cfg(feature = "upgrade")]
fn read_old(schema: u16, payload: &[u8]) -> Result<Engine, CheckpointError> {
    let v3 = match schema {
        1 => v3::upgrade(
            v2::upgrade(take::<v1::EngineV1<'static>>(payload)?)
                .map_err(CheckpointError::Invalid)?,
        ),
        2 => v3::upgrade(take::<v2::EngineV2<'static>>(payload)?),
        _ => take::<v3::EngineV3<'static>>(payload)?,
    };
    v3.into_engine().map_err(CheckpointError::Invalid)
}

/// Without the `upgrade` feature (the browser's lean package) only the current schema is
/// read; an older file is refused, unchanged, with the way to upgrade it.
#[cfg(not(feature = "upgrade"))]
fn read_old(_schema: u16, _payload: &[u8]) -> Result<Engine, CheckpointError> {
    Err(CheckpointError::Invalid(OLD_SCHEMA))
}

/// Why a build without the `upgrade` feature refuses a schema 1-3 checkpoint.
pub const OLD_SCHEMA: &str = "an older checkpoint schema (1 to 3) that this build does not \
    upgrade (built without the `upgrade` feature): upgrade the file with `tradeloop import`, \
    or open it with a full build";

fn take<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, CheckpointError> {
    let (dto, rest) =
        postcard::take_from_bytes::<T>(payload).map_err(|_| CheckpointError::Decode)?;
    if !rest.is_empty() {
        return Err(CheckpointError::Invalid(
            "payload has bytes after the engine state",
        ));
    }
    Ok(dto)
}

pub(crate) fn write(engine: &Engine, out: &mut Vec<u8>) {
    let dto = v4::EngineV4::from_engine(engine);
    let mut buf = core::mem::take(out);
    buf.clear();
    buf.reserve(HEADER_LEN + size_hint(engine));
    buf.resize(HEADER_LEN, 0);
    // Serialising into a Vec cannot fail: every type here has a total Serialize impl.
    let mut buf =
        postcard::serialize_with_flavor::<_, _, Vec<u8>>(&dto, Out(buf)).unwrap_or_default();
    if buf.len() < HEADER_LEN {
        buf.resize(HEADER_LEN, 0);
    }
    finish(&mut buf, KIND_ENGINE, v4::SCHEMA);
    *out = buf;
}

/// A close upper estimate of the payload size, so `write` allocates once.
fn size_hint(e: &Engine) -> usize {
    let versions = &e.lifecycle.registry.versions;
    let params = versions
        .iter()
        .filter_map(|v| v.predictor.net())
        .map(|n| n.mlp.params().len() + n.norm.dim() * 4)
        .sum::<usize>()
        + e.exits.mlp.params().len()
        + 3 * e.lifecycle.online.net.mlp.params().len();
    let retrain = e.lifecycle.retrain.as_ref().map_or(0, |r| {
        let (t, v) = r.run.rows();
        (t + v + r.test.len()) * (e.config.features as usize * 4 + 16)
    });
    let monitor = e.lifecycle.monitor.len() as usize * 48;
    let replay = e.replay.len() * (e.config.features as usize * 4 + 40);
    let trades = (e.journal.open_count() + e.journal.closed_trades().len())
        * (e.config.features as usize * 4 + 200);
    4096 + params * 4 * 4 + replay + trades + monitor + retrain + e.levels.history().len() * 80
}

pub(crate) fn read(bytes: &[u8]) -> Result<Engine, CheckpointError> {
    let (header, payload) = open(bytes)?;
    if header.schema == v4::SCHEMA {
        return take::<v4::EngineV4<'static>>(payload)?
            .into_engine()
            .map_err(CheckpointError::Invalid);
    }
    read_old(header.schema, payload)
}
