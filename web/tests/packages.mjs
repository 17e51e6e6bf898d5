// The two browser packages in node: what the lean one (web/pkg, the paper-trading page's)
// leaves out, and that both compute the same bytes.
//
//   node web/tests/packages.mjs        (after web/build.sh)
//
// Checks: web/pkg has no strategy backtests, inspectCheckpoint or Engine.rank, and web/pkg-full
// has them; both restore the schema-4 golden checkpoints to the same snapshot bytes; the lean
// package refuses the schema 1-3 fixtures with a TradeloopError (kind "Checkpoint",
// checkpoint "Invalid", naming `tradeloop import`) and changes nothing, while the full one
// upgrades them, and the lean package then restores the upgraded bytes exactly; the same
// commands give the same snapshot bytes in both. Exit code 1 on any failure.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, WEB, check, eq, requireBuilt, runTests, section } from './harness.mjs';

const FIXTURES = join(ROOT, 'crates', 'core', 'tests', 'fixtures');
const sha = (b) => createHash('sha256').update(b).digest('hex');

async function load(dir) {
  const mod = await import(pathToFileURL(join(WEB, dir, 'tradeloop_wasm.js')).href);
  mod.initSync({ module: readFileSync(join(WEB, dir, 'tradeloop_wasm_bg.wasm')) });
  return mod;
}

/** The same few commands on a fresh engine; its snapshot. */
function script(tl) {
  const e = new tl.Engine({ replay: { capacity: 64 } }, 7n, 1_700_000_000_000);
  const features = Array.from({ length: 32 }, (_, i) => Math.sin(i));
  for (let k = 0; k < 5; k++) {
    const t = 1_700_000_000_000 + k * 3_600_000;
    const o = e.open({ symbol: 'SPY', side: 'Long', price: 100 + k, size: 1, features, level: null, exits: null }, t);
    e.close({ trade_id: o.trade_id, price: 100 + k + (k % 2 ? 1 : -1), reason: 'Target' }, t + 60_000);
  }
  const bytes = e.snapshot();
  e.free();
  return bytes;
}

async function main() {
  requireBuilt(['pkg/tradeloop_wasm.js', 'pkg/tradeloop_wasm_bg.wasm',
    'pkg-full/tradeloop_wasm.js', 'pkg-full/tradeloop_wasm_bg.wasm']);
  // Each package is its own ES module with its own wasm instance.
  const lean = await load('pkg');
  const full = await load('pkg-full');

  section('what each package has');
  for (const name of ['BacktestFeed', 'StrategyRun', 'inspectCheckpoint']) {
    eq(typeof lean[name], 'undefined', `web/pkg has no ${name}`);
    eq(typeof full[name], 'function', `web/pkg-full has ${name}`);
  }
  eq(typeof lean.Engine.prototype.rank, 'undefined', 'web/pkg has no Engine.rank');
  eq(typeof full.Engine.prototype.rank, 'function', 'web/pkg-full has Engine.rank');
  for (const name of ['Engine', 'PaperTrader', 'parseCsv', 'defaultConfig', 'version']) {
    check(typeof lean[name] === 'function' && typeof full[name] === 'function', `both have ${name}`);
  }
  eq(lean.version(), full.version(), 'same version()');

  section('the same commands give the same bytes');
  eq(sha(script(lean)), sha(script(full)), 'snapshot sha256, lean = full');

  section('schema 4 golden checkpoints restore in both');
  for (const f of ['small', 'default']) {
    const bytes = readFileSync(join(FIXTURES, 'v4', `${f}.ckpt`));
    const a = lean.Engine.restore(bytes);
    const b = full.Engine.restore(bytes);
    eq(sha(a.snapshot()), sha(b.snapshot()), `v4/${f}: lean and full snapshots equal`);
    eq(sha(a.snapshot()), sha(bytes), `v4/${f}: snapshot = the fixture's bytes`);
    a.free();
    b.free();
  }

  section('schemas 1-3: the lean package refuses them, the full one upgrades them');
  for (const v of ['v1', 'v2', 'v3']) {
    for (const f of ['small', 'default']) {
      const bytes = readFileSync(join(FIXTURES, v, `${f}.ckpt`));
      let thrown = null;
      try {
        lean.Engine.restore(bytes);
      } catch (e) {
        thrown = e;
      }
      check(thrown instanceof Error, `${v}/${f}: lean restore throws`);
      eq(thrown?.name, 'TradeloopError', `${v}/${f}: name`);
      eq(thrown?.kind, 'Checkpoint', `${v}/${f}: kind`);
      eq(thrown?.checkpoint, 'Invalid', `${v}/${f}: checkpoint`);
      check(/tradeloop import/.test(thrown?.message ?? ''), `${v}/${f}: the message says how to upgrade`);
      const upgraded = full.Engine.restore(bytes);
      const now = upgraded.snapshot();
      upgraded.free();
      const again = lean.Engine.restore(now);
      eq(sha(again.snapshot()), sha(now), `${v}/${f}: the full package's upgrade restores in the lean one byte for byte`);
      again.free();
    }
  }
}

runTests(main);
