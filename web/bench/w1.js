// W1 (online update, batch 1) for every JavaScript runtime of the bench: tradeloop-wasm and
// TensorFlow.js (cpu and wasm backends), in node and in Chromium. Plain ES module, no imports:
// the caller (w1-node.mjs or page.html) hands in the loaded libraries.
//
// Workload (shared/bench/WORKLOADS.md, W1): MLP 32 -> 64 -> 64 -> 3, ReLU hidden, softmax
// cross-entropy, Adam lr 1e-3 (beta1 0.9, beta2 0.999, eps 1e-8), ONE sample per step, f32.
// Step i (warm-up = the first `warmup` steps) trains on sample i mod 20,000.
//
// Data and initial weights: the anchors' portable spec (shared/bench/anchors/common.py and
// common.js, rebuilt here line for line): SplitMix64 + Box-Muller, data seed 1, MLP seed 2,
// Glorot-uniform weights [in, out] row-major, zero biases. `fingerprint()` must print the
// anchors' data_check: x_sum 1147.444578926219, x00 -1.6595755815505981,
// y_counts [7312, 6758, 5930], w1_sum -1.8999042261057184.

export const N_SAMPLES = 20000;
export const D_IN = 32;
export const D_H = 64;
export const D_OUT = 3;
export const LR = 1e-3;
export const BETA1 = 0.9;
export const BETA2 = 0.999;
export const EPS = 1e-8;

/** The anchors' fingerprint (shared/bench/RESULTS.md, data_check). */
export const EXPECTED_FINGERPRINT = {
  x_sum: 1147.444578926219,
  x00: -1.6595755815505981,
  y_counts: [7312, 6758, 5930],
  w1_sum: -1.8999042261057184,
};

/** Workload sizes: the spec's, or a smoke run (figures not meaningful). */
export const SIZES = {
  spec: { warmup: 1000, steps: 20000, reps: 3 },
  quick: { warmup: 50, steps: 500, reps: 1 },
};

export class SplitMix64 {
  constructor(seed) { this.state = BigInt.asUintN(64, BigInt(seed)); }
  next() {
    this.state = BigInt.asUintN(64, this.state + 0x9E3779B97F4A7C15n);
    let z = this.state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94D049BB133111EBn);
    return z ^ (z >> 31n);
  }
  uniform() { return Number(this.next() >> 11n) * 2 ** -53; }
  normal() {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** X (n x 32 f32), y (class per row, as Uint8Array for the wasm binding and Int32Array for
 * comparisons), Y1h (one-hot n x 3, what TF.js trains on). */
export function makeDataset(n = N_SAMPLES) {
  const r = new SplitMix64(1);
  const M = new Float32Array(D_IN * D_OUT);
  for (let i = 0; i < M.length; i++) M[i] = r.normal();
  const X = new Float32Array(n * D_IN);
  for (let i = 0; i < X.length; i++) X[i] = r.normal();
  const y = new Uint8Array(n);
  const Y1h = new Float32Array(n * D_OUT);
  for (let i = 0; i < n; i++) {
    let best = -Infinity, arg = 0;
    for (let k = 0; k < D_OUT; k++) {
      let s = 0;
      for (let j = 0; j < D_IN; j++) s += X[i * D_IN + j] * M[j * D_OUT + k];
      if (s > best) { best = s; arg = k; }
    }
    y[i] = arg;
    Y1h[i * D_OUT + arg] = 1;
  }
  return { X, y, Y1h, n };
}

function glorot(r, fanIn, fanOut) {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  const w = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < w.length; i++) w[i] = (2 * r.uniform() - 1) * a;
  return w;
}

export function initMlp() {
  const r = new SplitMix64(2);
  const W1 = glorot(r, D_IN, D_H), W2 = glorot(r, D_H, D_H), W3 = glorot(r, D_H, D_OUT);
  return { W1, b1: new Float32Array(D_H), W2, b2: new Float32Array(D_H), W3, b3: new Float32Array(D_OUT) };
}

export function fingerprint(d, p) {
  let xs = 0; for (let i = 0; i < d.X.length; i++) xs += d.X[i];
  let ws = 0; for (let i = 0; i < p.W1.length; i++) ws += p.W1[i];
  const counts = [0, 0, 0]; for (let i = 0; i < d.y.length; i++) counts[d.y[i]]++;
  return { x_sum: xs, x00: d.X[0], y_counts: counts, w1_sum: ws };
}

/** Throws unless `fp` equals the anchors' fingerprint bit for bit. */
export function checkFingerprint(fp) {
  const e = EXPECTED_FINGERPRINT;
  const ok = fp.x_sum === e.x_sum && fp.x00 === e.x00 && fp.w1_sum === e.w1_sum
    && fp.y_counts.every((c, k) => c === e.y_counts[k]);
  if (!ok) throw new Error(`data fingerprint ${JSON.stringify(fp)} != anchors' ${JSON.stringify(e)}`);
}

// ---- runtimes --------------------------------------------------------------------------
// Each runtime is { name, newModel(), step(m, i), sync(m), accuracy(m, n), dispose(m) }:
// newModel() starts from the W1 initial weights; step(m, i) trains on sample i mod N.

/** tradeloop-wasm, one JS -> wasm call per step carrying the sample (`W1.step(x, label)`),
 * as an online learner in the page feeds it: the closest match to TF.js's per-step call. */
