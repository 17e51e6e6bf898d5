//! The peers' portable data spec (`shared/bench/anchors/common.py`), rebuilt on the core's
//! SplitMix64 so every runtime trains on the same bits.

use tradeloop_core::nn::{Activation, Init, Mlp, MlpSpec};
use tradeloop_core::rng::SplitMix64;

/// Samples in the W1/W2 data set.
pub const N_SAMPLES: usize = 20_000;
/// Input width.
pub const D_IN: usize = 32;
/// Hidden width.
pub const D_H: usize = 64;
/// Classes.
pub const D_OUT: usize = 3;

/// The W1/W2 data set: `x` is `N x 32` row-major, `y` the class of each row.
pub struct Dataset {
    /// Features.
    pub x: Vec<f32>,
    /// Labels in `0..3`.
    pub y: Vec<u8>,
}

/// Data seed 1: a 32x3 map `M`, then `X`, then `y = argmax(X M)` in f64 (first on ties).
pub fn dataset(n: usize) -> Dataset {
    let mut r = SplitMix64::new(1);
    let m: Vec<f32> = (0..D_IN * D_OUT).map(|_| r.normal() as f32).collect();
    let x: Vec<f32> = (0..n * D_IN).map(|_| r.normal() as f32).collect();
    let y = x
        .chunks_exact(D_IN)
        .map(|row| {
            let mut best = (0u8, f64::NEG_INFINITY);
            for k in 0..D_OUT {
                let s: f64 = row
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| f64::from(v) * f64::from(m[j * D_OUT + k]))
                    .sum();
                if s > best.1 {
                    best = (k as u8, s);
                }
            }
            best.0
        })
        .collect();
    Dataset { x, y }
}

/// The W1/W2 network: 32-64-64-3, ReLU, Glorot-uniform weights from seed 2, zero biases.
pub fn mlp() -> Mlp {
    let spec = MlpSpec {
        sizes: vec![D_IN as u32, D_H as u32, D_H as u32, D_OUT as u32],
        hidden: Activation::Relu,
        output: Activation::Identity,
        init: Init::XavierUniform,
    };
    Mlp::new(spec, &mut SplitMix64::new(2)).expect("the W1 spec is valid")
}

/// The fingerprint `python3 common.py` prints: `(x_sum, x00, y_counts, w1_sum)`.
pub fn fingerprint(d: &Dataset, net: &Mlp) -> (f64, f64, [u32; 3], f64) {
    let x_sum = d.x.iter().map(|&v| f64::from(v)).sum();
    let mut counts = [0u32; 3];
    for &c in &d.y {
        counts[usize::from(c)] += 1;
    }
    let w1 = &net.params()[..D_IN * D_H];
    (
        x_sum,
        f64::from(d.x[0]),
        counts,
        w1.iter().map(|&v| f64::from(v)).sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_data_as_the_python_and_node_peers() {
        // From shared/bench/RESULTS.md, "data_check" (identical in Python and node):
        // {"x_sum":1147.444578926219,"x00":-1.6595755815505981,"y_counts":[7312,6758,5930],
        //  "w1_sum":-1.8999042261057184}
        let (x_sum, x00, counts, w1_sum) = fingerprint(&dataset(N_SAMPLES), &mlp());
        assert_eq!(counts, [7312, 6758, 5930]);
        assert_eq!(x00, -1.6595755815505981);
        assert!((x_sum - 1147.444578926219).abs() < 1e-9, "{x_sum}");
        assert!((w1_sum - -1.8999042261057184).abs() < 1e-12, "{w1_sum}");
    }
}
