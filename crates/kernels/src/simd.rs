//! Sixteen-lane `f32` vectors with one canonical arithmetic, on four backends.
//!
//! Every kernel in [`crate::kernels`] is written once, generic over [`Lanes`]. A `Lanes`
//! value is a *16-lane* vector whatever the hardware width: one AVX-512 register, two AVX
//! registers, four wasm `v128`s, or a plain `[f32; 16]`. All operations are exact IEEE-754
//! lane-wise operations (add, sub, mul, div, sqrt, compare-select: no FMA, no reciprocal
//! estimates) and horizontal sums use one fixed tree ([`Lanes::reduce`]). So every backend
//! produces the same bits as the scalar reference, which is what lets a snapshot taken in a
//! browser continue bit-for-bit on a server. Tests assert bitwise equality between backends.
//!
//! FMA is deliberately not used: WebAssembly has no deterministic fused multiply-add, and a
//! fused result differs from `mul` then `add` in the last bit.

#![allow(unsafe_code)]

/// Number of canonical lanes.
pub(crate) const LANES: usize = 16;

/// A 16-lane `f32` vector type and its operations. Implementations are zero-sized tokens;
/// holding one proves the CPU supports the instructions it uses.
pub(crate) trait Lanes: Copy {
    /// The vector.
    type V: Copy;
    /// `true` if [`Lanes::load_part`] / [`Lanes::store_part`] are single masked
    /// instructions, so kernels use them for tails instead of scalar loops.
    const FAST_PARTIAL: bool = false;
    fn zero(self) -> Self::V;
    fn splat(self, x: f32) -> Self::V;
    /// Loads `s[..16]`. `s.len() >= 16`.
    fn load(self, s: &[f32]) -> Self::V;
    /// Stores into `s[..16]`. `s.len() >= 16`.
    fn store(self, v: Self::V, s: &mut [f32]);
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    fn sqrt(self, a: Self::V) -> Self::V;
    /// Lane-wise `if a > 0 { b } else { +0.0 }` (NaN in `a` selects `+0.0`).
    fn where_positive(self, a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise `if |a| < tiny { +0.0 } else { a }` (NaN is kept).
    fn flush_tiny(self, a: Self::V, tiny: Self::V) -> Self::V;
    /// Canonical horizontal sum: `l[i] += l[i + w]` for `w = 8, 4, 2, 1`, result `l[0]`.
    fn reduce(self, v: Self::V) -> f32;

    /// `out[i] = reduce(v[i])` for sixteen vectors at once.
    #[inline(always)]
    fn reduce16(self, v: &[Self::V; LANES], out: &mut [f32; LANES]) {
        for (o, x) in out.iter_mut().zip(v) {
            *o = self.reduce(*x);
        }
    }

    /// Loads `s` (`s.len() < 16`) into the low lanes, zeros elsewhere.
    #[inline(always)]
    fn load_part(self, s: &[f32]) -> Self::V {
        let mut buf = [0.0f32; LANES];
        let n = s.len().min(LANES);
        buf[..n].copy_from_slice(&s[..n]);
        self.load(&buf)
    }

    /// Stores the low `s.len()` (< 16) lanes into `s`.
    #[inline(always)]
    fn store_part(self, v: Self::V, s: &mut [f32]) {
        let mut buf = [0.0f32; LANES];
        self.store(v, &mut buf);
        let n = s.len().min(LANES);
        s[..n].copy_from_slice(&buf[..n]);
    }
}

/// Scalar `if |a| < tiny { +0.0 } else { a }`, NaN kept.
#[inline(always)]
pub(crate) fn flush_tiny(a: f32, tiny: f32) -> f32 {
    if libm::fabsf(a) < tiny { 0.0 } else { a }
}

/// Scalar reference backend: the semantics every other backend must reproduce.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scalar;

impl Lanes for Scalar {
    type V = [f32; LANES];
    #[inline(always)]
    fn zero(self) -> Self::V {
        [0.0; LANES]
    }
    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        [x; LANES]
    }
    #[inline(always)]
    fn load(self, s: &[f32]) -> Self::V {
        let mut v = [0.0; LANES];
        v.copy_from_slice(&s[..LANES]);
        v
    }
    #[inline(always)]
    fn store(self, v: Self::V, s: &mut [f32]) {
        s[..LANES].copy_from_slice(&v);
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        core::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        core::array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        core::array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    fn div(self, a: Self::V, b: Self::V) -> Self::V {
        core::array::from_fn(|i| a[i] / b[i])
    }
    #[inline(always)]
    fn sqrt(self, a: Self::V) -> Self::V {
        core::array::from_fn(|i| libm::sqrtf(a[i]))
    }
    #[inline(always)]
    fn where_positive(self, a: Self::V, b: Self::V) -> Self::V {
        core::array::from_fn(|i| if a[i] > 0.0 { b[i] } else { 0.0 })
    }
    #[inline(always)]
    fn flush_tiny(self, a: Self::V, tiny: Self::V) -> Self::V {
        core::array::from_fn(|i| flush_tiny(a[i], tiny[i]))
    }
    #[inline(always)]
    fn reduce(self, mut v: Self::V) -> f32 {
        let mut w = LANES / 2;
        while w > 0 {
            for i in 0..w {
                v[i] += v[i + w];
            }
            w /= 2;
        }
        v[0]
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) use x86::{Avx, Avx512};

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod x86 {
    use super::{LANES, Lanes};
    use core::arch::x86_64::*;

    /// AVX-512F token: one `__m512` per 16 lanes.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx512 {
        _private: (),
    }

    impl Avx512 {
        /// # Safety
        /// The CPU must support AVX-512F.
        #[inline(always)]
        pub(crate) unsafe fn new_unchecked() -> Self {
            Self { _private: () }
        }
    }

    // SAFETY (whole impl): an `Avx512` value only exists after AVX-512F was detected at run
    // time (see `Backend`), and every pointer access is preceded by a length check.
    impl Lanes for Avx512 {
        type V = __m512;
        const FAST_PARTIAL: bool = true;
        #[inline(always)]
        fn zero(self) -> __m512 {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        fn splat(self, x: f32) -> __m512 {
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        fn load(self, s: &[f32]) -> __m512 {
            let s = &s[..LANES];
            unsafe { _mm512_loadu_ps(s.as_ptr()) }
        }
        #[inline(always)]
        fn store(self, v: __m512, s: &mut [f32]) {
            let s = &mut s[..LANES];
            unsafe { _mm512_storeu_ps(s.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn add(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_sub_ps(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        fn div(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_div_ps(a, b) }
        }
        #[inline(always)]
        fn sqrt(self, a: __m512) -> __m512 {
            unsafe { _mm512_sqrt_ps(a) }
        }
        #[inline(always)]
        fn where_positive(self, a: __m512, b: __m512) -> __m512 {
            unsafe {
                let m = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, _mm512_setzero_ps());
                _mm512_maskz_mov_ps(m, b)
            }
        }
        #[inline(always)]
        fn flush_tiny(self, a: __m512, tiny: __m512) -> __m512 {
            unsafe {
                let small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_abs_ps(a), tiny);
                _mm512_mask_mov_ps(a, small, _mm512_setzero_ps())
            }
        }
        #[inline(always)]
        fn reduce(self, v: __m512) -> f32 {
            unsafe {
                let lo = _mm512_castps512_ps256(v);
                let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
                Avx::reduce8(_mm256_add_ps(lo, hi))
            }
        }
        /// Sixteen canonical trees as a shuffle butterfly: every level adds lane `i` to lane
        /// `i + w` of each vector (w = 8, 4, 2, 1) while packing two vectors into one, so the
        /// additions are exactly those of `reduce` (15 vector adds instead of 16 trees). The
        /// result lanes come out in transposed order, which one permutation undoes.
        #[inline(always)]
        fn reduce16(self, v: &[__m512; LANES], out: &mut [f32; LANES]) {
            unsafe {
                let l1: [__m512; 8] = core::array::from_fn(|j| {
                    let (a, b) = (v[2 * j], v[2 * j + 1]);
                    _mm512_add_ps(
                        _mm512_shuffle_f32x4::<0x44>(a, b),
                        _mm512_shuffle_f32x4::<0xEE>(a, b),
                    )
                });
                let l2: [__m512; 4] = core::array::from_fn(|j| {
                    let (a, b) = (l1[2 * j], l1[2 * j + 1]);
                    _mm512_add_ps(
                        _mm512_shuffle_f32x4::<0x88>(a, b),
                        _mm512_shuffle_f32x4::<0xDD>(a, b),
                    )
                });
                let l3: [__m512; 2] = core::array::from_fn(|j| {
                    let (a, b) = (l2[2 * j], l2[2 * j + 1]);
                    _mm512_add_ps(
                        _mm512_shuffle_ps::<0x44>(a, b),
                        _mm512_shuffle_ps::<0xEE>(a, b),
                    )
                });
                let (a, b) = (l3[0], l3[1]);
                let l4 = _mm512_add_ps(
                    _mm512_shuffle_ps::<0x88>(a, b),
                    _mm512_shuffle_ps::<0xDD>(a, b),
                );
                // Lane L holds vector [0,4,8,12,1,5,9,13,2,6,10,14,3,7,11,15][L]; the map is its
                // own inverse.
                let idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
                _mm512_storeu_ps(out.as_mut_ptr(), _mm512_permutexvar_ps(idx, l4));
            }
        }
        #[inline(always)]
        fn load_part(self, s: &[f32]) -> __m512 {
            let n = s.len().min(LANES);
            let mask: __mmask16 = ((1u32 << n) - 1) as __mmask16;
            // SAFETY: masked-off lanes are not read, so only s[..n] is accessed.
            unsafe { _mm512_maskz_loadu_ps(mask, s.as_ptr()) }
        }
        #[inline(always)]
        fn store_part(self, v: __m512, s: &mut [f32]) {
            let n = s.len().min(LANES);
            let mask: __mmask16 = ((1u32 << n) - 1) as __mmask16;
            // SAFETY: masked-off lanes are not written, so only s[..n] is accessed.
            unsafe { _mm512_mask_storeu_ps(s.as_mut_ptr(), mask, v) }
        }
    }

    /// AVX token: two `__m256` per 16 lanes (lanes 0-7, 8-15).
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx {
        _private: (),
    }

    impl Avx {
        /// # Safety
        /// The CPU must support AVX.
        #[inline(always)]
        pub(crate) unsafe fn new_unchecked() -> Self {
            Self { _private: () }
        }

        /// Lanes 0-7 of the canonical tree after the first (`w = 8`) step.
        #[inline(always)]
        fn reduce8(s8: __m256) -> f32 {
            // SAFETY: only called with AVX available (from `Avx` or `Avx512` methods).
            unsafe {
                let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
                let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
                let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<0b01>(s2, s2));
                _mm_cvtss_f32(s1)
            }
        }
    }

    // SAFETY (whole impl): an `Avx` value only exists after AVX was detected at run time.
    impl Lanes for Avx {
        type V = [__m256; 2];
        #[inline(always)]
        fn zero(self) -> Self::V {
            unsafe { [_mm256_setzero_ps(); 2] }
        }
        #[inline(always)]
        fn splat(self, x: f32) -> Self::V {
            unsafe { [_mm256_set1_ps(x); 2] }
        }
        #[inline(always)]
        fn load(self, s: &[f32]) -> Self::V {
            let s = &s[..LANES];
            unsafe {
                [
                    _mm256_loadu_ps(s.as_ptr()),
                    _mm256_loadu_ps(s.as_ptr().add(8)),
                ]
            }
        }
        #[inline(always)]
        fn store(self, v: Self::V, s: &mut [f32]) {
            let s = &mut s[..LANES];
            unsafe {
                _mm256_storeu_ps(s.as_mut_ptr(), v[0]);
                _mm256_storeu_ps(s.as_mut_ptr().add(8), v[1]);
            }
        }
        #[inline(always)]
        fn add(self, a: Self::V, b: Self::V) -> Self::V {
            unsafe { [_mm256_add_ps(a[0], b[0]), _mm256_add_ps(a[1], b[1])] }
        }
        #[inline(always)]
        fn sub(self, a: Self::V, b: Self::V) -> Self::V {
            unsafe { [_mm256_sub_ps(a[0], b[0]), _mm256_sub_ps(a[1], b[1])] }
        }
        #[inline(always)]
        fn mul(self, a: Self::V, b: Self::V) -> Self::V {
            unsafe { [_mm256_mul_ps(a[0], b[0]), _mm256_mul_ps(a[1], b[1])] }
        }
        #[inline(always)]
        fn div(self, a: Self::V, b: Self::V) -> Self::V {
            unsafe { [_mm256_div_ps(a[0], b[0]), _mm256_div_ps(a[1], b[1])] }
        }
        #[inline(always)]
        fn sqrt(self, a: Self::V) -> Self::V {
            unsafe { [_mm256_sqrt_ps(a[0]), _mm256_sqrt_ps(a[1])] }
        }
        #[inline(always)]
        fn where_positive(self, a: Self::V, b: Self::V) -> Self::V {
            unsafe {
                let z = _mm256_setzero_ps();
                [
                    _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(a[0], z), b[0]),
                    _mm256_and_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(a[1], z), b[1]),
                ]
            }
        }
        #[inline(always)]
        fn flush_tiny(self, a: Self::V, tiny: Self::V) -> Self::V {
            unsafe {
                let sign = _mm256_set1_ps(-0.0);
                let f = |x: __m256, t: __m256| {
                    let small = _mm256_cmp_ps::<_CMP_LT_OQ>(_mm256_andnot_ps(sign, x), t);
                    _mm256_andnot_ps(small, x)
                };
                [f(a[0], tiny[0]), f(a[1], tiny[1])]
            }
        }
        #[inline(always)]
        fn reduce(self, v: Self::V) -> f32 {
            Self::reduce8(unsafe { _mm256_add_ps(v[0], v[1]) })
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) use wasm::Simd128;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use super::{LANES, Lanes};
    use core::arch::wasm32::*;

    /// wasm SIMD128 token: four `v128` per 16 lanes. simd128 is a compile-time feature on
    /// wasm, so the token is always valid when this module is compiled.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Simd128;

    impl Lanes for Simd128 {
        type V = [v128; 4];
        #[inline(always)]
        fn zero(self) -> Self::V {
            [f32x4_splat(0.0); 4]
        }
        #[inline(always)]
        fn splat(self, x: f32) -> Self::V {
            [f32x4_splat(x); 4]
        }
        #[inline(always)]
        fn load(self, s: &[f32]) -> Self::V {
            let s = &s[..LANES];
            let p = s.as_ptr() as *const v128;
            // SAFETY: `s` has 16 elements = four unaligned v128 loads in bounds.
            unsafe {
                [
                    v128_load(p),
                    v128_load(p.add(1)),
                    v128_load(p.add(2)),
                    v128_load(p.add(3)),
                ]
            }
        }
        #[inline(always)]
        fn store(self, v: Self::V, s: &mut [f32]) {
            let s = &mut s[..LANES];
            let p = s.as_mut_ptr() as *mut v128;
            // SAFETY: `s` has 16 elements = four unaligned v128 stores in bounds.
            unsafe {
                v128_store(p, v[0]);
                v128_store(p.add(1), v[1]);
                v128_store(p.add(2), v[2]);
                v128_store(p.add(3), v[3]);
            }
        }
        #[inline(always)]
        fn add(self, a: Self::V, b: Self::V) -> Self::V {
            core::array::from_fn(|i| f32x4_add(a[i], b[i]))
        }
        #[inline(always)]
        fn sub(self, a: Self::V, b: Self::V) -> Self::V {
            core::array::from_fn(|i| f32x4_sub(a[i], b[i]))
        }
        #[inline(always)]
        fn mul(self, a: Self::V, b: Self::V) -> Self::V {
            core::array::from_fn(|i| f32x4_mul(a[i], b[i]))
        }
        #[inline(always)]
        fn div(self, a: Self::V, b: Self::V) -> Self::V {
            core::array::from_fn(|i| f32x4_div(a[i], b[i]))
        }
        #[inline(always)]
        fn sqrt(self, a: Self::V) -> Self::V {
            core::array::from_fn(|i| f32x4_sqrt(a[i]))
        }
        #[inline(always)]
        fn where_positive(self, a: Self::V, b: Self::V) -> Self::V {
            let z = f32x4_splat(0.0);
            core::array::from_fn(|i| v128_and(f32x4_gt(a[i], z), b[i]))
        }
        #[inline(always)]
        fn flush_tiny(self, a: Self::V, tiny: Self::V) -> Self::V {
            core::array::from_fn(|i| v128_andnot(a[i], f32x4_lt(f32x4_abs(a[i]), tiny[i])))
        }
        #[inline(always)]
        fn reduce(self, v: Self::V) -> f32 {
            let s8 = [f32x4_add(v[0], v[2]), f32x4_add(v[1], v[3])];
            let s4 = f32x4_add(s8[0], s8[1]);
            let s2 = f32x4_add(s4, i32x4_shuffle::<2, 3, 2, 3>(s4, s4));
            let s1 = f32x4_add(s2, i32x4_shuffle::<1, 1, 1, 1>(s2, s2));
            f32x4_extract_lane::<0>(s1)
        }
    }
}

/// Which kernel implementation runs. All produce identical bits; they differ in speed.
///
/// A `Backend` can only be obtained for instructions the running CPU supports, so the
/// dispatch in [`crate::kernels`] is sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend(pub(crate) Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Scalar,
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx,
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx512,
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    Simd128,
}

impl Backend {
    /// The portable scalar reference.
    pub const SCALAR: Backend = Backend(Kind::Scalar);

    /// The fastest backend this CPU supports (runtime detection with `std` on x86_64;
    /// compile-time `simd128` on wasm; scalar otherwise).
    pub fn detect() -> Backend {
        Self::available().last().copied().unwrap_or(Self::SCALAR)
    }

    /// Every backend usable here, slowest first (always starts with [`Backend::SCALAR`]).
    pub fn available() -> alloc::vec::Vec<Backend> {
        #[allow(unused_mut)]
        let mut v = alloc::vec![Self::SCALAR];
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            if std::is_x86_feature_detected!("avx") {
                v.push(Backend(Kind::Avx));
            }
            if std::is_x86_feature_detected!("avx512f") {
                v.push(Backend(Kind::Avx512));
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        v.push(Backend(Kind::Simd128));
        v
    }

    /// Short name: `scalar`, `avx`, `avx512` or `simd128`.
    pub fn name(self) -> &'static str {
        match self.0 {
            Kind::Scalar => "scalar",
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kind::Avx => "avx",
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Kind::Avx512 => "avx512",
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kind::Simd128 => "simd128",
        }
    }
}

impl Default for Backend {
    fn default() -> Self {
        Self::detect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_picks_the_widest_backend_compiled_in() {
        let names: alloc::vec::Vec<&str> = Backend::available().iter().map(|b| b.name()).collect();
        assert_eq!(names[0], "scalar");
        assert_eq!(Backend::detect().name(), *names.last().unwrap());
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        assert_eq!(
            Backend::detect().name(),
            "simd128",
            "the SIMD128 kernels must be under test in wasm"
        );
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if std::is_x86_feature_detected!("avx512f") {
            assert_eq!(Backend::detect().name(), "avx512");
        }
    }
}
