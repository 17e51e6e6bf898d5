//! Multi-layer perceptron: dense layers in one flat parameter vector.

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::loss::{Loss, Target, activation_derivative, loss_and_delta};
use super::optim::Optimizer;
use super::{fast, kernels};
use crate::error::{Error, check};
use crate::rng::SplitMix64;
use tradeloop_kernels::Backend;

/// Element-wise activation of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Activation {
    /// `x`.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
}

/// Weight initialisation (biases start at zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Init {
    /// Uniform `±sqrt(6 / fan_in)` (He/Kaiming, for ReLU).
    HeUniform,
    /// Normal with std `sqrt(2 / fan_in)`.
    HeNormal,
    /// Uniform `±sqrt(6 / (fan_in + fan_out))` (Xavier/Glorot, for tanh/sigmoid/identity).
    XavierUniform,
    /// Normal with std `sqrt(2 / (fan_in + fan_out))`.
    XavierNormal,
}

/// Shape and activations of an MLP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlpSpec {
    /// Layer widths including input and output, e.g. `[32, 64, 64, 3]`.
    pub sizes: Vec<u32>,
    /// Activation of every hidden layer.
    pub hidden: Activation,
    /// Activation of the output layer (`Identity` for logits).
    pub output: Activation,
    /// Weight initialisation.
    pub init: Init,
}

impl MlpSpec {
    /// Widest layer allowed.
    pub const MAX_WIDTH: u32 = 4096;
    /// Most layers allowed (weight matrices).
    pub const MAX_LAYERS: usize = 8;
    /// Most parameters allowed.
    pub const MAX_PARAMS: u64 = 4_000_000;

    /// A ReLU network with identity output and He initialisation.
    pub fn relu(sizes: &[u32]) -> Self {
        Self {
            sizes: sizes.to_vec(),
            hidden: Activation::Relu,
            output: Activation::Identity,
            init: Init::HeUniform,
        }
    }

    /// Checks shape limits.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (2..=Self::MAX_LAYERS + 1).contains(&self.sizes.len()),
            "network needs 2 to 9 layer sizes (input, hidden..., output)",
        )?;
        check(
            self.sizes
                .iter()
                .all(|&s| (1..=Self::MAX_WIDTH).contains(&s)),
            "network layer sizes must be in 1..=4096",
        )?;
        check(
            self.param_count_u64() <= Self::MAX_PARAMS,
            "network has more than 4,000,000 parameters",
        )
    }

    fn param_count_u64(&self) -> u64 {
        self.sizes
            .windows(2)
            .map(|w| u64::from(w[0]) * u64::from(w[1]) + u64::from(w[1]))
            .sum()
    }

    /// Total weights and biases.
    pub fn param_count(&self) -> usize {
        self.param_count_u64() as usize
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.sizes.first().map_or(0, |&s| s as usize)
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.sizes.last().map_or(0, |&s| s as usize)
    }

    fn layers(&self) -> impl Iterator<Item = Layer> + '_ {
        let n = self.sizes.len().saturating_sub(1);
        let mut off = 0;
        self.sizes.windows(2).enumerate().map(move |(i, w)| {
            let (k, m) = (w[0] as usize, w[1] as usize);
            let layer = Layer {
                k,
                n: m,
                w: off,
                b: off + k * m,
                act: if i + 1 == n { self.output } else { self.hidden },
            };
            off += k * m + m;
            layer
        })
    }
}

/// One dense layer's place in the flat parameter vector.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Layer {
    k: usize,
    n: usize,
    /// Offset of the `k x n` weights.
    w: usize,
    /// Offset of the `n` biases.
    b: usize,
    act: Activation,
}

/// A batch of training or evaluation data.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// `rows x inputs`, row-major.
    pub x: &'a [f32],
    /// Number of rows.
    pub rows: usize,
    /// Targets.
    pub target: Target<'a>,
    /// Optional per-row weights (finite, >= 0, not all zero); `None` weighs rows equally.
    pub weights: Option<&'a [f32]>,
}

