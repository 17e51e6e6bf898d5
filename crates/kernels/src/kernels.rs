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

use crate::simd::{Backend, Kind, LANES, Lanes, Scalar, flush_tiny};

/// Optimiser moments smaller than this in magnitude are set to zero. Moments of parameters
/// whose gradient is zero decay geometrically; without this they would pass through the
/// subnormal range, where x86 arithmetic is many times slower. (Flushing subnormals in the
/// FPU instead would break bit-identity with WebAssembly, which keeps them.)
pub const TINY_MOMENT: f32 = 1e-30;

/// Constants of one Adam step, computed once per step by the optimiser.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    /// First-moment decay `beta1`.
    pub beta1: f32,
    /// `1 - beta1`.
    pub one_minus_beta1: f32,
    /// Second-moment decay `beta2`.
    pub beta2: f32,
    /// `1 - beta2`.
    pub one_minus_beta2: f32,
    /// `lr / (1 - beta1^t)`.
    pub step_size: f32,
    /// `1 / sqrt(1 - beta2^t)` (a multiplication per element instead of a division).
    pub inv_bias2_sqrt: f32,
    /// Added to the denominator.
    pub eps: f32,
    /// Decoupled weight decay factor `1 - lr * wd` (1.0 = none).
    pub decay: f32,
}

/// Constants of one SGD-with-momentum step.
#[derive(Clone, Copy, Debug)]
pub struct SgdStep {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor.
    pub momentum: f32,
    /// Decoupled weight decay factor `1 - lr * wd` (1.0 = none).
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
        pub fn $name(backend: Backend, $($arg: $ty),*) $(-> $ret)? {
            match backend.0 {
                Kind::Scalar => generic::$name(Scalar, $($arg),*),
                #[cfg(all(feature = "std", target_arch = "x86_64"))]
                Kind::Avx => {
                    #[target_feature(enable = "avx")]
                    fn inner($($arg: $ty),*) $(-> $ret)? {
                        // SAFETY: reached only through `Kind::Avx`, which requires AVX.
                        let l = unsafe { crate::simd::Avx::new_unchecked() };
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
                        let l = unsafe { crate::simd::Avx512::new_unchecked() };
                        generic::$name(l, $($arg),*)
                    }
                    // SAFETY: `Kind::Avx512` is only constructed after detecting AVX-512F.
                    unsafe { inner($($arg),*) }
                }
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                Kind::Simd128 => generic::$name(crate::simd::Simd128, $($arg),*),
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
