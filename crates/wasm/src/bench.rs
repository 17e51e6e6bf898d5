//! Workload W1 of `shared/bench/WORKLOADS.md` for JavaScript runtimes (feature `bench`, not
//! in the page's build): the core's MLP 32-64-64-3 (ReLU, softmax cross-entropy, Adam lr
//! 1e-3) trained on one sample per step, as `crates/bench/src/workloads.rs::w1` does
//! natively. The timing loop lives in JavaScript (`web/bench/`), so the figure includes the
//! JS -> wasm call of every step. Errors throw like the rest of the package (`name`
//! "TradeloopError", `kind` the core error variant or "InvalidInput").
//!
//! ```js
//! const w = new W1(x, y);          // x: Float32Array rows x 32, y: Uint8Array of classes 0..3
//! w.run(i, 1);                     // one Adam step on sample i mod rows
//! w.step(x.subarray(0, 32), y[0]); // one Adam step on a sample handed over by JS
//! w.accuracy(20000);               // train accuracy on the first n stored rows
//! ```

use tradeloop_core::nn::{
    Activation, Backend, Batch, Init, Loss, Mlp, MlpSpec, OptimConfig, Optimizer, Target, Workspace,
};
use tradeloop_core::rng::SplitMix64;
use wasm_bindgen::prelude::*;

use crate::convert::{core_error, input_error};

const D_IN: usize = 32;
const D_H: u32 = 64;
const D_OUT: usize = 3;

/// The W1 network as `crates/bench/src/data.rs::mlp` builds it: 32-64-64-3, ReLU hidden,
/// logit output, Glorot-uniform weights from `SplitMix64::new(2)`, zero biases (the anchors'
/// portable spec, so every runtime starts from the same bits).
fn w1_net() -> Result<Mlp, tradeloop_core::Error> {
    let spec = MlpSpec {
        sizes: vec![D_IN as u32, D_H, D_H, D_OUT as u32],
        hidden: Activation::Relu,
        output: Activation::Identity,
        init: Init::XavierUniform,
    };
    Mlp::new(spec, &mut SplitMix64::new(2))
}

fn js_err(e: tradeloop_core::Error) -> JsValue {
    core_error(&e)
}

/// `x` holds 32 finite values per label of `y`, and every label is a class 0..3.
fn check_rows(x: &[f32], y: &[u8]) -> Result<(), JsValue> {
    if x.len() != y.len() * D_IN {
        return Err(input_error(format!(
            "x has {} values, expected {} (32 per label)",
            x.len(),
            y.len() * D_IN
        )));
    }
    if let Some(bad) = y.iter().find(|&&c| usize::from(c) >= D_OUT) {
        return Err(input_error(format!("label {bad} is not a class 0..3")));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(input_error(format!("x[{i}] is not finite")));
    }
    Ok(())
}

/// One Adam step of softmax cross-entropy on the single sample `x` with class `label`.
fn adam_step(
    net: &mut Mlp,
    opt: &mut Optimizer,
    ws: &mut Workspace,
    x: &[f32],
    label: u8,
) -> Result<(), JsValue> {
    let y = [label];
    let batch = Batch {
        x,
        rows: 1,
        target: Target::Classes(&y),
        weights: None,
    };
    net.train(ws, opt, &batch, Loss::SoftmaxCrossEntropy, 1.0)
        .map(|_| ())
        .map_err(js_err)
}

/// The W1 learner: network, Adam state, scratch and (optionally) the training rows, so a
/// step needs no data from JavaScript.
#[wasm_bindgen]
pub struct W1 {
    net: Mlp,
    opt: Optimizer,
    ws: Workspace,
    x: Vec<f32>,
    y: Vec<u8>,
    initial_w1_sum: f64,
}

#[wasm_bindgen]
impl W1 {
    /// A fresh W1 network and optimiser. `x` is `rows x 32` row-major, `y` one class (0..3)
    /// per row; both may be empty when every sample comes through [`W1::step`].
    #[wasm_bindgen(constructor)]
    pub fn new(x: &[f32], y: &[u8]) -> Result<W1, JsValue> {
        check_rows(x, y)?;
        let net = w1_net().map_err(js_err)?;
        let opt = Optimizer::new(OptimConfig::adam(1e-3), net.params().len()).map_err(js_err)?;
        let initial_w1_sum = net.params()[..D_IN * D_H as usize]
            .iter()
            .map(|&v| f64::from(v))
            .sum();
        Ok(W1 {
            net,
            opt,
            ws: Workspace::new(Backend::detect()),
            x: x.to_vec(),
            y: y.to_vec(),
            initial_w1_sum,
        })
    }

