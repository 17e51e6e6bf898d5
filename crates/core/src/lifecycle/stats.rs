//! Significance tests for A/B comparisons of a champion and a challenger.
//!
//! Two-sided tests of "arm B differs from arm A": a pooled two-proportion z-test for win
//! rates and Welch's unequal-variance t-test for mean PnL, each arm summarised by running
//! [`Moments`] (persisted per arm). The distribution functions are computed here with `libm`
//! only (the Student t CDF through the regularized incomplete beta function, evaluated by
//! the modified Lentz continued fraction), so the same inputs give the same bits natively
//! and in WebAssembly.
//!
//! Every function is total: inputs for which a test is undefined give `None` (or `NaN` for
//! the distribution functions' invalid parameters), never a panic.

use core::f64::consts::{FRAC_1_SQRT_2, PI};

use serde::{Deserialize, Serialize};

/// Standard normal cumulative distribution function, `P(Z <= z)`.
///
/// Computed as `erfc(-z / sqrt 2) / 2`, which keeps full relative precision in the lower
/// tail. `NaN` gives `NaN`; `±inf` gives 1 or 0.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z * FRAC_1_SQRT_2)
}

/// Cumulative distribution function of Student's t distribution with `df` degrees of
/// freedom (any real `df > 0`), `P(T <= t)`.
///
/// Uses `P(|T| > |t|) = I_x(df/2, 1/2)` with `x = df / (df + t^2)`, the regularized
/// incomplete beta function evaluated by a continued fraction. For `df >= 1e6` the
/// expansion in `1 / df` to second order is used instead (error `O(df^-3)`, far below
/// 1e-15 there). `df = +inf` is the normal distribution.
///
/// Returns `NaN` when `t` or `df` is `NaN` or `df <= 0`; `t = ±inf` gives 1 or 0.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t == 0.0 {
        return 0.5;
    }
    if df >= LARGE_DF {
        return large_df_cdf(t, df);
    }
    let tail = 0.5 * t_two_sided(t, df);
    if t > 0.0 { 1.0 - tail } else { tail }
}

/// From here on, [`student_t_cdf`] uses the asymptotic expansion in `1 / df`.
const LARGE_DF: f64 = 1e6;

/// The t CDF by its expansion in powers of `1 / df` (Fisher 1925), to second order:
/// `Phi(t) - phi(t) [(t^3 + t) / (4 df) + (3t^7 - 7t^5 - 5t^3 - 3t) / (96 df^2)]`.
fn large_df_cdf(t: f64, df: f64) -> f64 {
    if libm::fabs(t) > 40.0 {
        // phi(t) underflows: the correction vanishes (and t^3 may overflow).
        return normal_cdf(t);
    }
    let phi = libm::exp(-0.5 * t * t) / libm::sqrt(2.0 * PI);
    let t2 = t * t;
    let first = t * (1.0 + t2) / (4.0 * df);
    let second = t * (((3.0 * t2 - 7.0) * t2 - 5.0) * t2 - 3.0) / (96.0 * df * df);
    let v = normal_cdf(t) - phi * (first + second);
    v.clamp(0.0, 1.0)
}

