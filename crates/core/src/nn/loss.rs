//! Losses and their gradients with respect to the output layer's pre-activation.

use serde::{Deserialize, Serialize};

use super::mlp::Activation;

/// Training objective. Every loss is a (sample-weighted) mean over the batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Loss {
    /// Softmax over the outputs, then cross-entropy with a class label. The output layer
    /// must use [`Activation::Identity`] (its outputs are logits).
    SoftmaxCrossEntropy,
    /// Mean squared error over outputs.
    Mse,
    /// Huber loss with threshold `delta`: quadratic within `delta`, linear outside.
    Huber {
        /// Where the quadratic part ends (> 0).
        delta: f32,
    },
}

/// What the outputs are trained towards.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// One class per row (for [`Loss::SoftmaxCrossEntropy`]).
    Classes(&'a [u8]),
    /// `rows x outputs` values (for [`Loss::Mse`] and [`Loss::Huber`]).
    Values(&'a [f32]),
}

/// Numerically stable softmax of one row of logits, `out.len() == logits.len()`.
pub fn softmax(logits: &[f32], out: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for (o, &z) in out.iter_mut().zip(logits) {
        *o = libm::expf(z - max);
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// Derivative of the activation expressed through its output `a`.
#[inline]
pub(crate) fn activation_derivative(act: Activation, a: f32) -> f32 {
    match act {
        Activation::Identity => 1.0,
        Activation::Relu => {
            if a > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Tanh => 1.0 - a * a,
        Activation::Sigmoid => a * (1.0 - a),
    }
}

/// Writes `dL/dz` of the output layer into `delta` and returns the loss. `y` holds the
/// output activations (`rows x n`); `scale[b]` is sample `b`'s share of the mean
/// (`w_b / sum w`). Shapes are validated by the caller.
pub(crate) fn loss_and_delta(
    loss: Loss,
    out_act: Activation,
    y: &[f32],
    target: Target<'_>,
    scale: &[f32],
    n: usize,
    delta: &mut [f32],
) -> f32 {
    let mut total = 0.0f64;
    match (loss, target) {
        (Loss::SoftmaxCrossEntropy, Target::Classes(labels)) => {
            let rows = y
                .chunks_exact(n)
                .zip(delta.chunks_exact_mut(n))
                .zip(labels)
                .zip(scale);
            for (((z, d), &label), &s) in rows {
                softmax(z, d);
                let label = usize::from(label);
                // -ln p[label], clamped so a saturated softmax reports a finite loss.
                let p = d[label].max(1e-30);
                total += f64::from(s) * f64::from(-libm::logf(p));
                for (j, dj) in d.iter_mut().enumerate() {
                    let onehot = if j == label { 1.0 } else { 0.0 };
                    *dj = s * (*dj - onehot);
                }
            }
        }
        (Loss::Mse, Target::Values(t)) | (Loss::Huber { .. }, Target::Values(t)) => {
            let inv_n = 1.0 / n as f32;
            for (b, &s) in scale.iter().enumerate() {
                for j in b * n..(b + 1) * n {
                    let e = y[j] - t[j];
                    let (l, g) = match loss {
                        Loss::Huber { delta: h } if e.abs() > h => {
                            (h * (e.abs() - 0.5 * h), if e > 0.0 { h } else { -h })
                        }
                        Loss::Huber { .. } => (0.5 * e * e, e),
                        _ => (e * e, 2.0 * e),
                    };
                    total += f64::from(s) * f64::from(l) * f64::from(inv_n);
                    delta[j] = s * g * inv_n * activation_derivative(out_act, y[j]);
                }
            }
        }
        // Mismatched pairs are rejected by `Batch` validation before we get here.
        _ => delta.iter_mut().for_each(|d| *d = 0.0),
    }
    total as f32
}