/// Scratch memory for forward and backward passes. Grows to the largest batch seen and is
/// then reused, so steps do not allocate. Not part of any checkpoint.
#[derive(Debug, Clone)]
pub struct Workspace {
    backend: Backend,
    acts: Vec<f32>,
    delta: [Vec<f32>; 2],
    grads: Vec<f32>,
    scale: Vec<f32>,
    /// Caller scratch (e.g. a normalised input row), reused between calls.
    pub(crate) input: Vec<f32>,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new(Backend::detect())
    }
}

impl PartialEq for Workspace {
    /// Scratch contents are derived, never state: any two workspaces are equal.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Workspace {
    /// An empty workspace running kernels on `backend`.
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            acts: Vec::new(),
            delta: [Vec::new(), Vec::new()],
            grads: Vec::new(),
            scale: Vec::new(),
            input: Vec::new(),
        }
    }

    /// The kernel backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Gradient of the last [`Mlp::gradient`] call, in parameter order.
    pub fn gradient(&self) -> &[f32] {
        &self.grads
    }

    fn ensure(&mut self, spec: &MlpSpec, rows: usize) {
        let acts: usize = spec.sizes.iter().skip(1).map(|&s| s as usize * rows).sum();
        let widest = spec.sizes.iter().map(|&s| s as usize).max().unwrap_or(0) * rows;
        grow(&mut self.acts, acts);
        grow(&mut self.delta[0], widest);
        grow(&mut self.delta[1], widest);
        grow(&mut self.grads, spec.param_count());
        grow(&mut self.scale, rows);
    }
}

fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// A multi-layer perceptron. Weights of layer `i` are `[in, out]` row-major followed by its
/// biases, all layers in one vector (so optimisers update everything in one pass).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    spec: MlpSpec,
    /// Derived from `spec` once, so passes do not recompute offsets.
    layers: Vec<Layer>,
    params: Vec<f32>,
}

impl Mlp {
    /// A freshly initialised network; weights are drawn from `rng` layer by layer.
    pub fn new(spec: MlpSpec, rng: &mut SplitMix64) -> Result<Self, Error> {
        spec.validate()?;
        let mut params = vec![0.0f32; spec.param_count()];
        let layers: Vec<Layer> = spec.layers().collect();
        for layer in &layers {
            let (fi, fo) = (layer.k as f64, layer.n as f64);
            for p in &mut params[layer.w..layer.b] {
                *p = match spec.init {
                    Init::HeUniform => (2.0 * rng.uniform() - 1.0) * libm::sqrt(6.0 / fi),
                    Init::HeNormal => rng.normal() * libm::sqrt(2.0 / fi),
                    Init::XavierUniform => {
                        (2.0 * rng.uniform() - 1.0) * libm::sqrt(6.0 / (fi + fo))
                    }
                    Init::XavierNormal => rng.normal() * libm::sqrt(2.0 / (fi + fo)),
                } as f32;
            }
        }
        Ok(Self {
            spec,
            layers,
            params,
        })
    }

    /// A network with the given parameters (length and finiteness checked).
    pub fn from_params(spec: MlpSpec, params: Vec<f32>) -> Result<Self, Error> {
        spec.validate()?;
        if params.len() != spec.param_count() {
            return Err(Error::ShapeMismatch {
                what: "network parameters",
                expected: spec.param_count() as u64,
                got: params.len() as u64,
            });
        }
        crate::error::all_finite("network parameters", &params)?;
        let layers = spec.layers().collect();
        Ok(Self {
            spec,
            layers,
            params,
        })
    }

    /// The shape.
    pub fn spec(&self) -> &MlpSpec {
        &self.spec
    }

