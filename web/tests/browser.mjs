// Browser tests of the paper-trading page: Debian's Chromium driven by playwright-core.
//
//   node web/tests/browser.mjs            (after web/build.sh; from anywhere)
//
// Serves web/ with a tiny static server on an ephemeral localhost port, opens the page in a
// fresh Chromium profile and checks: a run of N bars journals trades and updates the panels
// (among them the mixture's 8 expert weights, summing to 1; no console errors); a reload
// restores the same engine snapshot bytes at the same bar and the same expert weights;
// the exported checkpoint decodes in the host (`tradeloop inspect`) and survives the host's
// import/export byte for byte, and imports back into the page; a malformed CSV shows a
// readable error naming the bad line and changes nothing; manual Buy then Close are
// journalled. Screenshots go to web/test-output/*.png. Exit code 1 on any failure.
//
// Environment: CHROMIUM (default /usr/bin/chromium), TRADELOOP_BIN (host binary; default
// target/debug/tradeloop if built, else `cargo run -q -p tradeloop-host --`), BARS (default
// 1500), KEEP_OPEN=1 (print the URL and wait instead of closing; for debugging).

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEB, check, eq, host, launch, requireBuilt, runTests, section, serve } from './harness.mjs';

const OUT = join(WEB, 'test-output');
const BARS = Number(process.env.BARS || 1500);
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

// ------------------------------------------------------------------ page helpers

const MALFORMED_CSV = [
  'timestamp,open,high,low,close,volume',
  '2024-01-02T14:00:00Z,100,101,99,100.5,1000',
  '2024-01-02T15:00:00Z,100.5,102,100,101.5,1200',
  '2024-01-02T16:00:00Z,101.5,abc,100,101,900',
  '2024-01-02T17:00:00Z,101,102,100,101.2,800',
  '',
].join('\n');

/** The experts panel's weights, `[{ name, weight }]` (weight NaN when the text does not parse). */
async function expertWeights(page) {
  const texts = await page.$$eval('#experts-panel [data-testid=expert-weight]', (els) =>
    els.map((el) => el.textContent.trim()),
  );
  return texts.map((t) => {
    const m = /^(\S+)\s+(\d+\.\d{3})$/.exec(t);
    return { name: m ? m[1] : t, weight: m ? Number(m[2]) : NaN };
  });
}

/** Pixels drawn on a canvas (alpha > 0). */
function inked(page, selector) {
  return page.$eval(selector, (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) n += d[i] > 0 ? 1 : 0;
    return n;
  });
}

