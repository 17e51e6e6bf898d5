// Browser test of the strategy experiments panel: Debian's Chromium driven by playwright-core.
//
//   node web/tests/strategies.mjs          (after web/build.sh; from anywhere)
//
// Opens the paper-trading page (served from web/ on an ephemeral localhost port, fresh
// profile) and, through the panel, runs the bundled example strategies (buy-and-hold,
// sma-cross, rule, forecast) on the bundled SPY hourly bars with seed 7 in the Worker; every
// trade hash, trade count and total return must equal what the native host prints for the
// same modules, data and seed (`tradeloop experiment ... --json`). Then containment, with
// hand-assembled modules (web/tests/wasm-module.mjs) added through the panel's file input:
// one importing wasi_snapshot_preview1.fd_write and one declaring 128 MiB of memory are
// refused at load, one that buys and then traps and one that buys and then grows its memory
// past the 64 MiB cap are stopped at the bar where the native host stops them (same hashes
// too), one speaking ABI version 2 could not start; the bundled strategies' hashes do not
// change. Last, a module that loops forever: the time budget (10 s) ends the Worker, the
// page reports which strategies were still running, runs each again alone, and the others'
// hashes are still the host's. Exit code 1 on any failure.
//
// Environment: CHROMIUM, TRADELOOP_BIN (see harness.mjs); EXPERIMENT_JSON=FILE reads the
// host's `--json` output of the first run from FILE instead of running the host (then the
// containment run is not compared with the host); KEEP_OPEN=1 (print the URL and wait).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEB, check, eq, host, hostCommand, launch, requireBuilt, runTests, section, serve } from './harness.mjs';
import { T, buy, ifBarFrom, ifBarIs, op, strategyModule } from './wasm-module.mjs';

const BUNDLED = ['buy-and-hold', 'sma-cross', 'rule', 'forecast'];
const SEED = 7;
const DATA = 'web/data/SPY_1h.csv';

/** The hand-made modules: name -> bytes. */
const HOSTILE = {
  wasi: strategyModule({
    imports: [{ module: 'wasi_snapshot_preview1', name: 'fd_write', params: [T.i32, T.i32, T.i32, T.i32], results: [T.i32] }],
  }),
  bigmem: strategyModule({ memory: { min: 2048 } }),
  // Buys 10 units at bar 5 (filled at bar 6), traps from bar 10.
  trap: strategyModule({ onBar: [...ifBarIs(5, buy(10)), ...ifBarFrom(10, op.unreachable)] }),
  // Buys at bar 2, then grows its memory by 4 MiB every bar: past 64 MiB at bar 18.
  hog: strategyModule({ onBar: [...ifBarIs(2, buy(10)), ...ifBarFrom(3, [...op.i32(64), ...op.memoryGrow, ...op.drop])] }),
  abi2: strategyModule({ version: 2 }),
};
/** sma-cross's parameters, in the panel's syntax and as the host's --params file. */
const PARAMS_TEXT = 'fast=5, slow=20.5';
const PARAMS_TOML = '[sma-cross]\nfast = 5\nslow = 20.5\n';
/** Loops forever from bar 50. */
const LOOP = strategyModule({ onBar: ifBarFrom(50, op.forever) });

/**
 * `{ name: { hash, trades, totalReturn, stopped } }` from the host's `--json` output
 * (`series[0].strategies[k]`; `trade_hash` is 16 hex digits).
 */
function hostResults(text) {
  const doc = JSON.parse(text);
  const out = {};
  for (const s of doc.series[0].strategies) {
    out[s.name] = {
      hash: s.trade_hash,
      trades: Array.isArray(s.trades) ? s.trades.length : s.metrics?.trades,
      totalReturn: s.metrics?.total_return,
      stopped: s.stopped ?? null,
    };
  }
  return out;
}

function runHost(paths, extra = []) {
  const args = ['experiment', ...paths.flatMap((p) => ['--strategy', p]), '--data', DATA, '--seed', String(SEED), '--json', ...extra];
  const [cmd, pre] = hostCommand();
  console.log(`  host: ${[cmd, ...pre, ...args].join(' ')}`);
  return hostResults(host(args));
}