    /// All parameters in layer order.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Runs the network on `rows` inputs; returns the `rows x outputs` output activations,
    /// which live in `ws` until its next use.
    pub fn forward<'w>(
        &self,
        ws: &'w mut Workspace,
        x: &[f32],
        rows: usize,
    ) -> Result<&'w [f32], Error> {
        self.check_input(x, rows)?;
        self.forward_unchecked(ws, x, rows);
        let out_len = rows * self.spec.outputs();
        let start = self.output_offset(rows);
        Ok(&ws.acts[start..start + out_len])
    }

    /// Computes the batch loss and writes its gradient into `ws` ([`Workspace::gradient`]).
    pub fn gradient(
        &self,
        ws: &mut Workspace,
        batch: &Batch<'_>,
        loss: Loss,
    ) -> Result<f32, Error> {
        self.check_batch(batch, loss)?;
        Ok(self.gradient_unchecked(ws, batch, loss))
    }

    /// The batch loss, without computing gradients.
    pub fn loss(&self, ws: &mut Workspace, batch: &Batch<'_>, loss: Loss) -> Result<f32, Error> {
        self.check_batch(batch, loss)?;
        self.forward_unchecked(ws, batch.x, batch.rows);
        let n = self.spec.outputs();
        let start = self.output_offset(batch.rows);
        let Workspace {
            acts, delta, scale, ..
        } = ws;
        fill_scale(scale, batch);
        let y = &acts[start..start + batch.rows * n];
        Ok(loss_and_delta(
            loss,
            self.spec.output,
            y,
            batch.target,
            &scale[..batch.rows],
            n,
            &mut delta[0][..batch.rows * n],
        ))
    }

    /// One optimisation step on `batch`; returns the batch loss before the step.
    /// `lr_scale` multiplies the optimiser's learning rate.
    pub fn train(
        &mut self,
        ws: &mut Workspace,
        opt: &mut Optimizer,
        batch: &Batch<'_>,
        loss: Loss,
        lr_scale: f32,
    ) -> Result<f32, Error> {
        self.check_batch(batch, loss)?;
        if opt.first_moment().len() != self.params.len() {
            return Err(Error::ShapeMismatch {
                what: "optimizer state",
                expected: self.params.len() as u64,
                got: opt.first_moment().len() as u64,
            });
        }
        check(
            lr_scale.is_finite() && lr_scale > 0.0,
            "lr_scale must be > 0",
        )?;
        let value = self.gradient_unchecked(ws, batch, loss);
        let backend = ws.backend;
        let len = self.params.len();
        opt.step(backend, &mut self.params, &mut ws.grads[..len], lr_scale);
        Ok(value)
    }

    /// Applies the gradient of the last [`Mlp::gradient`] call (in `ws`) with `opt`;
    /// `opt` must have this network's parameter count (checked by the caller).
    pub(crate) fn apply_gradient(
        &mut self,
        ws: &mut Workspace,
        opt: &mut Optimizer,
        lr_scale: f32,
    ) {
        let backend = ws.backend;
        let len = self.params.len();
        opt.step(backend, &mut self.params, &mut ws.grads[..len], lr_scale);
    }

    fn check_input(&self, x: &[f32], rows: usize) -> Result<(), Error> {
        check(rows >= 1, "a batch needs at least one row")?;
        let want = rows as u64 * self.spec.inputs() as u64;
        if x.len() as u64 != want {
            return Err(Error::ShapeMismatch {
                what: "network input",
                expected: want,
                got: x.len() as u64,
            });
        }
        crate::error::all_finite("network input", x)
    }

    fn check_batch(&self, batch: &Batch<'_>, loss: Loss) -> Result<(), Error> {
        self.check_input(batch.x, batch.rows)?;
        let n = self.spec.outputs();
        match (loss, batch.target) {
            (Loss::SoftmaxCrossEntropy, Target::Classes(labels)) => {
                check(
                    self.spec.output == Activation::Identity,
                    "softmax cross-entropy needs an identity (logit) output layer",
                )?;
                if labels.len() != batch.rows {
                    return Err(Error::ShapeMismatch {
                        what: "class labels",
                        expected: batch.rows as u64,
                        got: labels.len() as u64,
                    });
                }
                let classes = n.min(255) as u8;
                if let Some(&label) = labels.iter().find(|&&c| usize::from(c) >= n) {
                    return Err(Error::InvalidLabel { label, classes });
                }
            }
            (Loss::Mse, Target::Values(t)) | (Loss::Huber { .. }, Target::Values(t)) => {
                if let Loss::Huber { delta } = loss {
                    check(delta.is_finite() && delta > 0.0, "huber delta must be > 0")?;
                }
                let want = (batch.rows * n) as u64;
                if t.len() as u64 != want {
                    return Err(Error::ShapeMismatch {
                        what: "regression targets",
                        expected: want,
                        got: t.len() as u64,
                    });
                }
                crate::error::all_finite("regression targets", t)?;
            }
            _ => return Err(Error::InvalidConfig("loss and target kind do not match")),
        }
        if let Some(w) = batch.weights {
            if w.len() != batch.rows {
                return Err(Error::ShapeMismatch {
                    what: "sample weights",
                    expected: batch.rows as u64,
                    got: w.len() as u64,
                });
            }
            crate::error::all_finite("sample weights", w)?;
            if let Some(&neg) = w.iter().find(|&&x| x < 0.0) {
                return Err(Error::NonPositive {
                    field: "sample weight",
                    value: f64::from(neg),
                });
            }
            let sum: f32 = w.iter().sum();
            if !(sum > 0.0 && sum.is_finite()) {
                return Err(Error::NonPositive {
                    field: "sum of sample weights",
                    value: f64::from(sum),
                });
            }
        }
        Ok(())
    }

    fn output_offset(&self, rows: usize) -> usize {
        let s = &self.spec.sizes;
        s[1..s.len() - 1].iter().map(|&w| w as usize * rows).sum()
    }

    fn forward_unchecked(&self, ws: &mut Workspace, x: &[f32], rows: usize) {
        ws.ensure(&self.spec, rows);
        let backend = ws.backend;
        let mut off = 0;
        for (i, layer) in self.layers.iter().enumerate() {
            let (before, rest) = ws.acts.split_at_mut(off);
            let input: &[f32] = if i == 0 {
                x
            } else {
                &before[off - rows * layer.k..]
            };
            let out = &mut rest[..rows * layer.n];
            kernels::affine(
                backend,
                input,
                &self.params[layer.w..layer.b],
                &self.params[layer.b..layer.b + layer.n],
                out,
                rows,
                layer.k,
                layer.n,
            );
            activate(backend, layer.act, out);
            off += rows * layer.n;
        }
    }

    fn gradient_unchecked(&self, ws: &mut Workspace, batch: &Batch<'_>, loss: Loss) -> f32 {
        let rows = batch.rows;
        self.forward_unchecked(ws, batch.x, rows);
        let backend = ws.backend;
        let Workspace {
            acts,
            delta,
            grads,
            scale,
            ..
        } = ws;
        fill_scale(scale, batch);
        let layers = &self.layers;
        let n_out = self.spec.outputs();
        let mut off = self.output_offset(rows);
        let [d_cur, d_next] = delta;
        let value = loss_and_delta(
            loss,
            self.spec.output,
            &acts[off..off + rows * n_out],
            batch.target,
            &scale[..rows],
            n_out,
            &mut d_cur[..rows * n_out],
        );
        let (mut cur, mut next) = (d_cur, d_next);
        for (i, layer) in layers.iter().enumerate().rev() {
            let in_off = off - if i == 0 { 0 } else { rows * layer.k };
            let input: &[f32] = if i == 0 { batch.x } else { &acts[in_off..off] };
            let d = &cur[..rows * layer.n];
            kernels::grad_weights(
                backend,
                input,
                d,
                &mut grads[layer.w..layer.b],
                rows,
                layer.k,
                layer.n,
            );
            kernels::grad_bias(
                backend,
                d,
                &mut grads[layer.b..layer.b + layer.n],
                rows,
                layer.n,
            );
            if i > 0 {
                let dx = &mut next[..rows * layer.k];
                let w = &self.params[layer.w..layer.b];
                kernels::backprop_input(backend, d, w, dx, rows, layer.k, layer.n);
                activate_backward(backend, layers[i - 1].act, input, dx);
                core::mem::swap(&mut cur, &mut next);
            }
            off = in_off;
        }
        value
    }
}