async function main() {
  requireBuilt(['index.html', 'app.js', 'pkg/tradeloop_wasm.js', 'pkg/tradeloop_wasm_bg.wasm',
    'vendor/lightweight-charts.standalone.production.js', 'data/SPY_1h.csv']);
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });

  const server = await serve(WEB);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await launch({ acceptDownloads: true });
  const { page, consoleErrors } = browser;
  const tl = (fn, arg) => page.evaluate(fn, arg);
  const shot = async (name) => {
    const path = join(OUT, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`  screenshot web/test-output/${name}.png`);
  };

  try {
    // ---------------------------------------------------------------- 1. load and run
    section(`1. load the page, run ${BARS} bars`);
    await page.goto(url);
    const start = await tl(() => window.tradeloop.ready);
    eq(start.restored, false, 'a fresh profile starts without a checkpoint');
    const version = await page.textContent('#version');
    check(/tradeloop-wasm/.test(version), `version shown (${version})`);
    eq(await tl(() => window.tradeloop.state().seriesId), 'SPY_1h', 'the bundled SPY hourly series is loaded');
    check(await page.isHidden('#error'), 'no error shown');

    // play / pause / step through the buttons
    await page.selectOption('#speed', '250');
    await page.click('#play');
    await page.waitForFunction(() => window.tradeloop.state().barIndex >= 30);
    await page.click('#pause');
    const afterPlay = await tl(() => window.tradeloop.state());
    check(!afterPlay.playing && afterPlay.barIndex >= 30, `play then pause replayed ${afterPlay.barIndex} bars`);
    await page.click('#step');
    eq(await tl(() => window.tradeloop.state().barIndex), afterPlay.barIndex + 1, 'step replays one bar');
    eq(await page.textContent('#bar-index'), String(afterPlay.barIndex + 1), 'the bar index is shown');

    const ran = await tl((n) => window.tradeloop.runBars(n), BARS);
    eq(ran, BARS, `runBars(${BARS}) replayed ${BARS} bars`);
    const s1 = await tl(() => window.tradeloop.stats());
    const st1 = await tl(() => window.tradeloop.state());
    check(s1.opened > 10, `the strategy traded (${s1.opened} opened, ${s1.trades.closed} closed)`);
    check(s1.trades.closed > 10, 'trades were closed');
    const journalRows = await page.$$eval('#journal tbody tr', (r) => r.length);
    check(journalRows > 0, `journal table shows trades (${journalRows} rows)`);
    eq(await page.$$eval('#journal tbody tr[data-status=closed]', (r) => r.length) > 0, true,
      'journal table has closed trades');
    eq(await page.textContent('#stat-closed'), String(s1.trades.closed), 'trades total shown');
    const eqPoints = Number(await page.textContent('#equity-points'));
    eq(eqPoints, Math.min(s1.trades.closed, 1000), 'equity curve has a point per closed trade');
    const wrPoints = Number(await page.getAttribute('#winrate-canvas', 'data-points'));
    eq(wrPoints, eqPoints, 'rolling win rate / accuracy has a point per closed trade');
    check(/%$/.test(await page.textContent('#rolling-winrate')), 'rolling win rate shown');
    check(/%$/.test(await page.textContent('#rolling-accuracy')), 'rolling accuracy shown');
    const hist = await tl(() => window.tradeloop.levelHistory().length);
    eq(Number(await page.textContent('#weights-adjustments')), hist, `level weights panel (${hist} adjustments)`);
    eq(hist, s1.levels.adjustments, 'level history matches stats');
    if (s1.levels.seen >= 40) check(hist > 0, 'level weights were adjusted');
    eq(await page.textContent('#epsilon'), s1.exits.epsilon.toFixed(3), 'exit-learner epsilon shown');
    check(s1.exits.epsilon < 0.3, `epsilon decayed from 0.3 (now ${s1.exits.epsilon.toFixed(3)})`);
    const versions = await tl(() => window.tradeloop.versions());
    const vRows = await page.$$eval('#versions tbody tr', (r) => r.length);
    eq(vRows, versions.length, `versions table lists ${versions.length} versions`);
    const shownVersions = await page.$$eval('#versions tbody tr', (rows) =>
      rows.map((r) => ({ id: Number(r.dataset.version), logLoss: r.cells[4].textContent, role: r.cells[6].textContent })),
    );
    const versionById = new Map(versions.map((v) => [v.id, v]));
    const roleOf = (v) =>
      [v.champion && 'champion', v.challenger && 'on trial', v.best && 'best'].filter(Boolean).join(', ');
    check(shownVersions.every((r) => r.role === roleOf(versionById.get(r.id))),
      'versions table roles: champion / on trial / best', JSON.stringify(shownVersions));
    const tried = versions.filter((v) => v.trial);
    const shownLogLoss = (id) => shownVersions.find((r) => r.id === id)?.logLoss;
    check(tried.every((v) => shownLogLoss(v.id) === v.trial.candidate_log_loss.toFixed(4)),
      `tried versions show their trial log-loss (${tried.length} tried)`, JSON.stringify(shownVersions));
    check(s1.signal.created > 1, `the signal model was trained (${s1.signal.created} versions created)`);

    // what the engine trusts: the mixture's expert weights
    check(await page.isVisible('#experts-panel'), 'experts panel shown');
    const w1 = await expertWeights(page);
    eq(w1.length, 8, 'experts panel shows 8 expert weights');
    check(w1.every((w) => w.weight >= 0 && w.weight <= 1), 'expert weights are numbers in [0, 1]', JSON.stringify(w1));
    const wSum = w1.reduce((sum, w) => sum + w.weight, 0);
    check(Math.abs(wSum - 1) < 0.01, `expert weights sum to 1 (${wSum.toFixed(3)})`, JSON.stringify(w1));
    const mix1 = await tl(() => window.tradeloop.mixture());
    eq(w1.map((w) => w.name), mix1.experts.map((e) => e.expert), 'a weight per expert, in the engine\'s order');
    eq(w1.map((w) => w.weight.toFixed(3)), mix1.experts.map((e) => e.weight.toFixed(3)), 'the weights are the engine\'s');
    const mixPoints = Number(await page.getAttribute('#experts-canvas', 'data-points'));
    eq(mixPoints, Math.min(s1.trades.closed + 1, 5000), 'expert weights: a point per closed trade (and the start)');
    const mixInk = await inked(page, '#experts-canvas');
    check(mixInk > 0, `the experts canvas was drawn (${mixInk} pixels)`);
    const mixInfo = await page.textContent('#experts-info');
    if (mix1.rows > 0) {
      const m = /vs running prior ([+-]\d+\.\d{4}) nats\/row \(bound ([+-]\d+\.\d{4})\) over (\d+) rows/.exec(mixInfo);
      check(m && Math.abs(Number(m[1]) - mix1.excess_vs_prior / mix1.rows) < 1e-4 &&
        Math.abs(Number(m[2]) - mix1.bound_vs_prior / mix1.rows) < 1e-4 && Number(m[3]) === mix1.rows,
      'served log-loss vs the running prior shown per row, with its bound', mixInfo);
    } else {
      check(false, 'the mixture scored forecasts', JSON.stringify(mix1));
    }
    check(await page.isHidden('#error'), 'no error shown after the run');

    // persistence: one event per journalled command
    const events = await tl(() => window.tradeloop.events(100000));
    eq(events.length, st1.seq, `IndexedDB holds ${st1.seq} events`);
    const opens = events.filter((e) => e.kind === 'open').length;
    const closes = events.filter((e) => e.kind === 'close').length;
    eq([opens, closes], [s1.opened, s1.trades.closed], 'one open / close event per trade');
    const firstOpen = events.find((e) => e.kind === 'open');
    check(firstOpen && firstOpen.command.Open && firstOpen.command.Open.features.length === 32,
      'events store the command in its JSON shape', JSON.stringify(firstOpen?.command).slice(0, 200));
    check(events.every((e, i) => e.seq === i + 1), 'event seqs are 1..n');
    await shot('01-after-run');

    // ---------------------------------------------------------------- 2. reload
    section('2. reload restores the same state');
    const before = await tl(async () => ({
      sha: await window.tradeloop.snapshotSha256(),
      trader: await window.tradeloop.sha256(window.tradeloop.traderSnapshot()),
      state: window.tradeloop.state(),
    }));
    await page.reload();
    const again = await tl(() => window.tradeloop.ready);
    eq(again.restored, true, 'the page restored a checkpoint');
    const after = await tl(async () => ({
      sha: await window.tradeloop.snapshotSha256(),
      trader: await window.tradeloop.sha256(window.tradeloop.traderSnapshot()),
      state: window.tradeloop.state(),
    }));
    eq(after.sha, before.sha, 'engine snapshot bytes are identical after the reload (sha-256)');
    eq(after.trader, before.trader, 'trader snapshot bytes are identical after the reload');
    eq(after.state.barIndex, before.state.barIndex, `same bar index (${before.state.barIndex})`);
    eq(after.state.seq, before.state.seq, 'same event count');
    eq(await page.textContent('#bar-index'), String(before.state.barIndex), 'bar index shown');
    eq(Number(await page.textContent('#equity-points')), eqPoints, 'panels rebuilt from the restored engine');
    const w2 = await expertWeights(page);
    eq(w2.length, 8, 'a reload keeps showing 8 expert weights');
    eq(w2, w1, 'the same expert weights after the reload');
    // The weights history is not persisted: it restarts from the restored engine's weights.
    const mixRestored = Number(await page.getAttribute('#experts-canvas', 'data-points'));
    check(mixRestored >= 1, `the experts chart restarts from the restored weights (${mixRestored} points)`);
    const more = await tl(() => window.tradeloop.runBars(300));
    eq(more, 300, 'continues 300 more bars');
    eq(await tl(() => window.tradeloop.state().barIndex), before.state.barIndex + 300, 'from the restored bar');
    const s2 = await tl(() => window.tradeloop.stats());
    check(s2.opened >= s1.opened, `still trading (${s2.opened} opened)`);

    // ---------------------------------------------------------------- 3. export / host / import
    section('3. export a checkpoint; the host reads it, imports and exports it; import it back');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    check(/^tradeloop-\d{4}-\d{2}-\d{2}\.tlc$/.test(download.suggestedFilename()),
      `download named ${download.suggestedFilename()}`);
    const file = join(OUT, download.suggestedFilename());
    await download.saveAs(file);
    const exported = readFileSync(file);
    const pageBytes = Buffer.from(await tl(() => Array.from(window.tradeloop.snapshot())));
    eq(sha256(exported), sha256(pageBytes), `exported file (${exported.length} bytes) == engine snapshot`);
    const s3 = await tl(() => window.tradeloop.stats());
    const lh3 = await tl(() => window.tradeloop.levelHistory().length);

    let dto = null;
    try {
      const doc = JSON.parse(host(['inspect', file, '--json']));
      dto = doc.base ?? doc; // schema 3: { base, ranking }
    } catch (e) {
      check(false, 'tradeloop inspect decodes the exported file', e.stderr || e.message);
    }
    if (dto) {
      check(true, 'tradeloop inspect decodes the exported file');
      eq(dto.journal.next_id - 1, s3.opened, `inspect: trades opened (${s3.opened})`);
      eq(dto.journal.closed.length, Math.min(s3.trades.closed, 1000), 'inspect: closed trades kept');
      eq(dto.journal.open.length, s3.open, 'inspect: open trades');
      eq(dto.lifecycle.champion, s3.signal.champion, `inspect: champion v${s3.signal.champion}`);
      eq(dto.levels.seen, s3.levels.seen, 'inspect: level trades seen');
      eq(dto.levels.history.length, lh3, 'inspect: level history');
      eq(dto.exits.trainings, s3.exits.trainings, 'inspect: exit trainings');
      check(Math.abs(dto.exits.epsilon - s3.exits.epsilon) < 1e-6, 'inspect: exit epsilon',
        `${dto.exits.epsilon} vs ${s3.exits.epsilon}`);
    }

    const state = mkdtempSync(join(tmpdir(), 'tradeloop-state-'));
    rmSync(state, { recursive: true, force: true });
    const roundTrip = join(OUT, 'host-export.tlc');
    let hostOk = false;
    try {
      host(['--state', state, 'import', file]);
      host(['--state', state, 'export', roundTrip]);
      hostOk = true;
    } catch (e) {
      check(false, 'tradeloop --state DIR import FILE / export OUT', e.stderr || e.message);
    }
    if (hostOk) {
      const back = readFileSync(roundTrip);
      eq(sha256(back), sha256(exported), `host import + export gives the same bytes (${back.length})`);
      await page.setInputFiles('#import-file', roundTrip);
      await page.waitForFunction(() => window.tradeloop.state().seq > 0 && document.querySelector('#error').hidden);
      await tl(() => window.tradeloop.flush());
      const imported = await tl(() => window.tradeloop.snapshotSha256());
      eq(imported, sha256(back), 'importing the host export into the page gives the same snapshot bytes');
      const ev = await tl(() => window.tradeloop.events(1));
      eq(ev[0]?.kind, 'import', 'the import is journalled');
      await page.reload();
      await tl(() => window.tradeloop.ready);
      eq(await tl(() => window.tradeloop.snapshotSha256()), imported, 'the imported engine survives a reload');
    }
    rmSync(state, { recursive: true, force: true });

    // a corrupt checkpoint is refused with a readable error
    const corrupt = Buffer.from(exported);
    corrupt[corrupt.length >> 1] ^= 0xff;
    const shaBefore = await tl(() => window.tradeloop.snapshotSha256());
    await page.setInputFiles('#import-file', { name: 'corrupt.tlc', mimeType: 'application/octet-stream', buffer: corrupt });
    await page.waitForSelector('#error:not([hidden])');
    const corruptMsg = await page.textContent('#error');
    check(/corrupt\.tlc/.test(corruptMsg), 'a corrupt checkpoint is refused', corruptMsg);
    console.log(`       (${corruptMsg.replace(/\n/g, ' | ')})`);
    eq(await tl(() => window.tradeloop.snapshotSha256()), shaBefore, 'the engine is unchanged');

    // ---------------------------------------------------------------- 4. malformed CSV
    section('4. a malformed CSV shows a readable error and changes nothing');
    const pre = await tl(async () => ({ sha: await window.tradeloop.snapshotSha256(), state: window.tradeloop.state() }));
    await page.setInputFiles('#csv-file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(MALFORMED_CSV) });
    await page.waitForFunction(() => /line/.test(document.querySelector('#error').textContent));
    const msg = await page.textContent('#error');
    check(await page.isVisible('#error'), '#error is visible');
    eq(await page.getAttribute('#error', 'role'), 'alert', '#error has role=alert');
    check(/line 4\b/.test(msg) && /high/.test(msg) && /abc/.test(msg), 'the error names line 4, the column and the value', msg);
    console.log(`       (${msg.replace(/\n/g, ' | ')})`);
    const post = await tl(async () => ({ sha: await window.tradeloop.snapshotSha256(), state: window.tradeloop.state() }));
    eq(post.sha, pre.sha, 'engine unchanged');
    eq(post.state, pre.state, 'series, bar index and events unchanged');
    await shot('04-malformed-csv');

    // a good user CSV is accepted
    const good = MALFORMED_CSV.replace('101.5,abc,100,101', '101.5,102,100,101');
    await page.setInputFiles('#csv-file', { name: 'TEST_1h.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
    await page.waitForFunction(() => window.tradeloop.state().seriesId === 'user');
    check(await page.isHidden('#error'), 'a valid CSV loads without error');
    eq(await tl(() => window.tradeloop.state().bars), 4, 'the user series has 4 bars');
    await page.selectOption('#series', 'SPY_1h');
    await page.waitForFunction(() => window.tradeloop.state().seriesId === 'SPY_1h');
    check(true, 'back to SPY hourly');

    // ---------------------------------------------------------------- 5. manual trades
    section('5. manual Buy then Close are journalled');
    await tl(() => window.tradeloop.runBars(120));
    const m0 = await tl(() => ({ stats: window.tradeloop.stats(), state: window.tradeloop.state() }));
    await page.click('#buy');
    await page.waitForFunction(() => window.tradeloop.state().manualTrade !== null);
    check(await page.isHidden('#error'), 'Buy succeeded', await page.textContent('#error'));
    const mid = await tl(() => window.tradeloop.state().manualTrade);
    const openRow = await page.$(`#journal tbody tr[data-trade="${mid}"][data-status=open]`);
    check(openRow !== null, `manual trade #${mid} shown open in the journal`);
    const stopLine = await page.textContent('#position');
    check(/manual long/.test(stopLine), `position shown (${stopLine})`);
    await shot('05-manual-open');
    await page.click('#close');
    await page.waitForFunction(() => window.tradeloop.state().manualTrade === null);
    await tl(() => window.tradeloop.flush());
    const m1 = await tl(() => ({ stats: window.tradeloop.stats(), state: window.tradeloop.state() }));
    const rec = await tl((id) => window.tradeloop.engine.trade(id), mid);
    eq(rec.side, 'Long', 'the manual trade is long');
    eq(rec.close?.reason, 'Manual', 'closed with reason Manual');
    eq(m1.stats.opened, m0.stats.opened + 1, 'one more trade opened');
    eq(m1.state.seq, m0.state.seq + 2, 'two more events journalled');
    const last2 = await tl(() => window.tradeloop.events(2));
    eq(last2.map((e) => e.kind), ['open', 'close'], 'events: open, close');
    eq(last2[1].command.Close?.trade_id, mid, 'the close event names the trade');
    check(await page.$(`#journal tbody tr[data-trade="${mid}"][data-status=closed]`) !== null, 'journal row closed');

    // Sell: the exit learner's stop/target close it as the replay goes on
    await page.click('#sell');
    await page.waitForFunction(() => window.tradeloop.state().manualTrade !== null);
    const sid = await tl(() => window.tradeloop.state().manualTrade);
    await tl(() => window.tradeloop.runBars(400));
    const srec = await tl((id) => window.tradeloop.engine.trade(id), sid);
    check(srec.side === 'Short' && srec.close && ['Stop', 'Target'].includes(srec.close.reason),
      `manual short #${sid} closed by the page at its ${srec.close?.reason ?? '(still open)'}`);

    // ---------------------------------------------------------------- versions: promote / rollback
    section('versions: promote and rollback');
    const vs = await tl(() => window.tradeloop.versions());
    const champ = vs.find((v) => v.champion);
    const other = vs.filter((v) => !v.champion).sort((a, b) => b.id - a.id)[0];
    if (other) {
      const seqBefore = await tl(() => window.tradeloop.state().seq);
      await page.click(`#versions button[data-action=promote][data-version="${other.id}"]`);
      await page.waitForFunction((id) => window.tradeloop.stats().signal.champion === id, other.id);
      check(await page.isHidden('#error'), `Promote v${other.id}`, await page.textContent('#error'));
      eq(await page.getAttribute('#versions tbody tr.champion', 'data-version'), String(other.id), 'table marks the champion');
      await page.click('#rollback');
      await page.waitForFunction((id) => window.tradeloop.stats().signal.champion === id, champ.id);
      check(true, `Rollback back to v${champ.id}`);
      await tl(() => window.tradeloop.flush());
      const evs = await tl(() => window.tradeloop.events(2));
      eq(evs.map((e) => e.kind), ['promote', 'rollback'], 'promote and rollback journalled');
      eq(await tl(() => window.tradeloop.state().seq), seqBefore + 2, 'two events');
    } else {
      check(false, 'a non-champion version to promote', JSON.stringify(vs));
    }

    // ---------------------------------------------------------------- 6. screenshots
    section('6. screenshots');
    await tl(() => window.tradeloop.runBars(200));
    await shot('06-final');
    await page.setViewportSize({ width: 900, height: 900 });
    await shot('06-narrow');
    await page.setViewportSize({ width: 1400, height: 900 });

    // Reset clears IndexedDB
    section('reset');
    await page.click('#reset');
    await page.waitForFunction(() => window.tradeloop.state().barIndex === 0 && window.tradeloop.state().seq === 0);
    eq(await tl(() => window.tradeloop.events(10)).then((e) => e.length), 0, 'Reset clears the events');
    eq(await tl(() => window.tradeloop.stats().opened), 0, 'and starts a fresh engine');
    await page.reload();
    eq((await tl(() => window.tradeloop.ready)).restored, false, 'a reload after Reset finds no checkpoint');

    section('console');
    check(consoleErrors.length === 0, 'no console errors', consoleErrors.join('\n'));
  } finally {
    if (process.env.KEEP_OPEN) {
      console.log(`KEEP_OPEN: ${url}`);
      await new Promise(() => {});
    }
    await browser.close();
    server.close();
  }
}

await runTests(main);
