//! `exp`, `tanh` and the logistic sigmoid in `f32` for the activations, from IEEE `+ - * /`
//! and exact operations only (Cephes' `expf` / `tanhf` polynomials, no fused multiply-add),
//! so they give the same bits on every platform, natively and in WebAssembly. They are
//! several times faster than `libm`'s correctly-rounded-ish versions, which matters in the
//! exit learner's training (a `tanh` hidden layer); their error is a few ulp.

/// Largest argument before `exp` overflows `f32`.
const MAX_ARG: f32 = 88.376_26;
/// Smallest argument before `exp` underflows to zero.
const MIN_ARG: f32 = -87.336_55;
const LOG2E: f32 = core::f32::consts::LOG2_E;
/// `ln 2 = C1 + C2`, `C1` exact in few bits.
const C1: f32 = 0.693_359_4;
const C2: f32 = -2.121_944_4e-4;

/// `e^x` (relative error below 3e-7; 0 below about -87.3, `+inf` above about 88.4; NaN
/// stays NaN).
pub(super) fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > MAX_ARG {
        return f32::INFINITY;
    }
    if x < MIN_ARG {
        return 0.0;
    }
    // floor(v): |v| < 130, so the truncation to i32 is exact; step down for negatives.
    let v = x * LOG2E + 0.5;
    let t = v as i32;
    let n = (if t as f32 > v { t - 1 } else { t }) as f32;
    let r = x - n * C1 - n * C2;
    let z = r * r;
    let p = (((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * z
        + r
        + 1.0;
    // 2^n as an f32: n is in [-126, 128] here; scale in two steps so 2^128 and subnormal
    // results stay exact.
    let n = n as i32;
    let half = n / 2;
    p * pow2(half) * pow2(n - half)
}

/// `2^k` for `k` in `-126..=127`.
fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// `tanh(x)` (absolute error below 3e-7).
pub(super) fn tanh(x: f32) -> f32 {
    let a = x.abs();
    if a.is_nan() {
        return x;
    }
    let r = if a >= 0.625 {
        // 1 - 2 / (e^{2a} + 1); e^{2a} is +inf beyond 44, giving exactly 1.
        1.0 - 2.0 / (exp(2.0 * a) + 1.0)
    } else {
        let z = a * a;
        ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
            - 3.333_328e-1)
            * z
            * a
            + a
    };
    if x < 0.0 { -r } else { r }
}

/// The logistic function `1 / (1 + e^-x)`.
pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_close_to_libm_everywhere() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = libm::exp(f64::from(x));
            let got = f64::from(exp(x));
            worst = worst.max(((got - want) / want).abs());
            x += 0.013;
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        assert_eq!(exp(-100.0), 0.0);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn tanh_and_sigmoid_are_close_to_libm_and_well_behaved() {
        let mut worst = 0.0f64;
        let mut prev = -1.0f32;
        let mut x = -20.0f32;
        while x < 20.0 {
            let want = libm::tanh(f64::from(x));
            let got = tanh(x);
            worst = worst.max((f64::from(got) - want).abs());
            assert!(got >= prev, "monotone at {x}");
            assert_eq!(tanh(-x), -got, "odd at {x}");
            prev = got;
            let s = f64::from(sigmoid(x));
            let s_want = 1.0 / (1.0 + libm::exp(-f64::from(x)));
            assert!((s - s_want).abs() < 3e-7, "sigmoid at {x}");
            x += 0.0037;
        }
        assert!(worst < 3e-7, "absolute error {worst}");
        assert_eq!((tanh(0.0), tanh(50.0), tanh(-50.0)), (0.0, 1.0, -1.0));
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
    }
}