    /// `steps` Adam steps, step `start + k` on stored row `(start + k) mod rows`.
    pub fn run(&mut self, start: u32, steps: u32) -> Result<(), JsValue> {
        let rows = self.y.len() as u64;
        if rows == 0 {
            return Err(input_error("no stored rows: construct W1 with data".into()));
        }
        for k in 0..u64::from(steps) {
            let s = ((u64::from(start) + k) % rows) as usize;
            let row = &self.x[s * D_IN..(s + 1) * D_IN];
            adam_step(&mut self.net, &mut self.opt, &mut self.ws, row, self.y[s])?;
        }
        Ok(())
    }

    /// One Adam step on the sample `x` (32 values) with class `label`.
    pub fn step(&mut self, x: &[f32], label: u8) -> Result<(), JsValue> {
        adam_step(&mut self.net, &mut self.opt, &mut self.ws, x, label)
    }

    /// Share of the first `n` stored rows whose argmax output is their class.
    pub fn accuracy(&self, n: u32) -> Result<f64, JsValue> {
        let n = n as usize;
        if n == 0 || n > self.y.len() {
            return Err(input_error(format!(
                "n = {n} is not in 1..={} stored rows",
                self.y.len()
            )));
        }
        self.accuracy_of(&self.x[..n * D_IN], &self.y[..n])
    }

    /// Share of the rows of `x` (`rows x 32`) whose argmax output is their class in `y`.
    #[wasm_bindgen(js_name = accuracyOn)]
    pub fn accuracy_on(&self, x: &[f32], y: &[u8]) -> Result<f64, JsValue> {
        if y.is_empty() {
            return Err(input_error("no rows to score".into()));
        }
        check_rows(x, y)?;
        self.accuracy_of(x, y)
    }

    /// Sum (in f64) of the initial first-layer weights: the anchors' `w1_sum` fingerprint.
    #[wasm_bindgen(js_name = initialW1Sum)]
    pub fn initial_w1_sum(&self) -> f64 {
        self.initial_w1_sum
    }

    /// FNV-1a of the current parameters' bits, as 16 hex digits: equal in every runtime
    /// that ran the same steps (the core's kernels give the same bits on every backend).
    #[wasm_bindgen(js_name = paramsHash)]
    pub fn params_hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for v in self.net.params() {
            for b in v.to_bits().to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }

    /// The kernel backend in use (`simd128` in a SIMD build).
    pub fn backend(&self) -> String {
        self.ws.backend().name().into()
    }
}

impl W1 {
    fn accuracy_of(&self, x: &[f32], y: &[u8]) -> Result<f64, JsValue> {
        let mut ws = Workspace::new(self.ws.backend());
        let out = self.net.forward(&mut ws, x, y.len()).map_err(js_err)?;
        let correct = out
            .chunks_exact(D_OUT)
            .zip(y)
            .filter(|(o, c)| {
                let best = (0..D_OUT).fold(0, |b, k| if o[k] > o[b] { k } else { b });
                best == usize::from(**c)
            })
            .count();
        Ok(correct as f64 / y.len() as f64)
    }
}

// Native only: the error paths need a JS engine.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn data(rows: usize) -> (Vec<f32>, Vec<u8>) {
        let mut r = SplitMix64::new(1);
        let x: Vec<f32> = (0..rows * D_IN).map(|_| r.normal() as f32).collect();
        let y = (0..rows).map(|i| (i % D_OUT) as u8).collect();
        (x, y)
    }

    #[test]
    fn starts_from_the_anchors_weights() {
        // shared/bench/RESULTS.md data_check: w1_sum = -1.8999042261057184
        let w = W1::new(&[], &[]).ok().unwrap();
        assert_eq!(w.initial_w1_sum(), -1.8999042261057184);
    }

    #[test]
    fn run_and_step_train_the_same_bits() {
        let (x, y) = data(7);
        let mut a = W1::new(&x, &y).ok().unwrap();
        let mut b = W1::new(&[], &[]).ok().unwrap();
        a.run(3, 20).ok().unwrap();
        for i in 3..23 {
            let s = i % 7;
            b.step(&x[s * D_IN..(s + 1) * D_IN], y[s]).ok().unwrap();
        }
        assert_eq!(a.params_hash(), b.params_hash());
        assert_ne!(
            a.params_hash(),
            W1::new(&[], &[]).ok().unwrap().params_hash()
        );
        let acc = a.accuracy(7).ok().unwrap();
        assert!((0.0..=1.0).contains(&acc));
    }
}