export function tradeloopStep(mod, d) {
  return {
    newModel() {
      // An empty training set: this variant hands each sample over in step().
      return new mod.W1(new Float32Array(0), new Uint8Array(0));
    },
    step(m, i) {
      const j = i % d.n;
      m.step(d.X.subarray(j * D_IN, (j + 1) * D_IN), d.y[j]);
    },
    sync() {},
    accuracy(m, n) { return m.accuracyOn(d.X.subarray(0, n * D_IN), d.y.subarray(0, n)); },
    dispose(m) { m.free(); },
  };
}

/** tradeloop-wasm with the samples copied into wasm once; `W1.run(i, 1)` per step (the
 * loop stays in JS, no sample crosses the boundary). */
export function tradeloopRun(mod, d) {
  return {
    newModel() { return new mod.W1(d.X, d.y); },
    step(m, i) { m.run(i, 1); },
    sync() {},
    accuracy(m, n) { return m.accuracy(n); },
    dispose(m) { m.free(); },
  };
}

/** TensorFlow.js core API, exactly as shared/bench/anchors/train_tfjs.js: tf.variable +
 * tf.train.adam().minimize, the input tensors built from Float32Array views each step. */
export function tfjs(tf, d) {
  const forward = (v, x) => {
    const h1 = tf.relu(tf.add(tf.matMul(x, v.W1), v.b1));
    const h2 = tf.relu(tf.add(tf.matMul(h1, v.W2), v.b2));
    return tf.add(tf.matMul(h2, v.W3), v.b3);
  };
  return {
    newModel() {
      const p = initMlp();
      const mk = (t) => { const v = tf.variable(t); t.dispose(); return v; };
      const vars = {
        W1: mk(tf.tensor2d(p.W1, [D_IN, D_H])), b1: mk(tf.tensor1d(p.b1)),
        W2: mk(tf.tensor2d(p.W2, [D_H, D_H])), b2: mk(tf.tensor1d(p.b2)),
        W3: mk(tf.tensor2d(p.W3, [D_H, D_OUT])), b3: mk(tf.tensor1d(p.b3)),
      };
      const varList = [vars.W1, vars.b1, vars.W2, vars.b2, vars.W3, vars.b3];
      return { vars, varList, opt: tf.train.adam(LR, BETA1, BETA2, EPS) };
    },
    step(m, i) {
      const j = i % d.n;
      tf.tidy(() => {
        const x = tf.tensor2d(d.X.subarray(j * D_IN, (j + 1) * D_IN), [1, D_IN]);
        const y = tf.tensor2d(d.Y1h.subarray(j * D_OUT, (j + 1) * D_OUT), [1, D_OUT]);
        m.opt.minimize(() => tf.losses.softmaxCrossEntropy(y, forward(m.vars, x)), false, m.varList);
      });
    },
    sync(m) { m.vars.W1.dataSync(); },
    accuracy(m, n) {
      const pred = tf.tidy(() => forward(m.vars, tf.tensor2d(d.X.subarray(0, n * D_IN), [n, D_IN])).argMax(1).dataSync());
      let ok = 0;
      for (let i = 0; i < n; i++) if (pred[i] === d.y[i]) ok++;
      return ok / n;
    },
    dispose(m) { m.opt.dispose(); m.varList.forEach((v) => v.dispose()); },
  };
}

/** Builds the dataset, checks its fingerprint against the peers', loads `runtime` with
 * `load(runtime, dataset, pkg)` (the page and node each load modules their own way) and
 * checks tradeloop-wasm's initial weights. Returns the repetition driver and what to report. */
export async function prepare(load, { runtime, sizes, pkg = 'pkg' }, now) {
  const d = makeDataset();
  const fp = fingerprint(d, initMlp());
  checkFingerprint(fp);
  const { rt, version, detail, wasmW1Sum } = await load(runtime, d, pkg);
  if (wasmW1Sum !== undefined && wasmW1Sum !== fp.w1_sum) {
    throw new Error(`tradeloop-wasm initial W1 sum ${wasmW1Sum} != ${fp.w1_sum}`);
  }
  return { rep: new Rep(rt, sizes, now), fingerprint: fp, version, detail };
}

/** One repetition in three phases so the caller can apply the load gate between warm-up and
 * the timed steps (as the native bench does). `now` returns milliseconds. */
export class Rep {
  constructor(rt, sizes, now) { this.rt = rt; this.sizes = sizes; this.now = now; }
  warm() {
    this.m = this.rt.newModel();
    for (let i = 0; i < this.sizes.warmup; i++) this.rt.step(this.m, i);
    this.rt.sync(this.m);
  }
  /** The timed steps; returns seconds. */
  timed() {
    const { warmup, steps } = this.sizes;
    const t0 = this.now();
    for (let i = warmup; i < warmup + steps; i++) this.rt.step(this.m, i);
    this.rt.sync(this.m);
    return (this.now() - t0) / 1000;
  }
  /** Train accuracy on the first `n` samples (and, for tradeloop, a hash of the trained
   * parameters' bits), then frees the model. */
  finish(n) {
    const accuracy = this.rt.accuracy(this.m, n);
    const paramsHash = typeof this.m.paramsHash === 'function' ? this.m.paramsHash() : null;
    this.rt.dispose(this.m);
    this.m = null;
    return { accuracy, paramsHash };
  }
}