/// `P(|T| > |t|)` for Student's t with `df` degrees of freedom: `I_x(df/2, 1/2)`,
/// `x = df / (df + t^2)`. Expects `t != 0` not NaN and `df > 0` (callers check).
fn t_two_sided(t: f64, df: f64) -> f64 {
    if df >= LARGE_DF {
        let c = large_df_cdf(-libm::fabs(t), df);
        return (2.0 * c).clamp(0.0, 1.0);
    }
    if t.is_infinite() {
        return 0.0;
    }
    // r = t^2 / df; x = 1 / (1 + r) and y = 1 - x = r / (1 + r), both with their logarithms
    // computed without cancellation. For huge r (or t^2 overflowing) work in logarithms.
    let r = t * t / df;
    let a = 0.5 * df;
    let b = 0.5;
    let (x, y, ln_x, ln_y) = if r.is_finite() && r < 1e100 {
        let l1p = libm::log1p(r);
        (1.0 / (1.0 + r), r / (1.0 + r), -l1p, libm::log(r) - l1p)
    } else {
        let ln_r = 2.0 * libm::log(libm::fabs(t)) - libm::log(df);
        // log1p(r) = ln r + log1p(1/r), and 1/r underflows harmlessly.
        let inv = libm::exp(-ln_r);
        let ln_x = -(ln_r + libm::log1p(inv));
        (libm::exp(ln_x), 1.0, ln_x, -libm::log1p(inv))
    };
    if y == 0.0 {
        // t^2 / df underflowed: the tail is the whole distribution.
        return 1.0;
    }
    let ln_front = a * ln_x + b * ln_y - ln_beta_half(a);
    let v = if x < (a + 1.0) / (a + b + 2.0) {
        libm::exp(ln_front) * beta_cf(a, b, x) / a
    } else {
        1.0 - libm::exp(ln_front) * beta_cf(b, a, y) / b
    };
    if v.is_nan() {
        f64::NAN
    } else {
        v.clamp(0.0, 1.0)
    }
}

/// `ln B(a, 1/2) = lgamma(a) + lgamma(1/2) - lgamma(a + 1/2)`.
///
/// For large `a` the difference of two large `lgamma` values loses digits, so from
/// `a >= 25` it is computed from Stirling's series directly (truncation error below 1e-16).
fn ln_beta_half(a: f64) -> f64 {
    // lgamma(1/2) = ln sqrt(pi).
    const LN_SQRT_PI: f64 = 0.572_364_942_924_700_1;
    if a < 25.0 {
        return libm::lgamma(a) + LN_SQRT_PI - libm::lgamma(a + 0.5);
    }
    let b = 0.5;
    // Stirling: lgamma(x) = (x - 1/2) ln x - x + ln sqrt(2 pi) + s(x), so
    // lgamma(a) - lgamma(a + b) = -(a - 1/2) log1p(b / a) - b ln(a + b) + b + s(a) - s(a + b).
    let s = |x: f64| {
        let x2 = x * x;
        1.0 / (12.0 * x) - 1.0 / (360.0 * x * x2) + 1.0 / (1260.0 * x * x2 * x2)
            - 1.0 / (1680.0 * x * x2 * x2 * x2)
    };
    let diff = -(a - 0.5) * libm::log1p(b / a) - b * libm::log(a + b) + b + s(a) - s(a + b);
    diff + LN_SQRT_PI
}

/// Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes'
/// `betacf`). Converges fast for `x < (a + 1) / (a + b + 2)`; at most 1,000 iterations (the
/// t distribution needs fewer than 50 for every `df` below [`LARGE_DF`]).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    let guard = |v: f64| if libm::fabs(v) < TINY { TINY } else { v };
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=1000u32 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if libm::fabs(del - 1.0) < EPS {
            break;
        }
    }
    h
}

/// Running count, mean and sum of squared deviations of a sample (Welford's algorithm).
/// Persisted per A/B arm.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Moments {
    /// Number of values pushed.
    pub n: u64,
    /// Their mean (0 while `n == 0`).
    pub mean: f64,
    /// Sum of squared deviations from the mean (0 while `n < 2`).
    pub m2: f64,
}

impl Moments {
    /// No values yet.
    pub const fn new() -> Self {
        Self {
            n: 0,
            mean: 0.0,
            m2: 0.0,
        }
    }

    /// The moments of `xs` (pushed in order).
    pub fn from_samples(xs: &[f64]) -> Self {
        let mut m = Self::new();
        for &x in xs {
            m.push(x);
        }
        m
    }

