//! `Settings::from_toml` on arbitrary UTF-8: never panics, and accepted settings survive
//! to_toml -> from_toml unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeloop_host::settings::Settings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(s) = Settings::from_toml(text) {
        let printed = s.to_toml();
        let again = Settings::from_toml(&printed)
            .unwrap_or_else(|e| panic!("printed settings do not parse: {e}\n{printed}"));
        assert!(
            again == s,
            "to_toml -> from_toml changed the settings:\n{printed}"
        );
    }
});
