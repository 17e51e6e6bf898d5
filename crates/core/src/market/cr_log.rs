//! A correctly rounded natural logarithm in portable Rust.
//!
//! Why not `libm::log`: it is a port of FreeBSD's `e_log.c`, accurate to < 1 ulp but not
//! correctly rounded. On the W6 series it differs from glibc's `log` (what Python's
//! `math.log`, and so the benchmark, used) in about 0.3 % of the returns, and that changes
//! float32 features in the last bit: the SPY_1h and ORCL_1d fingerprints do not match with
//! it. glibc's `log` is not correctly rounded either (checked against 60-digit `decimal`:
//! about 1 input in 1,000 in `[0.9, 1.1]` is one ulp off, none within `1 +- 1e-3`; 1 to 30
//! of the inputs of each W6 series), but none of those slips changes a float32 feature or
//! label on the six series: with this correctly rounded `ln` all six fingerprints match.
//! A correctly rounded result is also the only definition that every platform (and wasm)
//! can reproduce exactly.
//!
//! Method: `x = 2^e * m` with `m` in `[sqrt(1/2), sqrt(2))`,
//! `ln(x) = e * ln 2 + 2 * atanh(s)`, `s = (m - 1) / (m + 1)`, `|s| <= 0.1716`, with
//! `2 * atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ...)` summed to 21 terms, everything in
//! double-double arithmetic (Dekker products, no FMA, so wasm and native agree). The
//! relative error before the final rounding is below about `2^-100`, so the result is the
//! correctly rounded `ln(x)` except in cases closer than that to a rounding midpoint, which
//! no double near 1 is known to hit in practice.

/// A double-double: the unevaluated sum `hi + lo` with `|lo| <= ulp(hi) / 2`.
#[derive(Clone, Copy)]
struct Dd {
    hi: f64,
    lo: f64,
}

/// `a + b` exactly, as `(sum, error)`.
const fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `a + b` exactly when `|a| >= |b|` (or `a == 0`).
const fn fast_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd {
        hi: s,
        lo: b - (s - a),
    }
}

/// Dekker split of `a` into two 26-bit halves.
const fn split(a: f64) -> (f64, f64) {
    let c = 134_217_729.0 * a; // 2^27 + 1
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `a * b` exactly, as `(product, error)` (no FMA).
const fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
}

const fn dd_add(a: Dd, b: Dd) -> Dd {
    let (s, e) = two_sum(a.hi, b.hi);
    let (t, f) = two_sum(a.lo, b.lo);
    let x = fast_two_sum(s, e + t);
    fast_two_sum(x.hi, x.lo + f)
}

const fn dd_mul(a: Dd, b: Dd) -> Dd {
    let (p, e) = two_prod(a.hi, b.hi);
    fast_two_sum(p, e + (a.hi * b.lo + a.lo * b.hi))
}

/// `a / b` for a double `a` and a double-double `b`.
const fn dd_div(a: f64, b: Dd) -> Dd {
    let q1 = a / b.hi;
    let (p, pe) = two_prod(q1, b.hi);
    let r = ((a - p) - pe) - q1 * b.lo;
    let q2 = r / b.hi;
    // One more correction step.
    let q = fast_two_sum(q1, q2);
    let (p, pe) = two_prod(q.hi, b.hi);
    let qb = fast_two_sum(p, pe + (q.hi * b.lo + q.lo * b.hi));
    let r = ((a - qb.hi) - qb.lo) / b.hi;
    fast_two_sum(q.hi, q.lo + r)
}

/// `1 / n` as a double-double (exact to ~2^-106).
const fn recip(n: f64) -> Dd {
    let hi = 1.0 / n;
    let (p, e) = two_prod(hi, n);
    Dd {
        hi,
        lo: ((1.0 - p) - e) / n,
    }
}

/// ln 2 as a double-double.
const LN2: Dd = Dd {
    hi: core::f64::consts::LN_2,               // 0x3fe62e42fefa39ef
    lo: f64::from_bits(0x3c7a_bc9e_3b39_803f), // 2.3190468138462996e-17
};

/// Terms `z^k / (2k + 1)` with `k >= DD_TERMS` are summed in plain `f64`.
const DD_TERMS: u32 = 10;
/// Last term index; `0.1716^(2 * 21) / 43` is far below `2^-105`.
const LAST_TERM: u32 = 21;

/// `1 / (2k + 1)` for `k < DD_TERMS`, as double-doubles (computed at compile time).
const RECIPS: [Dd; DD_TERMS as usize] = {
    let mut out = [Dd { hi: 0.0, lo: 0.0 }; DD_TERMS as usize];
    let mut k = 0;
    while k < DD_TERMS as usize {
        out[k] = recip((2 * k + 1) as f64);
        k += 1;
    }
    out
};