    /// Adds one value. A non-finite value, or one so large that the running sums would
    /// overflow, is ignored (returns `false`) so that one bad number cannot poison a
    /// persisted arm.
    pub fn push(&mut self, x: f64) -> bool {
        let Some(n) = self.n.checked_add(1) else {
            return false;
        };
        let d = x - self.mean;
        let mean = self.mean + d / n as f64;
        let m2 = self.m2 + d * (x - mean);
        if !(x.is_finite() && mean.is_finite() && m2.is_finite()) {
            return false;
        }
        *self = Self { n, mean, m2 };
        true
    }

    /// The mean, or `None` before the first value.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// The sample variance (divisor `n - 1`), or `None` with fewer than two values.
    pub fn variance(&self) -> Option<f64> {
        (self.n > 1).then(|| self.m2 / (self.n - 1) as f64)
    }

    /// Whether the fields could have come from [`Moments::push`]: finite, `m2 >= 0`, and
    /// zero mean / `m2` while too few values define them. For checking restored state.
    pub fn is_consistent(&self) -> bool {
        self.mean.is_finite()
            && self.m2.is_finite()
            && self.m2 >= 0.0
            && (self.n > 0 || self.mean == 0.0)
            && (self.n > 1 || self.m2 == 0.0)
    }
}

/// Result of [`two_proportion_z_test`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProportionTest {
    /// The z statistic `diff / se` under the pooled null (positive when B's rate is higher).
    pub z: f64,
    /// Two-sided p-value `P(|Z| >= |z|)`.
    pub p_value: f64,
    /// `p_b - p_a`, the difference of the observed proportions.
    pub diff: f64,
}

/// Pooled two-proportion z-test of `H0: p_a = p_b` against `p_a != p_b`.
///
/// `z = (p_b - p_a) / sqrt(p (1 - p) (1/n_a + 1/n_b))` with the pooled proportion
/// `p = (s_a + s_b) / (n_a + n_b)`. `None` when the test is undefined: a sample size of 0,
/// more successes than trials, or a pooled variance of 0 (all successes or all failures).
pub fn two_proportion_z_test(
    successes_a: u64,
    n_a: u64,
    successes_b: u64,
    n_b: u64,
) -> Option<ProportionTest> {
    if n_a == 0 || n_b == 0 || successes_a > n_a || successes_b > n_b {
        return None;
    }
    let (sa, na, sb, nb) = (
        successes_a as f64,
        n_a as f64,
        successes_b as f64,
        n_b as f64,
    );
    let p_a = sa / na;
    let p_b = sb / nb;
    let pooled = (sa + sb) / (na + nb);
    let var = pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb);
    if !(var > 0.0 && var.is_finite()) {
        return None;
    }
    let diff = p_b - p_a;
    let z = diff / libm::sqrt(var);
    if !z.is_finite() {
        return None;
    }
    // 2 * Phi(-|z|) = erfc(|z| / sqrt 2), without the rounding of 1 - Phi.
    let p_value = libm::erfc(libm::fabs(z) * FRAC_1_SQRT_2).min(1.0);
    Some(ProportionTest { z, p_value, diff })
}

/// Result of [`welch_t_test`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WelchTest {
    /// The t statistic `diff / se` (positive when B's mean is higher; note that
    /// `scipy.stats.ttest_ind(a, b)` reports `(mean_a - mean_b) / se`, the opposite sign).
    pub t: f64,
    /// Welch-Satterthwaite degrees of freedom (real, not rounded).
    pub df: f64,
    /// Two-sided p-value `P(|T| >= |t|)`.
    pub p_value: f64,
    /// `mean_b - mean_a`.
    pub diff: f64,
}