/** Waits for the panel's run to end; the page's last result. */
async function runPanel(page, timeout) {
  await page.click('#exp-run');
  await page.waitForFunction(() => document.body.dataset.experiment === 'running', null, { timeout: 10_000 });
  await page.waitForFunction(() => document.body.dataset.experiment !== 'running', null, { timeout });
  return page.evaluate(() => window.tradeloop.experiments.last());
}

/** The results table as `{ name: { trades, hash, stopped, ... } }` (cells' text). */
function table(page) {
  return page.$$eval('#exp-results tbody tr', (rows) =>
    Object.fromEntries(
      rows.map((r) => [
        r.dataset.strategy,
        Object.fromEntries([...r.cells].map((c) => [c.dataset.col, c.textContent])),
      ]),
    ),
  );
}

async function pick(page, names) {
  for (const li of await page.$$('#exp-strategies li')) {
    const name = await li.getAttribute('data-strategy');
    const box = await li.$('input[type=checkbox]');
    if (await box.isDisabled()) continue;
    if ((await box.isChecked()) !== names.includes(name)) await box.click();
  }
}

function compare(browser, expected, names, label) {
  for (const name of names) {
    const b = browser.find((r) => r.name === name);
    const e = expected[name];
    if (!check(b && e, `${label}: ${name} has a result in the page and in the host`)) continue;
    eq(b.trade_hash, e.hash, `${label}: ${name} trade hash ${b.trade_hash} is the host's`);
    eq(b.trades, e.trades, `${label}: ${name} trades (${b.trades})`);
    eq(b.metrics?.total_return, e.totalReturn, `${label}: ${name} total return`);
    eq(b.stopped?.bar ?? null, e.stopped?.bar ?? null, `${label}: ${name} stopped at the host's bar (${b.stopped?.bar ?? '-'})`);
  }
}

