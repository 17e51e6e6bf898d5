//! The market CSV readers on arbitrary UTF-8: never panic, and every candle they return is
//! valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeloop_core::market::{parse_csv, parse_feature_rows};

const FEATURES: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(candles) = parse_csv(text) {
        for c in &candles {
            if let Err(e) = c.validate() {
                panic!("parse_csv returned an invalid candle {c:?}: {e:?}");
            }
        }
    }
    if let Ok(rows) = parse_feature_rows(text, FEATURES) {
        assert_eq!(rows.values.len(), rows.labels.len() * FEATURES);
        assert!(
            rows.values.iter().all(|v| v.is_finite()),
            "parse_feature_rows returned a non-finite value"
        );
    }
});
