//! Helpers shared by the integration tests: action records and their property-test
//! strategies.
#![allow(dead_code, reason = "each test file uses a part")]

use proptest::prelude::*;
use tradeloop_strategy::abi::Action;

/// The records of `actions`, back to back, as `tls_on_bar` writes them.
pub(crate) fn encode(actions: &[Action]) -> Vec<u8> {
    let mut b = vec![0u8; actions.len() * Action::SIZE];
    for (i, a) in actions.iter().enumerate() {
        a.write(&mut b[i * Action::SIZE..]);
    }
    b
}

pub(crate) fn size_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.001f64..50.0,
        1 => prop::sample::select(vec![
            f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, -1.0, 5e-324, 1e-300, 1e300,
            1e307, f64::MAX,
        ]),
        1 => any::<f64>(),
    ]
}

pub(crate) fn price_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 1.0f64..1_200.0,
        1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, 0.0, -3.0, 5e-324, 1e300, f64::MAX]),
        1 => any::<f64>(),
    ]
}

/// One action record's bytes: mostly well-formed fields, with bad codes, sizes and prices
/// mixed in, or 32 arbitrary bytes.
pub(crate) fn action_bytes() -> impl Strategy<Value = [u8; Action::SIZE]> {
    let fields = (
        prop_oneof![8 => 1u8..=5, 1 => any::<u8>()],
        prop_oneof![8 => 0u8..=1, 1 => any::<u8>()],
        prop_oneof![8 => 0u8..=1, 1 => any::<u8>()],
        any::<u32>(),
        size_strategy(),
        price_strategy(),
        prop_oneof![4 => 0u32..40, 1 => any::<u32>()],
    )
        .prop_map(|(kind, side, flags, tag, size, price, order_id)| {
            let mut b = [0u8; Action::SIZE];
            Action {
                kind,
                side,
                tag,
                size,
                price,
                order_id,
                flags,
            }
            .write(&mut b);
            b
        });
    prop_oneof![6 => fields, 1 => any::<[u8; Action::SIZE]>()]
}