async function main() {
  requireBuilt(['index.html', 'app.js', 'strategies.js', 'strategy-worker.js', 'pkg/tradeloop_wasm.js',
    'pkg/tradeloop_wasm_bg.wasm', 'data/SPY_1h.csv', ...BUNDLED.map((n) => `strategies/${n}.wasm`)]);
  mkdirSync(join(WEB, 'test-output'), { recursive: true });
  const scratch = mkdtempSync(join(tmpdir(), 'tradeloop-strategies-'));
  const hostile = Object.entries(HOSTILE).map(([name, bytes]) => {
    const path = join(scratch, `${name}.wasm`);
    writeFileSync(path, bytes);
    return { name, path, bytes };
  });

  section(`0. the native host's results (seed ${SEED}, ${DATA})`);
  let expected;
  let expectedHostile = null;
  let expectedParams = null;
  if (process.env.EXPERIMENT_JSON) {
    expected = hostResults(readFileSync(process.env.EXPERIMENT_JSON, 'utf8'));
    console.log(`  from ${process.env.EXPERIMENT_JSON}`);
  } else {
    const bundledPaths = BUNDLED.map((n) => `web/strategies/${n}.wasm`);
    expected = runHost(bundledPaths);
    expectedHostile = runHost([...bundledPaths, ...hostile.map((h) => h.path)]);
    const params = join(scratch, 'params.toml');
    writeFileSync(params, PARAMS_TOML);
    expectedParams = runHost(bundledPaths.slice(0, 2), ['--params', params]);
  }
  for (const n of BUNDLED) console.log(`  ${n.padEnd(13)} ${expected[n]?.hash} (${expected[n]?.trades} trades)`);
  check(BUNDLED.every((n) => /^[0-9a-f]{16}$/.test(expected[n]?.hash ?? '')), 'the host printed a hash for each bundled strategy');

  const server = await serve(WEB);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await launch();
  const { page, consoleErrors } = browser;
  page.setDefaultTimeout(180_000);
  try {
    section('1. the bundled strategies in the Worker give the host\'s trades');
    await page.goto(url);
    await page.evaluate(() => window.tradeloop.ready);
    eq(await page.evaluate(() => window.tradeloop.state().seriesId), 'SPY_1h', 'the SPY hourly series is selected');
    const listed = await page.$$eval('#exp-strategies li', (li) => li.map((l) => l.dataset.strategy));
    eq(listed, BUNDLED, 'the panel lists the bundled strategies');
    const baseline = await page.$('#exp-strategies li[data-strategy=buy-and-hold] input[type=checkbox]');
    check((await baseline.isChecked()) && (await baseline.isDisabled()), 'buy-and-hold is always included');
    await page.fill('#exp-seed', String(SEED));
    await page.selectOption('#exp-budget', '120');
    const t0 = Date.now();
    const first = await runPanel(page, 180_000);
    console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s in the page, ${first.bars} bars)`);
    check(!first.timedOut, 'the run finished within the budget');
    eq(first.results.map((r) => r.name), BUNDLED, 'a result per strategy, in order');
    compare(first.results, expected, BUNDLED, 'run 1');
    check(first.results.every((r) => r.stopped === null && r.refused === null), 'none stopped');
    const shown = await table(page);
    for (const r of first.results) {
      eq(shown[r.name]?.hash, r.trade_hash, `the table shows ${r.name}'s hash`);
      eq(shown[r.name]?.trades, String(r.trades), `the table shows ${r.name}'s trades`);
    }
    check(BUNDLED.every((n) => /%$/.test(shown[n]?.['total-return'] ?? '') && /%$/.test(shown[n]?.['max-drawdown'] ?? '')),
      'total return and max drawdown shown', JSON.stringify(shown));
    check(/strategies, \d+ bars/.test(await page.textContent('#exp-status')), 'status line reports the run');
    const progress = await page.evaluate(() => window.tradeloop.experiments.progress());
    check(progress.some((p) => p.phase === 'run' && p.bar > 0 && p.bar < p.bars), `progress messages during the run (${progress.length})`);
    await page.locator('#experiments-panel').screenshot({ path: join(WEB, 'test-output', 'strategies-1.png') });

    section('2. parameters reach the module as the host gives them');
    await page.fill('#exp-strategies li[data-strategy=sma-cross] .params', PARAMS_TEXT);
    await pick(page, ['buy-and-hold', 'sma-cross']);
    const withParams = await runPanel(page, 180_000);
    const sma = withParams.results.find((r) => r.name === 'sma-cross');
    check(sma && sma.trade_hash !== expected['sma-cross']?.hash, `other parameters, other trades (${sma?.trades} trades)`);
    if (expectedParams) compare(withParams.results, expectedParams, ['buy-and-hold', 'sma-cross'], 'params');
    await page.fill('#exp-strategies li[data-strategy=sma-cross] .params', 'fast=5, oops');
    await page.click('#exp-run');
    await page.waitForSelector('#error:not([hidden])', { timeout: 10_000 });
    check(/sma-cross: parameter "oops" is not name=number/.test(await page.textContent('#error')),
      'a malformed parameter is shown as an error', await page.textContent('#error'));
    await page.fill('#exp-strategies li[data-strategy=sma-cross] .params', '');

    section('3. containment: refused imports and memory, a trap, a memory hog, another ABI version');
    await pick(page, [...BUNDLED, ...hostile.map((h) => h.name)]);
    await page.setInputFiles('#exp-file', hostile.map((h) => ({ name: `${h.name}.wasm`, mimeType: 'application/wasm', buffer: Buffer.from(h.bytes) })));
    await page.waitForFunction((n) => document.querySelectorAll('#exp-strategies li').length === n, BUNDLED.length + hostile.length);
    const second = await runPanel(page, 180_000);
    const by = Object.fromEntries(second.results.map((r) => [r.name, r]));
    compare(second.results, expected, BUNDLED, 'containment');
    check(/wasi_snapshot_preview1\.fd_write/.test(by.wasi?.refused ?? ''), 'the WASI importer is refused at load, naming the import', by.wasi?.refused);
    check(/^refused at load: /.test(by.wasi?.stopped?.reason ?? ''), 'and stopped at bar 0', JSON.stringify(by.wasi?.stopped));
    check(/2048 pages .* more than the cap of 64 MiB/.test(by.bigmem?.refused ?? ''), 'a module declaring 128 MiB is refused at load', by.bigmem?.refused);
    eq(by.trap?.stopped?.reason, 'trapped: unreachable (a panic?) at bar 10', 'the trapping module is stopped at bar 10');
    eq(by.trap?.trades, 1, 'its position was closed (one trade)');
    eq(by.hog?.stopped?.reason, 'memory cap (64 MiB) reached at bar 18', 'the memory hog is stopped at the cap');
    check(/^could not start: speaks strategy ABI version 2/.test(by.abi2?.stopped?.reason ?? ''), 'ABI version 2 could not start', JSON.stringify(by.abi2?.stopped));
    if (expectedHostile) {
      compare(second.results, expectedHostile, hostile.map((h) => h.name), 'containment vs host');
      // bigmem: refused here before instantiation; natively, instantiating it fails on the
      // memory cap ("could not start"). Either way it never runs and has no trades.
      for (const h of hostile.filter((x) => x.name !== 'bigmem')) {
        const mine = by[h.name]?.stopped?.reason ?? '';
        const theirs = expectedHostile[h.name]?.stopped?.reason ?? '';
        const kind = (s) => s.split(':')[0];
        eq(kind(mine), kind(theirs), `${h.name}: stopped for the host's kind of reason (${kind(theirs)})`);
      }
    }
    check(await page.isHidden('#error'), 'no error shown');
    const shown2 = await table(page);
    check(/wasi_snapshot_preview1\.fd_write/.test(shown2.wasi?.stopped ?? ''), 'the table names the refused import', shown2.wasi?.stopped);
    await page.locator('#experiments-panel').screenshot({ path: join(WEB, 'test-output', 'strategies-2.png') });

    section('4. containment: an endless loop is ended by the time budget; the others keep their hashes');
    for (const n of ['wasi', 'bigmem', 'trap', 'hog', 'abi2']) {
      await page.click(`#exp-strategies li[data-strategy=${n}] [data-testid=exp-remove]`);
    }
    await page.setInputFiles('#exp-file', { name: 'loop.wasm', mimeType: 'application/wasm', buffer: Buffer.from(LOOP) });
    await page.waitForSelector('#exp-strategies li[data-strategy=loop]');
    const chosen = ['buy-and-hold', 'sma-cross', 'loop'];
    await pick(page, chosen);
    await page.selectOption('#exp-budget', '10');
    const t3 = Date.now();
    const third = await runPanel(page, 120_000);
    const took = (Date.now() - t3) / 1000;
    check(third.timedOut === true, `the budget ran out (the whole run took ${took.toFixed(1)} s)`);
    check(third.stillRunning.includes('loop'), `the page reports what was still running: ${third.stillRunning.join(', ')}`);
    eq(third.timedOutAt?.phase, 'run', 'it ran out while running the bars');
    check(third.timedOutAt?.bar >= 0 && third.timedOutAt?.bar <= 50,
      `its last progress message came before the loop at bar 50 (bar ${third.timedOutAt?.bar})`);
    eq(third.results.map((r) => r.name), chosen, 'a row per strategy');
    const loop = third.results.find((r) => r.name === 'loop');
    check(loop?.timedOut === true && loop.trade_hash === null, 'the looping module has no result');
    check(/^time budget of 10 s exceeded \(last progress: bar \d+ of \d+\)$/.test(loop?.stopped?.reason ?? ''),
      'and is reported as over the budget', loop?.stopped?.reason);
    compare(third.results, expected, ['buy-and-hold', 'sma-cross'], 'beside the loop');
    const status = await page.textContent('#exp-status');
    check(/time budget of 10 s ran out .* still running; each strategy ran again alone: loop over the budget/.test(status), 'the status line says so', status);
    const shown3 = await table(page);
    check(/time budget/.test(shown3.loop?.stopped ?? ''), 'the table shows it', shown3.loop?.stopped);
    await page.locator('#experiments-panel').screenshot({ path: join(WEB, 'test-output', 'strategies-3.png') });

    section('console');
    check(consoleErrors.length === 0, 'no console errors', consoleErrors.join('\n'));
  } finally {
    if (process.env.KEEP_OPEN) {
      console.log(`KEEP_OPEN: ${url}`);
      await new Promise(() => {});
    }
    await browser.close();
    server.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await runTests(main);
