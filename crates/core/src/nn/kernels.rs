//! The dense-layer and optimiser kernels live in their own crate, `tradeloop-kernels`, so
//! that the browser build can optimise them for speed and the rest of the core for size
//! (`[profile.wasm-release]` in the workspace Cargo.toml). This module keeps their tests,
//! which draw inputs from the core's RNG.

pub(crate) use tradeloop_kernels::{
    AdamStep, SgdStep, adam, affine, backprop_input, dot, grad_bias, grad_weights, relu,
    relu_backward, scale, sgd,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use alloc::vec;
    use alloc::vec::Vec;
    use tradeloop_kernels::Backend;

    fn randv(r: &mut SplitMix64, n: usize) -> Vec<f32> {
        (0..n).map(|_| r.normal() as f32).collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Shapes that exercise full tiles, partial tiles and scalar tails.
    const SHAPES: &[(usize, usize, usize)] = &[
        (1, 32, 64),
        (1, 64, 3),
        (3, 5, 17),
        (4, 4, 16),
        (5, 33, 70),
        (64, 64, 64),
        (7, 1, 1),
        (9, 19, 130),
    ];

    #[test]
    fn affine_matches_naive_and_all_backends_agree() {
        let mut r = SplitMix64::new(1);
        for &(rows, k, n) in SHAPES {
            let x = randv(&mut r, rows * k);
            let w = randv(&mut r, k * n);
            let b = randv(&mut r, n);
            let mut naive = vec![0.0f32; rows * n];
            for i in 0..rows {
                for j in 0..n {
                    let mut acc = b[j];
                    for kk in 0..k {
                        acc += x[i * k + kk] * w[kk * n + j];
                    }
                    naive[i * n + j] = acc;
                }
            }
            for be in Backend::available() {
                let mut out = vec![f32::NAN; rows * n];
                affine(be, &x, &w, &b, &mut out, rows, k, n);
                assert_eq!(bits(&out), bits(&naive), "{} {rows}x{k}x{n}", be.name());
            }
        }
    }

    #[test]
    fn gradients_match_naive_and_all_backends_agree() {
        let mut r = SplitMix64::new(2);
        for &(rows, k, n) in SHAPES {
            let x = randv(&mut r, rows * k);
            let d = randv(&mut r, rows * n);
            let w = randv(&mut r, k * n);
            let mut gw_naive = vec![0.0f32; k * n];
            for kk in 0..k {
                for j in 0..n {
                    let mut acc = x[kk] * d[j];
                    for b in 1..rows {
                        acc += x[b * k + kk] * d[b * n + j];
                    }
                    gw_naive[kk * n + j] = acc;
                }
            }
            let mut dx_ref = vec![0.0f32; rows * k];
            backprop_input(Backend::SCALAR, &d, &w, &mut dx_ref, rows, k, n);
            for b in 0..rows {
                for kk in 0..k {
                    let exact: f64 = (0..n)
                        .map(|j| f64::from(d[b * n + j]) * f64::from(w[kk * n + j]))
                        .sum();
                    let got = f64::from(dx_ref[b * k + kk]);
                    assert!(
                        (got - exact).abs() <= 1e-4 * (1.0 + exact.abs()),
                        "{got} {exact}"
                    );
                }
            }
            for be in Backend::available() {
                let mut gw = vec![f32::NAN; k * n];
                grad_weights(be, &x, &d, &mut gw, rows, k, n);
                assert_eq!(
                    bits(&gw),
                    bits(&gw_naive),
                    "{} gw {rows}x{k}x{n}",
                    be.name()
                );
                let mut gb = vec![f32::NAN; n];
                grad_bias(be, &d, &mut gb, rows, n);
                let gb_naive: Vec<f32> = (0..n)
                    .map(|j| (1..rows).fold(d[j], |a, b| a + d[b * n + j]))
                    .collect();
                assert_eq!(bits(&gb), bits(&gb_naive), "{} gb", be.name());
                let mut dx = vec![f32::NAN; rows * k];
                backprop_input(be, &d, &w, &mut dx, rows, k, n);
                assert_eq!(bits(&dx), bits(&dx_ref), "{} dx {rows}x{k}x{n}", be.name());
            }
        }
    }

    #[test]
    fn reduce16_equals_sixteen_reductions_on_every_backend() {
        let mut r = SplitMix64::new(8);
        let data = randv(&mut r, 256);
        for be in Backend::available() {
            // Via the public kernel: a 4x4 tile of dot products of length 16 (one vector each).
            let (rows, k, n) = (4, 4, 16);
            let (d, w) = (&data[..rows * n], &data[128..128 + k * n]);
            let mut dx = vec![0.0f32; rows * k];
            backprop_input(be, d, w, &mut dx, rows, k, n);
            let mut want = vec![0.0f32; rows * k];
            backprop_input(Backend::SCALAR, d, w, &mut want, rows, k, n);
            assert_eq!(bits(&dx), bits(&want), "{}", be.name());
        }
    }

    #[test]
    fn dot_follows_the_canonical_tree() {
        let mut r = SplitMix64::new(3);
        for n in [0usize, 1, 3, 15, 16, 17, 31, 32, 100, 1000] {
            let a = randv(&mut r, n);
            let b = randv(&mut r, n);
            let mut lanes = [0.0f32; 16];
            for i in 0..n {
                lanes[i % 16] += a[i] * b[i];
            }
            let mut w = 8;
            while w > 0 {
                for i in 0..w {
                    lanes[i] += lanes[i + w];
                }
                w /= 2;
            }
            for be in Backend::available() {
                assert_eq!(
                    dot(be, &a, &b).to_bits(),
                    lanes[0].to_bits(),
                    "{} n={n}",
                    be.name()
                );
            }
        }
    }

    #[test]
    fn elementwise_and_optimisers_agree_across_backends() {
        let mut r = SplitMix64::new(4);
        for n in [1usize, 15, 16, 47, 6595] {
            let base = randv(&mut r, n);
            let mut g = randv(&mut r, n);
            let mut m0 = randv(&mut r, n);
            // Moments about to become tiny, exact zeros, and a NaN that must survive.
            for i in (0..n).step_by(5) {
                m0[i] = 1.05e-30 * m0[i].signum();
                g[i] = 0.0;
            }
            if n > 3 {
                g[3] = f32::NAN;
            }
            let v0: Vec<f32> = randv(&mut r, n).iter().map(|x| x * x).collect();
            let step = AdamStep {
                beta1: 0.9,
                one_minus_beta1: 0.1,
                beta2: 0.999,
                one_minus_beta2: 0.001,
                step_size: 1e-3 / 0.1,
                inv_bias2_sqrt: 1.0 / libm::sqrtf(0.001),
                eps: 1e-8,
                decay: 0.9999,
            };
            let sgd_step = SgdStep {
                lr: 0.01,
                momentum: 0.9,
                decay: 1.0,
            };
            let run = |be: Backend| {
                let mut a = base.clone();
                relu(be, &mut a);
                let mut d = g.clone();
                relu_backward(be, &base, &mut d);
                scale(be, &mut d, 0.37);
                let (mut p, mut m, mut v) = (base.clone(), m0.clone(), v0.clone());
                adam(be, &mut p, &g, &mut m, &mut v, step);
                let (mut p2, mut u) = (base.clone(), m0.clone());
                sgd(be, &mut p2, &g, &mut u, sgd_step);
                [a, d, p, m, v, p2, u].map(|x| bits(&x))
            };
            let reference = run(Backend::SCALAR);
            for be in Backend::available() {
                assert_eq!(run(be), reference, "{} n={n}", be.name());
            }
            // Tiny moments were flushed to exact zeros; the NaN gradient propagated.
            let m_after = &reference[3];
            for i in (0..n).step_by(5) {
                if i != 3 {
                    assert_eq!(m_after[i], 0, "tiny moment {i} not flushed");
                }
            }
            if n > 3 {
                assert!(f32::from_bits(m_after[3]).is_nan());
            }
            // spot-check semantics of the reference
            let a = &reference[0];
            for i in 0..n {
                let want = if base[i] > 0.0 { base[i] } else { 0.0 };
                assert_eq!(a[i], want.to_bits());
            }
        }
    }
}
