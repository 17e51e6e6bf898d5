//! Dense-layer and optimiser kernels on contiguous row-major buffers.
//!
//! Each kernel is written once (module `generic`, over [`Lanes`]) and instantiated per
//! backend by `kernels!`, inside a `#[target_feature]` function for the x86 backends. The
//! arithmetic order of every output element is fixed by the generic code, not by the
//! backend: element-wise results accumulate in ascending index order, and dot products use
//! the canonical 16-lane partial sums plus the fixed tree of [`Lanes::reduce`]. Hence the
//! backends agree bit for bit (tested below).
//!
//! Layouts: a batch is `rows x k` row-major; a weight matrix is `k x n` row-major
//! (`[in, out]`); outputs are `rows x n`.

use super::simd::{Backend, Kind, LANES, Lanes, Scalar, flush_tiny};

/// Optimiser moments smaller than this in magnitude are set to zero. Moments of parameters
/// whose gradient is zero decay geometrically; without this they would pass through the
/// subnormal range, where x86 arithmetic is many times slower. (Flushing subnormals in the
/// FPU instead would break bit-identity with WebAssembly, which keeps them.)
pub(crate) const TINY_MOMENT: f32 = 1e-30;

/// Constants of one Adam step, computed once per step by the optimiser.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamStep {
    pub beta1: f32,
    pub one_minus_beta1: f32,
    pub beta2: f32,
    pub one_minus_beta2: f32,
    /// `lr / (1 - beta1^t)`.
    pub step_size: f32,
    /// `1 / sqrt(1 - beta2^t)` (a multiplication per element instead of a division).
    pub inv_bias2_sqrt: f32,
    pub eps: f32,
    /// Decoupled weight decay factor `1 - lr * wd` (1.0 = none).
    pub decay: f32,
}

/// Constants of one SGD-with-momentum step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SgdStep {
    pub lr: f32,
    pub momentum: f32,
    pub decay: f32,
}

mod generic {
    use super::*;