/// Correctly rounded natural logarithm (see the module docs). Special values as IEEE /
/// C99: `ln(1) = +0`, `ln(+-0) = -inf`, `ln(x < 0) = NaN`, `ln(+inf) = +inf`, NaN -> NaN.
pub(crate) fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    // x = 2^e * m, m in [sqrt(1/2), sqrt(2)).
    let mut bits = x.to_bits();
    let mut e: i64 = 0;
    if bits >> 52 == 0 {
        // Subnormal: scale by 2^54 to normalise.
        bits = (x * 18_014_398_509_481_984.0).to_bits();
        e -= 54;
    }
    e += ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > core::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // s = (m - 1) / (m + 1); m - 1 is exact (Sterbenz), m + 1 is kept exact as a Dd.
    let num = m - 1.0;
    let (dh, dl) = two_sum(m, 1.0);
    let s = dd_div(num, Dd { hi: dh, lo: dl });
    let z = dd_mul(s, s);

    // P(z) = sum_k z^k / (2k + 1): the small tail in f64, the rest in double-double.
    let mut tail = 0.0f64;
    for k in (DD_TERMS..=LAST_TERM).rev() {
        tail = tail * z.hi + 1.0 / f64::from(2 * k + 1);
    }
    let mut p = Dd { hi: tail, lo: 0.0 };
    for c in RECIPS.iter().rev() {
        p = dd_add(dd_mul(p, z), *c);
    }
    // ln(m) = 2 s P(z).
    let lm = dd_mul(s, p);
    let lm = Dd {
        hi: 2.0 * lm.hi,
        lo: 2.0 * lm.lo,
    };
    if e == 0 {
        return lm.hi + lm.lo;
    }
    let ef = e as f64;
    let (eh, el) = two_prod(ef, LN2.hi);
    let eln2 = fast_two_sum(eh, el + ef * LN2.lo);
    let r = dd_add(eln2, lm);
    r.hi + r.lo
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(x, ln x)` bit patterns from Python's `decimal` at 60 digits, rounded to nearest.
    /// Includes inputs where `libm::log` is off by one ulp.
    const VECTORS: &[(u64, u64)] = &[
        // libm::log is one ulp off on these (returns-like inputs):
        (0x3ff0339b4f956bc5, 0x3f89a4636f976037),
        (0x3fefcf29bf68c359, 0xbf787dd56dc064b5),
        (0x3ff01a4530f78f09, 0x3f7a2fb770bd55ed),
        (0x3ff015ccd48d1860, 0x3f75be0806c11835),
        (0x3fefe8d376678f06, 0xbf6734f1c9a2e011),
        (0x3ff00c9df9ff84a2, 0x3f693206282f90e5),
        (0x3fefdda5c7f54f06, 0xbf71365ad12883cf),
        (0x3ff00a678a87c2ea, 0x3f64c853f1c224ab),
        (0x3feff762f8a10114, 0xbf513c60aed49467),
        (0x3ff060a48dcedcc4, 0x3f97e14c83f5c1d7),
        (0x3ff05f987d207620, 0x3f979fd1b6120f0b),
        (0x3ff009459548f88e, 0x3f6285cd2ddbcd59),
        // glibc's log (Python's math.log) is one ulp off on these:
        (0x3fed802012601844, 0xbfb4d1fb0c5bd7b3),
        (0x3fee973c1f43bd82, 0xbfa70f33e8bd2805),
        (0x3ff0e737d3703390, 0x3fac1daf1055ad16),
        (0x3fee1a1e78a6dc09, 0xbfaf4e2f4096b010),
        (0x3ff1150e92edff95, 0x3fb0c16c5367ee8d),
        (0x3ff13ef51f16f80d, 0x3fb3325e7c7ee332),
        (0x3ff11fd92a83daf1, 0x3fb162f265c0993b),
        (0x3ff17d8ebb4b46f5, 0x3fb6cd1543dcd934),
        // 1e-300, 3, 0.1, 123456789, 1 + 2^-52, 1 - 2^-53, MIN_POSITIVE, 5e-324, MAX, 4.94e-322:
        (0x01a56e1fc2f8f359, 0xc085963447f87fb5),
        (0x4008000000000000, 0x3ff193ea7aad030b),
        (0x3fb999999999999a, 0xc0026bb1bbb55515),
        (0x419d6f3454000000, 0x4032a1a38bd0540a),
        (0x3ff0000000000001, 0x3cafffffffffffff),
        (0x3fefffffffffffff, 0xbca0000000000000),
        (0x0010000000000000, 0xc086232bdd7abcd2),
        (0x0000000000000001, 0xc0874385446d71c3),
        (0x7fefffffffffffff, 0x40862e42fefa39ef),
        (0x0000000000000064, 0xc0871eade0f60719),
    ];

    #[test]
    fn special_values() {
        assert_eq!(ln(1.0).to_bits(), 0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(-0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
        assert!(ln(f64::NAN).is_nan());
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert_eq!(ln(core::f64::consts::E), 1.0);
        assert_eq!(ln(2.0), core::f64::consts::LN_2);
        assert_eq!(ln(10.0), core::f64::consts::LN_10);
    }

    proptest::proptest! {
        /// Within one ulp of `libm::log` (which is within one ulp of the truth) and monotonic.
        #[test]
        fn close_to_libm_and_monotonic(bits in 1u64..0x7ff0_0000_0000_0000) {
            let x = f64::from_bits(bits);
            let y = ln(x);
            let l = libm::log(x);
            let ulps = (y.to_bits() as i64 - l.to_bits() as i64).unsigned_abs();
            // Around ln = 0 the sign flips the bit order; compare values there.
            proptest::prop_assert!(ulps <= 1 || libm::fabs(y - l) <= 1e-300, "{x:e}: {y:e} vs {l:e}");
            let next = f64::from_bits(bits + 1);
            proptest::prop_assert!(ln(next) >= y);
        }
    }

    #[test]
    fn vectors() {
        for &(x, want) in VECTORS {
            let x = f64::from_bits(x);
            assert_eq!(ln(x).to_bits(), want, "ln({x:e})");
        }
    }
}
