//! `Engine::restore` and `checkpoint::decode` on arbitrary bytes: never panic, and a restored
//! engine survives snapshot -> restore unchanged.
//!
//! The envelope's XXH64 checksum stops nearly every mutation at `ChecksumMismatch`, so an
//! input that starts with the magic is also tried re-sealed: its payload (bytes 32..) under
//! a fresh header of the schema it names, which takes mutated payloads into the decoders,
//! the upgrades from older schemas and the invariant checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeloop_core::Engine;
use tradeloop_core::checkpoint::{self, HEADER_LEN, MAGIC};

fn check(bytes: &[u8]) {
    let _ = checkpoint::decode(bytes);
    if let Ok(engine) = Engine::restore(bytes) {
        let snapshot = engine.snapshot();
        let again = Engine::restore(&snapshot)
            .unwrap_or_else(|e| panic!("a restored engine's snapshot does not restore: {e}"));
        assert!(again == engine, "snapshot -> restore changed the engine");
        assert!(
            again.snapshot() == snapshot,
            "snapshot -> restore -> snapshot changed the bytes"
        );
        if let Err(e) = checkpoint::decode(&snapshot) {
            panic!("a fresh snapshot does not decode: {e}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= HEADER_LEN && data[..8] == MAGIC {
        let schema = u16::from_le_bytes([data[18], data[19]]);
        check(&checkpoint::seal(schema, &data[HEADER_LEN..]));
    }
});