    /// `out[r, j] = bias[j] + sum_{kk ascending} x[r, kk] * w[kk, j]`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn affine<L: Lanes>(
        l: L,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        out: &mut [f32],
        rows: usize,
        k: usize,
        n: usize,
    ) {
        let full = n / LANES * LANES;
        let mut r = 0;
        while r + 4 <= rows {
            let mut c = 0;
            while c + 4 * LANES <= full {
                affine_tile::<L, 4, 4>(l, x, w, bias, out, r, c, k, n);
                c += 4 * LANES;
            }
            while c < full {
                affine_tile::<L, 4, 1>(l, x, w, bias, out, r, c, k, n);
                c += LANES;
            }
            r += 4;
        }
        while r < rows {
            let mut c = 0;
            while c + 4 * LANES <= full {
                affine_tile::<L, 1, 4>(l, x, w, bias, out, r, c, k, n);
                c += 4 * LANES;
            }
            while c < full {
                affine_tile::<L, 1, 1>(l, x, w, bias, out, r, c, k, n);
                c += LANES;
            }
            r += 1;
        }
        if full == n {
            return;
        }
        if L::FAST_PARTIAL {
            // Tail columns as one masked vector per row: the same lane-wise operations.
            let bias_t = l.load_part(&bias[full..n]);
            for r in 0..rows {
                let mut acc = bias_t;
                for kk in 0..k {
                    let wv = l.load_part(&w[kk * n + full..(kk + 1) * n]);
                    acc = l.add(acc, l.mul(l.splat(x[r * k + kk]), wv));
                }
                l.store_part(acc, &mut out[r * n + full..(r + 1) * n]);
            }
            return;
        }
        for r in 0..rows {
            let xr = &x[r * k..(r + 1) * k];
            for j in full..n {
                let mut acc = bias[j];
                for (kk, &xv) in xr.iter().enumerate() {
                    acc += xv * w[kk * n + j];
                }
                out[r * n + j] = acc;
            }
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn affine_tile<L: Lanes, const R: usize, const C: usize>(
        l: L,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        out: &mut [f32],
        r0: usize,
        c0: usize,
        k: usize,
        n: usize,
    ) {
        let mut acc = [[l.zero(); C]; R];
        for c in 0..C {
            let b = l.load(&bias[c0 + c * LANES..]);
            for row in acc.iter_mut() {
                row[c] = b;
            }
        }
        for kk in 0..k {
            let wrow = &w[kk * n + c0..];
            let mut wv = [l.zero(); C];
            for (c, v) in wv.iter_mut().enumerate() {
                *v = l.load(&wrow[c * LANES..]);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let xv = l.splat(x[(r0 + r) * k + kk]);
                for c in 0..C {
                    row[c] = l.add(row[c], l.mul(xv, wv[c]));
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                l.store(*v, &mut out[(r0 + r) * n + c0 + c * LANES..]);
            }
        }
    }

    /// `gw[kk, j] = x[0, kk] * d[0, j] + x[1, kk] * d[1, j] + ...` (rows ascending; `rows >= 1`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn grad_weights<L: Lanes>(
        l: L,
        x: &[f32],
        d: &[f32],
        gw: &mut [f32],
        rows: usize,
        k: usize,
        n: usize,
    ) {
        if rows == 0 {
            return;
        }
        let full = n / LANES * LANES;
        let mut kk = 0;
        while kk + 4 <= k {
            let mut c = 0;
            while c + 4 * LANES <= full {
                grad_tile::<L, 4, 4>(l, x, d, gw, kk, c, rows, k, n);
                c += 4 * LANES;
            }
            while c < full {
                grad_tile::<L, 4, 1>(l, x, d, gw, kk, c, rows, k, n);
                c += LANES;
            }
            kk += 4;
        }
        while kk < k {
            let mut c = 0;
            while c + 4 * LANES <= full {
                grad_tile::<L, 1, 4>(l, x, d, gw, kk, c, rows, k, n);
                c += 4 * LANES;
            }
            while c < full {
                grad_tile::<L, 1, 1>(l, x, d, gw, kk, c, rows, k, n);
                c += LANES;
            }
            kk += 1;
        }
        if full == n {
            return;
        }
        if L::FAST_PARTIAL {
            for kk in 0..k {
                let mut acc = l.mul(l.splat(x[kk]), l.load_part(&d[full..n]));
                for b in 1..rows {
                    let dv = l.load_part(&d[b * n + full..(b + 1) * n]);
                    acc = l.add(acc, l.mul(l.splat(x[b * k + kk]), dv));
                }
                l.store_part(acc, &mut gw[kk * n + full..(kk + 1) * n]);
            }
            return;
        }
        for kk in 0..k {
            for j in full..n {
                let mut acc = x[kk] * d[j];
                for b in 1..rows {
                    acc += x[b * k + kk] * d[b * n + j];
                }
                gw[kk * n + j] = acc;
            }
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn grad_tile<L: Lanes, const R: usize, const C: usize>(
        l: L,
        x: &[f32],
        d: &[f32],
        gw: &mut [f32],
        k0: usize,
        c0: usize,
        rows: usize,
        k: usize,
        n: usize,
    ) {
        let mut acc = [[l.zero(); C]; R];
        for b in 0..rows {
            let drow = &d[b * n + c0..];
            let mut dv = [l.zero(); C];
            for (c, v) in dv.iter_mut().enumerate() {
                *v = l.load(&drow[c * LANES..]);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let xv = l.splat(x[b * k + k0 + r]);
                for c in 0..C {
                    let p = l.mul(xv, dv[c]);
                    row[c] = if b == 0 { p } else { l.add(row[c], p) };
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                l.store(*v, &mut gw[(k0 + r) * n + c0 + c * LANES..]);
            }
        }
    }

    /// `gb[j] = d[0, j] + d[1, j] + ...` (rows ascending; `rows >= 1`).
    #[inline(always)]
    pub(crate) fn grad_bias<L: Lanes>(l: L, d: &[f32], gb: &mut [f32], rows: usize, n: usize) {
        if rows == 0 {
            return;
        }
        let full = n / LANES * LANES;
        let mut c = 0;
        while c < full {
            let mut acc = l.load(&d[c..]);
            for b in 1..rows {
                acc = l.add(acc, l.load(&d[b * n + c..]));
            }
            l.store(acc, &mut gb[c..]);
            c += LANES;
        }
        for j in full..n {
            let mut acc = d[j];
            for b in 1..rows {
                acc += d[b * n + j];
            }
            gb[j] = acc;
        }
    }

    /// `dx[r, kk] = dot(d[r, :], w[kk, :])` with the canonical lane order.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backprop_input<L: Lanes>(
        l: L,
        d: &[f32],
        w: &[f32],
        dx: &mut [f32],
        rows: usize,
        k: usize,
        n: usize,
    ) {
        let mut r = 0;
        while r + 4 <= rows {
            let mut kk = 0;
            while kk + 4 <= k {
                dot_tile::<L, 4, 4>(l, d, w, dx, r, kk, k, n);
                kk += 4;
            }
            while kk < k {
                dot_tile::<L, 4, 1>(l, d, w, dx, r, kk, k, n);
                kk += 1;
            }
            r += 4;
        }
        while r < rows {
            let mut kk = 0;
            while kk + 4 <= k {
                dot_tile::<L, 1, 4>(l, d, w, dx, r, kk, k, n);
                kk += 4;
            }
            while kk < k {
                dot_tile::<L, 1, 1>(l, d, w, dx, r, kk, k, n);
                kk += 1;
            }
            r += 1;
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn dot_tile<L: Lanes, const R: usize, const T: usize>(
        l: L,
        d: &[f32],
        w: &[f32],
        dx: &mut [f32],
        r0: usize,
        k0: usize,
        k: usize,
        n: usize,
    ) {
        let full = n / LANES * LANES;
        let mut acc = [[l.zero(); T]; R];
        let mut c = 0;
        while c < full {
            let mut wv = [l.zero(); T];
            for (t, v) in wv.iter_mut().enumerate() {
                *v = l.load(&w[(k0 + t) * n + c..]);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let dv = l.load(&d[(r0 + r) * n + c..]);
                for t in 0..T {
                    row[t] = l.add(row[t], l.mul(dv, wv[t]));
                }
            }
            c += LANES;
        }
        if full < n {
            // Tail elements land in lanes 0..n-full; the other lanes add +0.0, which leaves
            // a partial sum unchanged (partial sums start at +0.0 and so are never -0.0).
            let mut wv = [l.zero(); T];
            for (t, v) in wv.iter_mut().enumerate() {
                *v = l.load_part(&w[(k0 + t) * n + full..(k0 + t + 1) * n]);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let dv = l.load_part(&d[(r0 + r) * n + full..(r0 + r + 1) * n]);
                for t in 0..T {
                    row[t] = l.add(row[t], l.mul(dv, wv[t]));
                }
            }
        }
        if R * T == LANES {
            // All sixteen dot products of the tile reduced together.
            let flat: [L::V; LANES] = core::array::from_fn(|m| acc[m / T][m % T]);
            let mut out = [0.0f32; LANES];
            l.reduce16(&flat, &mut out);
            for (r, sums) in out.chunks_exact(T).enumerate() {
                dx[(r0 + r) * k + k0..(r0 + r) * k + k0 + T].copy_from_slice(sums);
            }
            return;
        }
        for (r, row) in acc.iter().enumerate() {
            for (t, v) in row.iter().enumerate() {
                dx[(r0 + r) * k + k0 + t] = l.reduce(*v);
            }
        }
    }

    /// Canonical dot product of two equal-length slices.
    #[inline(always)]
    pub(crate) fn dot<L: Lanes>(l: L, a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let full = n / LANES * LANES;
        let mut acc = l.zero();
        let mut c = 0;
        while c < full {
            acc = l.add(acc, l.mul(l.load(&a[c..]), l.load(&b[c..])));
            c += LANES;
        }
        if full < n {
            acc = l.add(
                acc,
                l.mul(l.load_part(&a[full..n]), l.load_part(&b[full..n])),
            );
        }
        l.reduce(acc)
    }

    /// In place `v = if v > 0 { v } else { 0 }`.
    #[inline(always)]
    pub(crate) fn relu<L: Lanes>(l: L, v: &mut [f32]) {
        let full = v.len() / LANES * LANES;
        let mut c = 0;
        while c < full {
            let x = l.load(&v[c..]);
            l.store(l.where_positive(x, x), &mut v[c..]);
            c += LANES;
        }
        for x in &mut v[full..] {
            *x = if *x > 0.0 { *x } else { 0.0 };
        }
    }

    /// In place `d = if a > 0 { d } else { 0 }` (ReLU derivative from the layer's output).
    #[inline(always)]
    pub(crate) fn relu_backward<L: Lanes>(l: L, a: &[f32], d: &mut [f32]) {
        let len = a.len().min(d.len());
        let full = len / LANES * LANES;
        let mut c = 0;
        while c < full {
            let r = l.where_positive(l.load(&a[c..]), l.load(&d[c..]));
            l.store(r, &mut d[c..]);
            c += LANES;
        }
        for j in full..len {
            d[j] = if a[j] > 0.0 { d[j] } else { 0.0 };
        }
    }

    /// In place `v *= s`.
    #[inline(always)]
    pub(crate) fn scale<L: Lanes>(l: L, v: &mut [f32], s: f32) {
        let full = v.len() / LANES * LANES;
        let sv = l.splat(s);
        let mut c = 0;
        while c < full {
            let x = l.load(&v[c..]);
            l.store(l.mul(x, sv), &mut v[c..]);
            c += LANES;
        }
        for x in &mut v[full..] {
            *x *= s;
        }
    }

    /// One Adam step over flat buffers (PyTorch's formulation with the bias-correction
    /// division of `sqrt(v)` done as a multiplication by its reciprocal; decoupled weight
    /// decay; moments below [`TINY_MOMENT`] flushed to zero):
    /// `m = b1 m + (1-b1) g; v = b2 v + (1-b2) (g g);`
    /// `p = p * decay - step_size * (m / (sqrt(v) * inv_bias2_sqrt + eps))`.
    #[inline(always)]
    pub(crate) fn adam<L: Lanes>(
        l: L,
        p: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        s: AdamStep,
    ) {
        let len = p.len().min(g.len()).min(m.len()).min(v.len());
        let full = len / LANES * LANES;
        let (b1, omb1) = (l.splat(s.beta1), l.splat(s.one_minus_beta1));
        let (b2, omb2) = (l.splat(s.beta2), l.splat(s.one_minus_beta2));
        let (step, ibc2, eps) = (
            l.splat(s.step_size),
            l.splat(s.inv_bias2_sqrt),
            l.splat(s.eps),
        );
        let decay = l.splat(s.decay);
        let decays = s.decay != 1.0;
        let tiny = l.splat(TINY_MOMENT);
        let mut c = 0;
        while c < full {
            let gv = l.load(&g[c..]);
            let mv = l.flush_tiny(l.add(l.mul(b1, l.load(&m[c..])), l.mul(omb1, gv)), tiny);
            let vv = l.flush_tiny(
                l.add(l.mul(b2, l.load(&v[c..])), l.mul(omb2, l.mul(gv, gv))),
                tiny,
            );
            let denom = l.add(l.mul(l.sqrt(vv), ibc2), eps);
            let mut pv = l.load(&p[c..]);
            if decays {
                pv = l.mul(pv, decay);
            }
            pv = l.sub(pv, l.mul(step, l.div(mv, denom)));
            l.store(mv, &mut m[c..]);
            l.store(vv, &mut v[c..]);
            l.store(pv, &mut p[c..]);
            c += LANES;
        }
        for j in full..len {
            let gj = g[j];
            let mj = flush_tiny(s.beta1 * m[j] + s.one_minus_beta1 * gj, TINY_MOMENT);
            let vj = flush_tiny(s.beta2 * v[j] + s.one_minus_beta2 * (gj * gj), TINY_MOMENT);
            let denom = libm::sqrtf(vj) * s.inv_bias2_sqrt + s.eps;
            let mut pj = p[j];
            if decays {
                pj *= s.decay;
            }
            p[j] = pj - s.step_size * (mj / denom);
            m[j] = mj;
            v[j] = vj;
        }
    }

    /// One SGD step with (heavy-ball) momentum: `u = mu u + g; p = p * decay - lr u`, the
    /// velocity flushed to zero below [`TINY_MOMENT`].
    #[inline(always)]
    pub(crate) fn sgd<L: Lanes>(l: L, p: &mut [f32], g: &[f32], u: &mut [f32], s: SgdStep) {
        let len = p.len().min(g.len()).min(u.len());
        let full = len / LANES * LANES;
        let (lr, mu, decay) = (l.splat(s.lr), l.splat(s.momentum), l.splat(s.decay));
        let decays = s.decay != 1.0;
        let tiny = l.splat(TINY_MOMENT);
        let mut c = 0;
        while c < full {
            let uv = l.flush_tiny(l.add(l.mul(mu, l.load(&u[c..])), l.load(&g[c..])), tiny);
            let mut pv = l.load(&p[c..]);
            if decays {
                pv = l.mul(pv, decay);
            }
            l.store(l.sub(pv, l.mul(lr, uv)), &mut p[c..]);
            l.store(uv, &mut u[c..]);
            c += LANES;
        }
        for j in full..len {
            let uj = flush_tiny(s.momentum * u[j] + g[j], TINY_MOMENT);
            let mut pj = p[j];
            if decays {
                pj *= s.decay;
            }
            p[j] = pj - s.lr * uj;
            u[j] = uj;
        }
    }
}

/// Generates, for each kernel, a dispatching function taking a [`Backend`] first. x86
/// backends run the generic code inside a `#[target_feature]` function so the intrinsics
/// inline; the `unsafe` call is sound because a `Backend` of that kind only exists after
/// runtime detection (see [`Backend::available`]).
macro_rules! kernels {
    ($( $(#[$meta:meta])* fn $name:ident( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)?; )*) => {$(
        $(#[$meta])*
        #[allow(clippy::too_many_arguments, unsafe_code)]
        pub(crate) fn $name(backend: Backend, $($arg: $ty),*) $(-> $ret)? {
            match backend.0 {
                Kind::Scalar => generic::$name(Scalar, $($arg),*),
                #[cfg(all(feature = "std", target_arch = "x86_64"))]
                Kind::Avx => {
                    #[target_feature(enable = "avx")]
                    fn inner($($arg: $ty),*) $(-> $ret)? {
                        // SAFETY: reached only through `Kind::Avx`, which requires AVX.
                        let l = unsafe { super::simd::Avx::new_unchecked() };
                        generic::$name(l, $($arg),*)
                    }
                    // SAFETY: `Kind::Avx` is only constructed after detecting AVX.
                    unsafe { inner($($arg),*) }
                }
                #[cfg(all(feature = "std", target_arch = "x86_64"))]
                Kind::Avx512 => {
                    #[target_feature(enable = "avx512f")]
                    fn inner($($arg: $ty),*) $(-> $ret)? {
                        // SAFETY: reached only through `Kind::Avx512`, which requires AVX-512F.
                        let l = unsafe { super::simd::Avx512::new_unchecked() };
                        generic::$name(l, $($arg),*)
                    }
                    // SAFETY: `Kind::Avx512` is only constructed after detecting AVX-512F.
                    unsafe { inner($($arg),*) }
                }
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                Kind::Simd128 => generic::$name(super::simd::Simd128, $($arg),*),
            }
        }
    )*};
}

kernels! {
    /// `out = x w + bias` for a `rows x k` batch, `k x n` weights.
    fn affine(x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32], rows: usize, k: usize, n: usize);
    /// Weight gradient `gw = x^T d` (`k x n`), rows summed in ascending order.
    fn grad_weights(x: &[f32], d: &[f32], gw: &mut [f32], rows: usize, k: usize, n: usize);
    /// Bias gradient: column sums of `d`.
    fn grad_bias(d: &[f32], gb: &mut [f32], rows: usize, n: usize);
    /// Input gradient `dx = d w^T` (`rows x k`).
    fn backprop_input(d: &[f32], w: &[f32], dx: &mut [f32], rows: usize, k: usize, n: usize);
    /// Canonical dot product.
    fn dot(a: &[f32], b: &[f32]) -> f32;
    /// In-place ReLU.
    fn relu(v: &mut [f32]);
    /// In-place ReLU derivative mask.
    fn relu_backward(a: &[f32], d: &mut [f32]);
    /// In-place scaling.
    fn scale(v: &mut [f32], s: f32);
    /// Adam update.
    fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: AdamStep);
    /// SGD-with-momentum update.
    fn sgd(p: &mut [f32], g: &[f32], u: &mut [f32], s: SgdStep);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use alloc::vec;
    use alloc::vec::Vec;

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
