// One W1 runtime in its own node process, driven by run.mjs over the fork() IPC channel:
//   prepare {runtime, sizes} -> {fingerprint, version, detail}; warm; timed -> seconds;
//   finish {n} -> accuracy; every reply is {id, ok, result | error}.
// Runtimes: tradeloop-step, tradeloop-run (web/bench/pkg, the `bench` build of
// tradeloop-wasm), tfjs-wasm, tfjs-cpu (@tensorflow/tfjs 4.22.0 = core + gradients + cpu
// backend, and @tensorflow/tfjs-backend-wasm 4.22.0, from web/bench/node_modules).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import * as w1 from './w1.js';

const require = createRequire(import.meta.url);
const here = new URL('.', import.meta.url);

let rep = null;

async function load(runtime, d, pkg) {
  if (runtime.startsWith('tradeloop')) {
    const mod = await import(new URL(`${pkg}/tradeloop_wasm.js`, here));
    await mod.default({ module_or_path: readFileSync(new URL(`${pkg}/tradeloop_wasm_bg.wasm`, here)) });
    const rt = runtime === 'tradeloop-step' ? w1.tradeloopStep(mod, d) : w1.tradeloopRun(mod, d);
    // The wasm side builds its own initial network (core nn::Mlp, seed 2): it must match.
    const probe = new mod.W1(new Float32Array(0), new Uint8Array(0));
    const w1Sum = probe.initialW1Sum();
    const backend = probe.backend();
    probe.free();
    return { rt, version: typeof mod.version === 'function' ? mod.version() : 'tradeloop-wasm (no version())', detail: `kernels ${backend}`, wasmW1Sum: w1Sum };
  }
  // The union package, as the anchors (train_tfjs.js) use it: tfjs-core alone cannot train
  // (no gradient functions are registered; @tensorflow/tfjs registers them).
  const tf = require('@tensorflow/tfjs');
  let detail = '';
  if (runtime === 'tfjs-wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
    await tf.ready();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    detail = `SIMD ${simd}, threads ${wasm.getThreadsCount()}`;
  } else {
    if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend failed to initialise');
    await tf.ready();
  }
  return { rt: w1.tfjs(tf, d), version: `tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`, detail };
}

const handlers = {
  async prepare(args) {
    const p = await w1.prepare(load, args, () => performance.now());
    rep = p.rep;
    const engine = `node ${process.version} (V8 ${process.versions.v8})`;
    return { fingerprint: p.fingerprint, version: p.version, detail: p.detail, engine };
  },
  warm() { rep.warm(); return null; },
  timed() { return rep.timed(); },
  finish({ n }) { return rep.finish(n); },
};

process.on('message', async ({ id, cmd, args }) => {
  try {
    const result = await handlers[cmd](args || {});
    process.send({ id, ok: true, result });
  } catch (e) {
    process.send({ id, ok: false, error: String(e && e.stack || e) });
  }
});
process.send({ ready: true });