/// Welch's unequal-variance t-test of `H0: mean_a = mean_b` against `mean_a != mean_b`.
///
/// `t = (mean_b - mean_a) / sqrt(v_a/n_a + v_b/n_b)` with sample variances `v`, and
/// `df = (v_a/n_a + v_b/n_b)^2 / ((v_a/n_a)^2/(n_a-1) + (v_b/n_b)^2/(n_b-1))`. `None` when
/// undefined: fewer than two values in a group, both variances 0, or moments that are not
/// [consistent](Moments::is_consistent) or give a non-finite statistic.
pub fn welch_t_test(a: &Moments, b: &Moments) -> Option<WelchTest> {
    if !(a.is_consistent() && b.is_consistent()) {
        return None;
    }
    let (va, vb) = (a.variance()?, b.variance()?);
    let (na, nb) = (a.n as f64, b.n as f64);
    let (sa, sb) = (va / na, vb / nb);
    let se2 = sa + sb;
    if !(se2 > 0.0 && se2.is_finite()) {
        return None;
    }
    let diff = b.mean - a.mean;
    let t = diff / libm::sqrt(se2);
    // df from the shares of the squared standard error: no under- or overflow of se2^2.
    let (ra, rb) = (sa / se2, sb / se2);
    let df = 1.0 / (ra * ra / (na - 1.0) + rb * rb / (nb - 1.0));
    if !(t.is_finite() && df.is_finite() && df > 0.0) {
        return None;
    }
    let p_value = if t == 0.0 { 1.0 } else { t_two_sided(t, df) };
    if p_value.is_nan() {
        return None;
    }
    Some(WelchTest {
        t,
        df,
        p_value,
        diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close_rel(got: f64, want: f64, rel: f64) -> bool {
        libm::fabs(got - want) <= rel * libm::fabs(want)
    }

    // The three example data sets of Wikipedia's "Welch's t-test" article (section
    // "Examples", e.g. revision oldid=994214781; the same sets are Rosetta Code's "Welch's
    // t-test" task data d1..d6).
    const A1_EX1: [f64; 15] = [
        27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4,
    ];
    const A2_EX1: [f64; 15] = [
        27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4,
    ];
    const A1_EX2: [f64; 10] = [17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8];
    const A2_EX2: [f64; 20] = [
        21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8, 20.7, 21.7, 21.5, 22.5, 23.6,
        21.5, 22.5, 23.5, 21.5, 21.8,
    ];
    const A1_EX3: [f64; 10] = [19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0];
    const A2_EX3: [f64; 20] = [
        28.2, 26.6, 20.1, 23.3, 25.2, 22.1, 17.7, 27.6, 20.6, 13.7, 23.2, 17.5, 20.6, 18.0, 23.9,
        21.6, 24.3, 20.4, 24.0, 13.2,
    ];

    #[test]
    fn welch_matches_scipy_on_the_wikipedia_examples() {
        // Expected values: scipy 1.17.1, `scipy.stats.ttest_ind(A1, A2, equal_var=False)`
        // -> (statistic, df, pvalue). scipy's t is (mean_A1 - mean_A2) / se; ours is
        // (mean_b - mean_a) / se, so with a = A1, b = A2 the sign flips.
        type Case<'a> = (&'a [f64], &'a [f64], f64, f64, f64);
        let cases: [Case<'_>; 3] = [
            (
                &A1_EX1,
                &A2_EX1,
                -2.455356398286006,
                24.988529290231416,
                0.021378001462866992,
            ),
            (
                &A1_EX2,
                &A2_EX2,
                -1.5654335235985037,
                9.904741248650831,
                0.14884169660532817,
            ),
            (
                &A1_EX3,
                &A2_EX3,
                -2.2192409158236233,
                24.496223124201244,
                0.03597227102979692,
            ),
        ];
        for (a, b, t, df, p) in cases {
            let r = welch_t_test(&Moments::from_samples(a), &Moments::from_samples(b)).unwrap();
            assert!(close_rel(r.t, -t, 1e-6), "t {} vs {}", r.t, -t);
            assert!(close_rel(r.df, df, 1e-6), "df {} vs {df}", r.df);
            assert!(libm::fabs(r.p_value - p) <= 1e-6, "p {} vs {p}", r.p_value);
            let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
            assert!(libm::fabs(r.diff - (mean(b) - mean(a))) < 1e-12);
            // Swapping the arms flips t and diff, nothing else.
            let s = welch_t_test(&Moments::from_samples(b), &Moments::from_samples(a)).unwrap();
            assert_eq!(s.t, -r.t);
            assert_eq!(s.diff, -r.diff);
            assert_eq!(s.df, r.df);
            assert_eq!(s.p_value, r.p_value);
        }
        // Wikipedia's own (rounded) figures for example 1: t = -2.46, df ~ 25.0, p = 0.021.
        let r = welch_t_test(
            &Moments::from_samples(&A1_EX1),
            &Moments::from_samples(&A2_EX1),
        )
        .unwrap();
        assert!(libm::fabs(r.t - 2.46) < 0.005 && libm::fabs(r.p_value - 0.021) < 0.0005);
    }

    #[test]
    fn welch_is_undefined_without_two_values_per_arm_or_any_variance() {
        let one = Moments::from_samples(&[1.0]);
        let two = Moments::from_samples(&[1.0, 2.0]);
        assert_eq!(welch_t_test(&one, &two), None);
        assert_eq!(welch_t_test(&two, &one), None);
        assert_eq!(welch_t_test(&Moments::new(), &two), None);
        let flat_a = Moments::from_samples(&[3.0, 3.0, 3.0]);
        let flat_b = Moments::from_samples(&[5.0, 5.0]);
        assert_eq!(welch_t_test(&flat_a, &flat_b), None);
        // One zero variance is fine: df is then n - 1 of the other arm.
        let r = welch_t_test(&flat_a, &Moments::from_samples(&[4.0, 6.0, 5.0, 7.0])).unwrap();
        assert!(libm::fabs(r.df - 3.0) < 1e-12, "{r:?}");
        assert!(r.t > 0.0 && r.p_value > 0.0 && r.p_value < 1.0);
        // Equal means: t = 0, p = 1.
        let r = welch_t_test(&two, &Moments::from_samples(&[0.5, 2.5])).unwrap();
        assert_eq!((r.t, r.p_value), (0.0, 1.0));
        // Inconsistent (e.g. corrupted) moments never panic and give None.
        let bad = Moments {
            n: 5,
            mean: f64::NAN,
            m2: 1.0,
        };
        assert_eq!(welch_t_test(&bad, &two), None);
        let negative = Moments {
            n: 5,
            mean: 1.0,
            m2: -1.0,
        };
        assert_eq!(welch_t_test(&two, &negative), None);
        let huge = Moments {
            n: u64::MAX,
            mean: 1e300,
            m2: 1e-300,
        };
        let _ = welch_t_test(&huge, &huge);
        let _ = welch_t_test(&huge, &two);
    }

    #[test]
    fn two_proportions_match_a_textbook_example() {
        // OpenIntro Statistics (Diez, Cetinkaya-Rundel, Barr), section "Hypothesis tests for
        // the difference of two proportions": the mammogram experiment (Canadian National
        // Breast Screening Study). Deaths from breast cancer: control 505 of 44,910,
        // mammogram 500 of 44,925. The book computes the pooled proportion 0.0112,
        // SE 0.00070, Z = -0.17 from rounded intermediates and reads the p-value 0.8650
        // from a normal table (for the order mammogram - control; here b = mammogram).
        let r = two_proportion_z_test(505, 44_910, 500, 44_925).unwrap();
        assert!(libm::fabs(r.z - -0.17) < 0.01, "{r:?}");
        assert!(libm::fabs(r.p_value - 0.865) < 0.006, "{r:?}");
        // Unrounded values, computed independently: scipy 1.17.1
        // `chi2_contingency([[505, 44405], [500, 44425]], correction=False)` gives
        // chi2 = 0.02687401411463451 (= z^2) and p = 0.8697839227860029.
        assert!(close_rel(r.z * r.z, 0.02687401411463451, 1e-9), "{r:?}");
        assert!(libm::fabs(r.p_value - 0.8697839227860029) < 1e-12, "{r:?}");
        assert!(libm::fabs(r.diff - (500.0 / 44_925.0 - 505.0 / 44_910.0)) < 1e-15);
        assert!(r.z < 0.0);

        // Aspirin and cancer deaths (the exercise in Agresti, Franklin & Klingenberg,
        // "Statistics: The Art and Science of Learning from Data"): placebo 347 of 11,535,
        // aspirin 327 of 14,035; the book states z = 3.5 for placebo - aspirin from rounded
        // intermediates. Exact: scipy `chi2_contingency([[347, 11188], [327, 13708]],
        // correction=False)` -> chi2 = 11.352045394321332, p = 0.0007536492167880466.
        let r = two_proportion_z_test(327, 14_035, 347, 11_535).unwrap();
        assert!(r.z > 3.3 && r.z < 3.5, "{r:?}");
        assert!(close_rel(r.z * r.z, 11.352045394321332, 1e-9), "{r:?}");
        assert!(close_rel(r.p_value, 0.0007536492167880466, 1e-9), "{r:?}");
    }

    #[test]
    fn two_proportions_undefined_cases() {
        assert_eq!(two_proportion_z_test(0, 0, 1, 2), None);
        assert_eq!(two_proportion_z_test(1, 2, 0, 0), None);
        assert_eq!(two_proportion_z_test(0, 10, 0, 20), None);
        assert_eq!(two_proportion_z_test(10, 10, 20, 20), None);
        assert_eq!(two_proportion_z_test(3, 2, 1, 2), None);
        let r = two_proportion_z_test(5, 10, 10, 20).unwrap();
        assert_eq!((r.z, r.p_value, r.diff), (0.0, 1.0, 0.0));
        let r = two_proportion_z_test(u64::MAX, u64::MAX, 0, u64::MAX).unwrap();
        assert!(r.z < -1e9 && r.p_value == 0.0 && r.diff == -1.0, "{r:?}");
        let r = two_proportion_z_test(1, u64::MAX, 0, 1).unwrap();
        assert!(r.z.is_finite() && (0.0..=1.0).contains(&r.p_value));
    }

    #[test]
    fn distribution_functions_match_scipy() {
        // scipy 1.17.1: `scipy.stats.t.cdf(t, df)`.
        let t_cdf: [(f64, f64, f64); 32] = [
            (1.0, -5.0, 0.0628329581890012),
            (1.0, -2.5, 0.12111894159084341),
            (1.0, -1.0, 0.25000000000000006),
            (1.0, -0.3, 0.4072264209222577),
            (1.0, 0.7, 0.6944001122142147),
            (1.0, 1.5, 0.8128329581890011),
            (1.0, 3.0, 0.8975836176504333),
            (1.0, 5.0, 0.9371670418109987),
            (2.5, -5.0, 0.011725594985430925),
            (2.5, -2.5, 0.0522849815390777),
            (2.5, -1.0, 0.20203051363913682),
            (2.5, -0.3, 0.39367118574759863),
            (2.5, 0.7, 0.728297528405226),
            (2.5, 1.5, 0.8760817734568519),
            (2.5, 3.0, 0.9637119522254841),
            (2.5, 5.0, 0.9882744050145691),
            (10.0, -5.0, 0.00026866680137822634),
            (10.0, -2.5, 0.01572342211830441),
            (10.0, -1.0, 0.17044656615103),
            (10.0, -0.3, 0.3851603037828993),
            (10.0, 0.7, 0.7500562149135578),
            (10.0, 1.5, 0.9177463367772799),
            (10.0, 3.0, 0.9933281724887152),
            (10.0, 5.0, 0.9997313331986217),
            (100.0, -5.0, 1.225086706751901e-06),
            (100.0, -2.5, 0.007022894562038586),
            (100.0, -1.0, 0.15986207789206167),
            (100.0, -0.3, 0.3823999401501518),
            (100.0, 0.7, 0.7572236967728134),
            (100.0, 1.5, 0.9316174709376556),
            (100.0, 3.0, 0.9982960423283352),
            (100.0, 5.0, 0.9999987749132933),
        ];
        for (df, t, want) in t_cdf {
            let got = student_t_cdf(t, df);
            assert!(
                libm::fabs(got - want) <= 1e-9,
                "t={t} df={df}: {got} vs {want}"
            );
            // Relative accuracy in the small tails too.
            if want < 0.5 {
                assert!(close_rel(got, want, 1e-9), "t={t} df={df}: {got} vs {want}");
            }
        }
        // scipy 1.17.1: `scipy.stats.norm.cdf(z)`.
        let n_cdf: [(f64, f64); 10] = [
            (-8.0, 6.22096057427174e-16),
            (-5.0, 2.866515718791933e-07),
            (-3.0, 0.0013498980316300933),
            (-1.96, 0.024997895148220435),
            (-1.0, 0.15865525393145707),
            (0.0, 0.5),
            (0.5, 0.6914624612740131),
            (1.0, 0.8413447460685429),
            (2.5, 0.9937903346742238),
            (6.0, 0.9999999990134123),
        ];
        for (z, want) in n_cdf {
            let got = normal_cdf(z);
            assert!(libm::fabs(got - want) <= 1e-9, "z={z}: {got} vs {want}");
            assert!(close_rel(got, want, 1e-12), "z={z}: {got} vs {want}");
        }
    }

    #[test]
    fn t_cdf_for_large_df_approaches_the_normal() {
        // scipy 1.17.1 `t.cdf(-2, 1e5)` = 0.022753252..., `t.cdf(-2, 1e8)` ~ Phi(-2).
        for df in [1e3, 1e5, 5e5, 1e6, 2e6, 1e8, 1e300, f64::INFINITY] {
            for t in [-4.0, -2.0, -0.5, 0.5, 2.0, 4.0] {
                let got = student_t_cdf(t, df);
                let normal = normal_cdf(t);
                // |F_df - Phi| <= phi(t) (|t| + |t|^3) / (4 df) to first order.
                let bound = (libm::fabs(t) + libm::fabs(t * t * t)) / (4.0 * df) * 0.5 + 1e-14;
                assert!(
                    libm::fabs(got - normal) <= bound,
                    "t={t} df={df}: {got} vs {normal}"
                );
                // Heavier tails than the normal.
                if t < 0.0 {
                    assert!(got >= normal, "t={t} df={df}");
                }
            }
        }
        // Continuity across the switch to the expansion.
        let below = student_t_cdf(-2.0, LARGE_DF * (1.0 - 1e-12));
        let above = student_t_cdf(-2.0, LARGE_DF);
        assert!(libm::fabs(below - above) < 1e-12, "{below} vs {above}");
    }

    #[test]
    fn t_cdf_is_symmetric_monotonic_and_bounded() {
        for df in [
            0.05, 0.5, 1.0, 2.5, 7.0, 10.0, 49.0, 50.0, 51.0, 100.0, 1e4, 1e6, 1e9,
        ] {
            let mut prev = 0.0;
            let mut t = -60.0;
            while t <= 60.0 {
                let c = student_t_cdf(t, df);
                assert!((0.0..=1.0).contains(&c), "t={t} df={df}: {c}");
                assert!(c >= prev, "not monotonic at t={t} df={df}: {c} < {prev}");
                let mirror = student_t_cdf(-t, df);
                assert!(libm::fabs(c + mirror - 1.0) <= 1e-14, "t={t} df={df}");
                prev = c;
                t += 0.25;
            }
        }
        assert_eq!(student_t_cdf(0.0, 3.0), 0.5);
        assert_eq!(student_t_cdf(f64::INFINITY, 3.0), 1.0);
        assert_eq!(student_t_cdf(f64::NEG_INFINITY, 3.0), 0.0);
        assert_eq!(student_t_cdf(f64::INFINITY, 1e7), 1.0);
        assert!(student_t_cdf(f64::NAN, 3.0).is_nan());
        assert!(student_t_cdf(1.0, 0.0).is_nan());
        assert!(student_t_cdf(1.0, -2.0).is_nan());
        assert!(student_t_cdf(1.0, f64::NAN).is_nan());
        // Cauchy (df = 1) has a closed form: 1/2 + atan(t) / pi, even far in the tails where
        // t^2 overflows.
        for t in [-1e200, -1e160, -1e10, -3.0, 0.1, 1e8, 1e155, f64::MAX] {
            let want = 0.5 + libm::atan(t) / PI;
            let got = student_t_cdf(t, 1.0);
            assert!(libm::fabs(got - want) <= 1e-15, "t={t}: {got} vs {want}");
        }
        // Tiny df: extremely heavy tails, still a probability.
        let c = student_t_cdf(-1e300, 0.01);
        assert!(c > 0.0 && c < 0.5, "{c}");
        assert_eq!(student_t_cdf(1e-300, 5.0), 0.5);
        assert!(normal_cdf(f64::NAN).is_nan());
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn moments_follow_welford_and_ignore_bad_values() {
        let mut m = Moments::new();
        assert_eq!((m.mean(), m.variance()), (None, None));
        assert!(m.push(2.0));
        assert_eq!((m.mean(), m.variance()), (Some(2.0), None));
        for x in [4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            assert!(m.push(x));
        }
        // The classic example: mean 5, population variance 4, sample variance 32/7.
        assert_eq!(m.mean(), Some(5.0));
        assert!(libm::fabs(m.variance().unwrap() - 32.0 / 7.0) < 1e-12);
        let before = m;
        assert!(!m.push(f64::NAN));
        assert!(!m.push(f64::INFINITY));
        assert!(!m.push(f64::MAX));
        assert_eq!(m, before);
        assert!(m.is_consistent());
        let full = Moments {
            n: u64::MAX,
            mean: 1.0,
            m2: 1.0,
        };
        let mut f = full;
        assert!(!f.push(1.0));
        assert_eq!(f, full);
        assert!(
            !Moments {
                n: 0,
                mean: 1.0,
                m2: 0.0
            }
            .is_consistent()
        );
        assert!(
            !Moments {
                n: 1,
                mean: 1.0,
                m2: 1.0
            }
            .is_consistent()
        );
    }

    proptest::proptest! {
        #[test]
        fn welch_never_panics_and_p_is_a_probability(
            xs in proptest::collection::vec(-1e6f64..1e6, 0..20),
            ys in proptest::collection::vec(-1e6f64..1e6, 0..20),
        ) {
            let (a, b) = (Moments::from_samples(&xs), Moments::from_samples(&ys));
            if let Some(r) = welch_t_test(&a, &b) {
                proptest::prop_assert!((0.0..=1.0).contains(&r.p_value));
                proptest::prop_assert!(r.df >= 1.0 - 1e-9);
                proptest::prop_assert!(r.df <= (xs.len() + ys.len() - 2) as f64 + 1e-6);
            }
        }

        #[test]
        fn proportion_test_never_panics(sa in 0u64..1000, na in 0u64..1000, sb: u64, nb: u64) {
            if let Some(r) = two_proportion_z_test(sa, na, sb, nb) {
                proptest::prop_assert!((0.0..=1.0).contains(&r.p_value));
                proptest::prop_assert!(r.z.is_finite());
            }
        }

        #[test]
        fn t_cdf_is_total(t: f64, df: f64) {
            let c = student_t_cdf(t, df);
            proptest::prop_assert!(c.is_nan() || (0.0..=1.0).contains(&c));
            proptest::prop_assert_eq!(c.is_nan(), t.is_nan() || df.is_nan() || df <= 0.0);
        }
    }
}