fn fill_scale(scale: &mut [f32], batch: &Batch<'_>) {
    let rows = batch.rows;
    match batch.weights {
        Some(w) => {
            let sum: f32 = w.iter().sum();
            for (s, &wi) in scale[..rows].iter_mut().zip(w) {
                *s = wi / sum;
            }
        }
        None => scale[..rows]
            .iter_mut()
            .for_each(|s| *s = 1.0 / rows as f32),
    }
}

fn activate(backend: Backend, act: Activation, v: &mut [f32]) {
    match act {
        Activation::Identity => {}
        Activation::Relu => kernels::relu(backend, v),
        Activation::Tanh => v.iter_mut().for_each(|x| *x = fast::tanh(*x)),
        Activation::Sigmoid => v.iter_mut().for_each(|x| *x = fast::sigmoid(*x)),
    }
}

fn activate_backward(backend: Backend, act: Activation, a: &[f32], d: &mut [f32]) {
    match act {
        Activation::Identity => {}
        Activation::Relu => kernels::relu_backward(backend, a, d),
        _ => d
            .iter_mut()
            .zip(a)
            .for_each(|(di, &ai)| *di *= activation_derivative(act, ai)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::optim::OptimConfig;

    fn rand_batch(r: &mut SplitMix64, n: usize) -> Vec<f32> {
        (0..n).map(|_| r.normal() as f32).collect()
    }

    /// Central finite differences against the analytic gradient for every parameter.
    #[allow(clippy::needless_range_loop)]
    fn grad_check(spec: MlpSpec, loss: Loss, classes: bool, weighted: bool) {
        let mut r = SplitMix64::new(11);
        let mut mlp = Mlp::new(spec.clone(), &mut r).unwrap();
        // Non-zero biases so the check covers them away from zero.
        for layer in spec.layers() {
            for p in &mut mlp.params[layer.b..layer.b + layer.n] {
                *p = 0.1 * r.normal() as f32;
            }
        }
        let rows = 5;
        let x = rand_batch(&mut r, rows * spec.inputs());
        let labels: Vec<u8> = (0..rows).map(|i| (i % spec.outputs()) as u8).collect();
        let values = rand_batch(&mut r, rows * spec.outputs());
        let weights: Vec<f32> = (0..rows).map(|i| 0.5 + i as f32).collect();
        let target = if classes {
            Target::Classes(&labels)
        } else {
            Target::Values(&values)
        };
        let batch = Batch {
            x: &x,
            rows,
            target,
            weights: weighted.then_some(&weights[..]),
        };
        let mut ws = Workspace::new(Backend::SCALAR);
        mlp.gradient(&mut ws, &batch, loss).unwrap();
        let analytic = ws.gradient()[..mlp.params.len()].to_vec();
        let h = 1e-2f32;
        // A step across a ReLU kink makes finite differences meaningless: such parameters
        // are skipped (and counted) by comparing which units are active.
        let acts_len = mlp.output_offset(rows) + rows * spec.outputs();
        let pattern = |ws: &Workspace| -> Vec<bool> {
            ws.acts[..acts_len].iter().map(|&a| a > 0.0).collect()
        };
        mlp.loss(&mut ws, &batch, loss).unwrap();
        let base = pattern(&ws);
        let (mut worst, mut skipped) = (0.0f64, 0);
        for i in 0..mlp.params.len() {
            let orig = mlp.params[i];
            mlp.params[i] = orig + h;
            let up = f64::from(mlp.loss(&mut ws, &batch, loss).unwrap());
            let crossed_up = pattern(&ws) != base;
            mlp.params[i] = orig - h;
            let down = f64::from(mlp.loss(&mut ws, &batch, loss).unwrap());
            let crossed_down = pattern(&ws) != base;
            mlp.params[i] = orig;
            let has_relu = spec.hidden == Activation::Relu || spec.output == Activation::Relu;
            if has_relu && (crossed_up || crossed_down) {
                skipped += 1;
                continue;
            }
            let numeric = (up - down) / (2.0 * f64::from(h));
            let a = f64::from(analytic[i]);
            let err = (numeric - a).abs() / (1e-3 + a.abs().max(numeric.abs()));
            worst = worst.max(err);
            assert!(
                err < 2e-2,
                "{spec:?} {loss:?} param {i}: analytic {a} numeric {numeric}"
            );
        }
        assert!(worst.is_finite());
        assert!(
            skipped * 10 <= mlp.params.len(),
            "{skipped} of {} parameters crossed a kink",
            mlp.params.len()
        );
    }

    fn spec(hidden: Activation, output: Activation) -> MlpSpec {
        MlpSpec {
            sizes: vec![4, 7, 5, 3],
            hidden,
            output,
            init: Init::XavierNormal,
        }
    }

    #[test]
    fn gradient_check_every_activation_and_loss() {
        for hidden in [
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Identity,
            Activation::Relu,
        ] {
            grad_check(
                spec(hidden, Activation::Identity),
                Loss::SoftmaxCrossEntropy,
                true,
                false,
            );
            grad_check(
                spec(hidden, Activation::Identity),
                Loss::SoftmaxCrossEntropy,
                true,
                true,
            );
        }
        for output in [
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
        ] {
            grad_check(spec(Activation::Tanh, output), Loss::Mse, false, false);
            grad_check(
                spec(Activation::Tanh, output),
                Loss::Huber { delta: 0.3 },
                false,
                true,
            );
        }
    }

    #[test]
    fn wide_layers_use_simd_tiles_and_still_match_finite_differences() {
        let s = MlpSpec {
            sizes: vec![20, 40, 3],
            hidden: Activation::Tanh,
            output: Activation::Identity,
            init: Init::XavierUniform,
        };
        grad_check(s, Loss::SoftmaxCrossEntropy, true, false);
    }

    #[test]
    fn training_is_bit_identical_on_every_backend() {
        let spec = MlpSpec::relu(&[32, 64, 64, 3]);
        let mut r = SplitMix64::new(5);
        let x = rand_batch(&mut r, 64 * 32);
        let labels: Vec<u8> = (0..64).map(|i| (i * 7 % 3) as u8).collect();
        let run = |backend| {
            let mut mlp = Mlp::new(spec.clone(), &mut SplitMix64::new(2)).unwrap();
            let mut opt = Optimizer::new(
                OptimConfig {
                    clip_norm: 5.0,
                    weight_decay: 0.01,
                    ..OptimConfig::adam(1e-3)
                },
                mlp.params.len(),
            )
            .unwrap();
            let mut ws = Workspace::new(backend);
            for step in 0..20 {
                let rows = if step % 2 == 0 { 1 } else { 64 };
                let batch = Batch {
                    x: &x[..rows * 32],
                    rows,
                    target: Target::Classes(&labels[..rows]),
                    weights: None,
                };
                mlp.train(&mut ws, &mut opt, &batch, Loss::SoftmaxCrossEntropy, 1.0)
                    .unwrap();
            }
            (
                mlp.params.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
                opt,
            )
        };
        let reference = run(Backend::SCALAR);
        for b in Backend::available() {
            assert!(
                run(b) == reference,
                "backend {} diverged from scalar",
                b.name()
            );
        }
    }

    #[test]
    fn learns_a_linear_rule() {
        let spec = MlpSpec::relu(&[8, 16, 2]);
        let mut r = SplitMix64::new(9);
        let mut mlp = Mlp::new(spec, &mut r).unwrap();
        let mut opt = Optimizer::new(OptimConfig::adam(1e-2), mlp.params.len()).unwrap();
        let mut ws = Workspace::default();
        let x = rand_batch(&mut r, 256 * 8);
        let y: Vec<u8> = x.chunks(8).map(|c| u8::from(c[0] + c[3] > 0.0)).collect();
        let batch = Batch {
            x: &x,
            rows: 256,
            target: Target::Classes(&y),
            weights: None,
        };
        let first = mlp
            .loss(&mut ws, &batch, Loss::SoftmaxCrossEntropy)
            .unwrap();
        for _ in 0..200 {
            mlp.train(&mut ws, &mut opt, &batch, Loss::SoftmaxCrossEntropy, 1.0)
                .unwrap();
        }
        let last = mlp
            .loss(&mut ws, &batch, Loss::SoftmaxCrossEntropy)
            .unwrap();
        assert!(last < 0.2 * first, "loss {first} -> {last}");
        let out = mlp.forward(&mut ws, &x, 256).unwrap();
        let correct = out
            .chunks(2)
            .zip(&y)
            .filter(|(o, c)| u8::from(o[1] > o[0]) == **c)
            .count();
        assert!(correct >= 245, "{correct}/256");
        let mut sgd = Optimizer::new(OptimConfig::sgd(0.05, 0.9), mlp.params.len()).unwrap();
        let before = mlp
            .loss(&mut ws, &batch, Loss::SoftmaxCrossEntropy)
            .unwrap();
        for _ in 0..50 {
            mlp.train(&mut ws, &mut sgd, &batch, Loss::SoftmaxCrossEntropy, 1.0)
                .unwrap();
        }
        assert!(
            mlp.loss(&mut ws, &batch, Loss::SoftmaxCrossEntropy)
                .unwrap()
                <= before
        );
    }

    #[test]
    fn bad_batches_are_typed_errors() {
        let mut r = SplitMix64::new(1);
        let mut mlp = Mlp::new(MlpSpec::relu(&[3, 4, 2]), &mut r).unwrap();
        let mut opt = Optimizer::new(OptimConfig::adam(1e-3), mlp.params.len()).unwrap();
        let mut ws = Workspace::default();
        let before = mlp.clone();
        let x = [0.1f32; 6];
        let cases: Vec<(Batch<'_>, Loss)> = vec![
            (
                Batch {
                    x: &x[..5],
                    rows: 2,
                    target: Target::Classes(&[0, 1]),
                    weights: None,
                },
                Loss::SoftmaxCrossEntropy,
            ),
            (
                Batch {
                    x: &x,
                    rows: 2,
                    target: Target::Classes(&[0, 2]),
                    weights: None,
                },
                Loss::SoftmaxCrossEntropy,
            ),
            (
                Batch {
                    x: &x,
                    rows: 2,
                    target: Target::Classes(&[0]),
                    weights: None,
                },
                Loss::SoftmaxCrossEntropy,
            ),
            (
                Batch {
                    x: &x,
                    rows: 2,
                    target: Target::Values(&[0.0; 4]),
                    weights: None,
                },
                Loss::SoftmaxCrossEntropy,
            ),
            (
                Batch {
                    x: &x,
                    rows: 2,
                    target: Target::Values(&[0.0; 3]),
                    weights: None,
                },
                Loss::Mse,
            ),
            (
                Batch {
                    x: &x,
                    rows: 2,
                    target: Target::Values(&[f32::NAN; 4]),
                    weights: None,
                },
                Loss::Mse,
            ),
            (
                Batch {
                    x: &x,
                    rows: 2,
                    target: Target::Values(&[0.0; 4]),
                    weights: Some(&[0.0, 0.0]),
                },
                Loss::Mse,
            ),
            (
                Batch {
                    x: &x,
                    rows: 2,
                    target: Target::Values(&[0.0; 4]),
                    weights: Some(&[1.0, -1.0]),
                },
                Loss::Mse,
            ),
            (
                Batch {
                    x: &x,
                    rows: 2,
                    target: Target::Values(&[0.0; 4]),
                    weights: None,
                },
                Loss::Huber { delta: 0.0 },
            ),
            (
                Batch {
                    x: &[f32::INFINITY; 6],
                    rows: 2,
                    target: Target::Classes(&[0, 1]),
                    weights: None,
                },
                Loss::SoftmaxCrossEntropy,
            ),
            (
                Batch {
                    x: &[],
                    rows: 0,
                    target: Target::Classes(&[]),
                    weights: None,
                },
                Loss::SoftmaxCrossEntropy,
            ),
        ];
        for (batch, loss) in cases {
            assert!(
                mlp.train(&mut ws, &mut opt, &batch, loss, 1.0).is_err(),
                "{batch:?} {loss:?}"
            );
        }
        assert_eq!(mlp, before);
        assert_eq!(opt.steps(), 0);
        assert!(Mlp::new(MlpSpec::relu(&[3]), &mut r).is_err());
        assert!(Mlp::new(MlpSpec::relu(&[3, 0, 2]), &mut r).is_err());
        assert!(Mlp::new(MlpSpec::relu(&[4096, 4096, 4096]), &mut r).is_err());
        assert!(Mlp::from_params(MlpSpec::relu(&[1, 1]), vec![0.0]).is_err());
        assert!(Mlp::from_params(MlpSpec::relu(&[1, 1]), vec![0.0, f32::NAN]).is_err());
    }
}
