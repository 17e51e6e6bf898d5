//! `abi::handle` on arbitrary request bytes, with no engine and with a small one: never
//! panics, and a request that does not answer `Ok` leaves the engine as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeloop_core::abi::{self, Rejection, Response, Status};
use tradeloop_core::{Engine, EngineConfig};

thread_local! {
    /// A small engine, made once (`Engine` is not `Sync`: one per fuzzing thread).
    static BASE: Engine = Engine::new(
        EngineConfig {
            features: 4,
            ..Default::default()
        },
        1,
        0,
    )
    .expect("a 4-feature engine");
}

fn check(mut engine: Option<Engine>, data: &[u8]) {
    let before = engine.clone();
    let (status, out) = abi::handle(&mut engine, data);
    match status {
        Status::Ok => {
            postcard::from_bytes::<Response>(&out).expect("an Ok result decodes as a Response");
        }
        other => {
            assert!(
                engine == before,
                "a request answered {other:?} changed the engine"
            );
            if other == Status::Rejected {
                postcard::from_bytes::<Rejection>(&out)
                    .expect("a Rejected result decodes as a Rejection");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(None, data);
    check(Some(BASE.with(Engine::clone)), data);
});
