//! The journal's records (`event_log`) on arbitrary bytes: decoding never panics, and a
//! record that decodes encodes to bytes that decode to the same value. (Not to the same
//! bytes: postcard also reads over-long varints, so one value can have several spellings;
//! they all replay alike.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeloop_core::event_log::{self, FORMAT};

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = event_log::decode_event(FORMAT, data) {
        let bytes = event_log::encode_event(&command).expect("a decoded event encodes");
        let again = event_log::decode_event(FORMAT, &bytes).expect("its encoding decodes");
        // Compared through their encodings: a NaN feature is not equal to itself.
        assert!(
            event_log::encode_event(&again).ok() == Some(bytes),
            "event changed through encode -> decode"
        );
    }
    if let Ok(genesis) = event_log::decode_genesis(FORMAT, data) {
        let bytes = event_log::encode_genesis(&genesis);
        let again = event_log::decode_genesis(FORMAT, &bytes).expect("its encoding decodes");
        assert!(
            event_log::encode_genesis(&again) == bytes,
            "genesis changed through encode -> decode"
        );
    }
});
