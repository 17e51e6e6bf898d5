// Persistence tests of the paper-trading page (event log + periodic checkpoint, web/db.js):
// Debian's Chromium driven by playwright-core.
//
//   node web/tests/persistence.mjs        (after web/build.sh; from anywhere)
//
// Checks: (a) after a run with several checkpoints and a tail of events after the last one
// (strategy, manual and page events, a manual trade left open), a reload replays the tail and
// gives the same engine and trader snapshot bytes (sha-256), bar index and event count;
// (b) the same across a reload right after a periodic checkpoint (nothing to replay), and
// after a series switch (written with its checkpoint) and a run on the new series;
// (c) with the origin's quota made small (CDP Storage.overrideQuotaForOrigin) writes fail:
// the storage-full banner says how many events are not saved, IndexedDB holds none of them,
// the replay pauses, and the events stay in order in memory; with some room Retry saves them
// all; when the room runs out mid-run IndexedDB holds exactly the events counted as saved;
// once the quota is lifted Retry saves the rest, and a reload restores the exact bytes;
// (d) the bytes written per event,
// new scheme against the old one (a checkpoint with every event), printed and compared.
// Exit code 1 on any failure.
//
// Environment: CHROMIUM (default /usr/bin/chromium), BARS (default 2500; the run of (a)).

import { WEB, check, eq, launch, requireBuilt, runTests, section, serve } from './harness.mjs';

const BARS = Number(process.env.BARS || 2500);
/** Bars per chunk of the run of (a): the old scheme's checkpoint size is sampled after each. */
const CHUNK = 100;
/** A quota that holds the empty database but not its first checkpoint (~50 KB). */
const TINY_QUOTA = 24 * 1024;
/** Room given back after that: a few checkpoints' worth, used up by a longer run. */
const ROOM = 200 * 1024;

// ------------------------------------------------------------------ page helpers

/** What IndexedDB holds, read without the page's code: the checkpoint's seq and every event. */
function dbDump(page) {
  return page.evaluate(async () => {
    const db = await new Promise((ok, ko) => {
      const r = indexedDB.open('tradeloop');
      r.onsuccess = () => ok(r.result);
      r.onerror = () => ko(r.error);
    });
    const read = (name, fn) =>
      new Promise((ok, ko) => {
        const r = fn(db.transaction(name, 'readonly').objectStore(name));
        r.onsuccess = () => ok(r.result);
        r.onerror = () => ko(r.error);
      });
    const cp = await read('checkpoint', (s) => s.get('current'));
    const events = await read('events', (s) => s.getAll());
    db.close();
    return {
      checkpoint: cp ? { seq: cp.seq, nextBar: cp.nextBar } : null,
      seqs: events.map((e) => e.seq),
      tail: events.filter((e) => cp && e.seq > cp.seq).map((e) => ({ kind: e.kind, source: e.source })),
    };
  });
}

/** The bytes a reload must reproduce: engine and trader snapshots (sha-256) and the page state. */
function fingerprint(page) {
  return page.evaluate(async () => {
    const t = window.tradeloop;
    const s = t.state();
    return {
      engine: await t.sha256(t.snapshot()),
      trader: await t.sha256(t.traderSnapshot()),
      barIndex: s.barIndex,
      seq: s.seq,
      manualTrade: s.manualTrade,
      strategyTrade: s.strategyTrade,
      epsilonPoints: s.epsilonPoints,
    };
  });
}

const persistence = (page) => page.evaluate(() => window.tradeloop.persistence());
const range = (a, b) => Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);

/** Reloads and checks the page comes back with `before`'s bytes; the start report. */
async function reloadSame(page, before, what) {
  await page.reload();
  const start = await page.evaluate(() => window.tradeloop.ready);
  eq(start.restored, true, `${what}: the page restored its checkpoint`);
  const after = await fingerprint(page);
  eq(after.engine, before.engine, `${what}: engine snapshot bytes identical (sha-256)`);
  eq(after.trader, before.trader, `${what}: trader snapshot bytes identical (sha-256)`);
  eq(after.barIndex, before.barIndex, `${what}: same bar index (${before.barIndex})`);
  eq(after, before, `${what}: same events, open trades and ε history`);
  const p = await persistence(page);
  eq([p.saved, p.unsaved], [before.seq, 0], `${what}: every event counts as saved`);
  check(await page.isHidden('#error'), `${what}: no error shown`, await page.textContent('#error'));
  return start;
}

async function main() {
  requireBuilt(['index.html', 'app.js', 'db.js', 'pkg/tradeloop_wasm.js', 'pkg/tradeloop_wasm_bg.wasm',
    'vendor/lightweight-charts.standalone.production.js', 'data/SPY_1h.csv']);
  const server = await serve(WEB);
  const port = server.address().port;
  const url = `http://127.0.0.1:${port}/`;
  const browser = await launch();
  const { page, consoleErrors } = browser;
  const tl = (fn, arg) => page.evaluate(fn, arg);

  try {
    // ---------------------------------------------------------------- (a) + (d)
    section(`(a) a run of ${BARS} bars: several checkpoints, then a tail of events; a reload replays it`);
    await page.goto(url);
    eq((await tl(() => window.tradeloop.ready)).restored, false, 'a fresh profile starts without a checkpoint');

    // (d) The old scheme wrote the checkpoint record with every event: its cost is sampled
    // after each chunk and charged to the chunk's events.
    let oldBytes = 0;
    let prev = (await persistence(page)).io;
    let ran = 0;
    while (ran < BARS) {
      ran += await tl((n) => window.tradeloop.runBars(n), Math.min(CHUNK, BARS - ran));
      const { io } = await persistence(page);
      const cp = await tl(() => window.tradeloop.checkpointBytes());
      oldBytes += io.eventBytes - prev.eventBytes + (io.events - prev.events) * cp;
      prev = io;
    }
    eq(ran, BARS, `ran ${BARS} bars`);
    const pa = await persistence(page);
    const every = pa.checkpointEvery;
    check(pa.io.checkpoints >= 3, `several checkpoints were written (${pa.io.checkpoints} for ${pa.seq} events)`);
    check(pa.io.checkpoints <= Math.ceil(pa.seq / every) + 1,
      `a checkpoint only every ${every} events, not with each (${pa.io.checkpoints} for ${pa.seq})`);
    eq([pa.saved, pa.unsaved, pa.error], [pa.seq, 0, null], 'every event is saved');
    const d1 = await dbDump(page);
    eq(d1.seqs, range(1, pa.seq), `IndexedDB holds events 1..${pa.seq}, one record each`);
    eq(d1.checkpoint?.seq, pa.checkpointSeq, `the stored checkpoint covers events up to ${pa.checkpointSeq}`);

    // (d) bytes per event.
    section('(d) bytes written per event');
    const newPerEvent = (pa.io.eventBytes + pa.io.checkpointBytes) / pa.io.events;
    const oldPerEvent = oldBytes / pa.io.events;
    console.log(`       old scheme (a checkpoint with every event): ${Math.round(oldPerEvent)} bytes/event`);
    console.log(`       new scheme (events + a checkpoint every ${every}): ${Math.round(newPerEvent)} bytes/event ` +
      `(${pa.io.events} events of ${Math.round(pa.io.eventBytes / pa.io.events)} bytes, ` +
      `${pa.io.checkpoints} checkpoints of ${Math.round(pa.io.checkpointBytes / pa.io.checkpoints)} bytes)`);
    eq(pa.io.events, pa.seq, 'every event was counted once');
    check(newPerEvent < oldPerEvent, `the new scheme writes fewer bytes per event (${(oldPerEvent / newPerEvent).toFixed(1)}x fewer)`);

    // A tail after an explicit checkpoint: manual trades, promote / rollback, strategy events.
    section('(a) the tail: manual trades, promote / rollback and strategy events after the checkpoint');
    await tl(() => window.tradeloop.save());
    const cpSeq = (await persistence(page)).checkpointSeq;
    eq(cpSeq, pa.seq, 'save() writes a checkpoint');
    await page.click('#buy');
    await tl(() => window.tradeloop.runBars(300));
    const vs = await tl(() => window.tradeloop.versions());
    const champion = vs.find((v) => v.champion);
    const other = vs.filter((v) => !v.champion).sort((a, b) => b.id - a.id)[0];
    check(other !== undefined, 'a version to promote', JSON.stringify(vs));
    if (other) {
      await tl((id) => window.tradeloop.promote(id), other.id);
      await tl(() => window.tradeloop.rollback(null));
      eq((await tl(() => window.tradeloop.stats())).signal.champion, champion.id, 'promote then rollback');
    }
    if (await tl(() => window.tradeloop.state().manualTrade !== null)) await page.click('#close');
    await page.click('#sell');
    await tl(() => window.tradeloop.runBars(3));
    await page.click('#step');
    await tl(() => window.tradeloop.flush());
    const before = await fingerprint(page);
    check(before.manualTrade !== null, `a manual trade is open at the reload (#${before.manualTrade})`);
    const pt = await persistence(page);
    eq(pt.checkpointSeq, cpSeq, 'no checkpoint since: the tail is all events of this part');
    const d2 = await dbDump(page);
    const tail = before.seq - cpSeq;
    check(tail > 0, `${tail} events after the checkpoint`);
    eq(d2.tail.length, tail, 'all of them in IndexedDB');
    const has = (kind, source) => d2.tail.some((e) => e.kind === kind && e.source === source);
    check(has('open', 'manual') && has('close', 'manual'), 'the tail has manual opens and closes');
    check(has('open', 'strategy') && has('close', 'strategy'), 'the tail has the strategy\'s opens and closes');
    if (other) check(has('promote', 'page') && has('rollback', 'page'), 'the tail has a promote and a rollback');
    check(has('bars', 'page'), 'the tail records how far the replay got');

    const sa = await reloadSame(page, before, 'reload with a tail');
    eq(sa.replayed?.events, tail, `the reload replayed the ${tail} events after the checkpoint`);
    check(sa.replayed?.bars > 0, `and the ${sa.replayed?.bars} bars they span`);
    check(/events replayed/.test(await page.textContent('#status')), 'the status says events were replayed',
      await page.textContent('#status'));
    eq(await page.textContent('#stat-saved'), String(before.seq), 'the saved counter shows every event');
    // The restored page goes on journalling after the replayed events.
    eq(await tl(() => window.tradeloop.runBars(200)), 200, 'the restored page runs on');
    const pc = await persistence(page);
    eq((await dbDump(page)).seqs, range(1, pc.seq), `IndexedDB holds events 1..${pc.seq} after it`);

    // ---------------------------------------------------------------- (b)
    section('(b) a reload right after a periodic checkpoint replays nothing');
    let pb = await persistence(page);
    for (let i = 0; i < 2 * every && !(pb.checkpointSeq === pb.seq && pb.seq > pc.checkpointSeq); i++) {
      await page.click('#step'); // one event a step ("bars", or the strategy's)
      await tl(() => window.tradeloop.flush());
      pb = await persistence(page);
    }
    check(pb.checkpointSeq === pb.seq && pb.seq > pc.checkpointSeq,
      `stepping reached a periodic checkpoint at event ${pb.seq}`, JSON.stringify(pb));
    const beforeB = await fingerprint(page);
    const sb = await reloadSame(page, beforeB, 'reload after a checkpoint');
    eq(sb.replayed, { events: 0, bars: 0 }, 'nothing was replayed');

    section('a series switch is written with its checkpoint; the events after it replay');
    await page.selectOption('#series', 'BTC-USD_1d');
    await page.waitForFunction(() => window.tradeloop.state().seriesId === 'BTC-USD_1d');
    await tl(() => window.tradeloop.flush());
    const ps = await persistence(page);
    const switched = (await tl(() => window.tradeloop.events(1)))[0];
    eq([switched?.kind, switched?.bar], ['series', 0], 'the switch is journalled at bar 0');
    eq(ps.checkpointSeq, ps.seq, 'with a checkpoint at once');
    eq(await tl(() => window.tradeloop.runBars(400)), 400, 'the new series runs');
    // The write of a long run's last batch often carries a checkpoint: a short run leaves a tail.
    await tl(() => window.tradeloop.runBars(30));
    const beforeS = await fingerprint(page);
    const ss = await reloadSame(page, beforeS, 'reload on the second series');
    eq(await tl(() => window.tradeloop.state().seriesId), 'BTC-USD_1d', 'the second series is restored');
    check(ss.replayed?.events > 0, `the events after the switch were replayed (${ss.replayed?.events})`);

    // ---------------------------------------------------------------- (c)
    section('(c) storage full: writes fail, nothing is claimed saved, nothing is lost');
    // A fresh origin (same server): its first write queries the quota set here. (A running
    // origin would not see a new quota at once: Chromium's IndexedDB caches the space it has
    // been granted for up to 30 s.)
    const originB = `http://localhost:${port}`;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: originB, quotaSize: TINY_QUOTA });
    await page.goto(`${originB}/`);
    eq((await tl(() => window.tradeloop.ready)).restored, false, 'the other origin starts afresh');
    await tl(() => window.tradeloop.runBars(600));
    await page.waitForSelector('#storage-full:not([hidden])');
    let pq = await persistence(page);
    eq(pq.error, 'QuotaExceededError', 'the write failed with QuotaExceededError');
    check(pq.seq > 0 && pq.unsaved === pq.seq && pq.saved === 0, `${pq.unsaved} events are not saved`, JSON.stringify(pq));
    eq(pq.unsavedSeqs, range(1, pq.seq), 'they are kept in memory, in order');
    const banner = await page.textContent('#storage-full');
    check(/storage is full/i.test(banner) && banner.includes(`${pq.unsaved} events are not yet saved`),
      'the banner says storage is full and how many events are not saved', banner);
    eq(await page.textContent('#stat-saved'), '0', 'the saved counter does not claim them');
    eq(await page.getAttribute('body', 'data-saved'), 'pending', 'the page marks events pending');
    const dq = await dbDump(page);
    eq([dq.checkpoint, dq.seqs.length], [null, 0], 'IndexedDB holds none of them');

    // Play resumes, and pauses again at the next failed write; the new events queue up.
    await page.selectOption('#speed', '250');
    await page.click('#play');
    await page.waitForFunction((seq) => {
      const s = window.tradeloop.state();
      return !s.playing && s.seq > seq;
    }, pq.seq);
    pq = await persistence(page);
    eq(await page.textContent('#status'), 'paused', 'a failed write pauses the replay');
    eq(pq.unsavedSeqs, range(1, pq.seq), `${pq.unsaved} unsaved events now, still in order`);
    check(await page.isVisible('#storage-full'), 'the banner stays');

    // Some room again: Retry saves everything, in one transaction with the first checkpoint.
    const { usage } = await cdp.send('Storage.getUsageAndQuota', { origin: originB });
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: originB, quotaSize: usage + ROOM });
    await page.click('#storage-retry');
    await page.waitForSelector('#storage-full', { state: 'hidden' });
    await tl(() => window.tradeloop.flush());
    pq = await persistence(page);
    eq([pq.saved, pq.unsaved, pq.error], [pq.seq, 0, null], `after Retry all ${pq.seq} events are saved`);
    const dr = await dbDump(page);
    eq(dr.seqs, range(1, pq.seq), 'IndexedDB holds them all, 1..n');
    eq(dr.checkpoint?.seq, pq.seq, 'with the checkpoint that was due');
    eq(await page.getAttribute('body', 'data-saved'), 'all', 'the page marks everything saved');

    // The room runs out in the middle of a run: what was saved stays, the rest waits.
    const savedBefore = pq.saved;
    for (let i = 0; i < 20 && (await page.isHidden('#storage-full')); i++) {
      await tl(() => window.tradeloop.runBars(300));
    }
    check(await page.isVisible('#storage-full'), 'a later write fails when the room is used up');
    pq = await persistence(page);
    check(pq.saved > savedBefore, `events saved until then stay saved (${savedBefore} -> ${pq.saved})`);
    check(pq.unsaved > 0, `${pq.unsaved} events wait`);
    eq(pq.unsavedSeqs, range(pq.saved + 1, pq.seq), 'the unsaved events are the ones after the saved ones, in order');
    const dm = await dbDump(page);
    eq(dm.seqs, range(1, pq.saved), `IndexedDB holds exactly the ${pq.saved} saved events`);
    check(dm.checkpoint && dm.checkpoint.seq <= pq.saved, `and a checkpoint within them (${dm.checkpoint?.seq})`);

    // Room again: Retry saves the rest.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: originB });
    await page.click('#storage-retry');
    await page.waitForSelector('#storage-full', { state: 'hidden' });
    await tl(() => window.tradeloop.flush());
    pq = await persistence(page);
    eq([pq.saved, pq.unsaved, pq.error], [pq.seq, 0, null], `after Retry all ${pq.seq} events are saved`);
    eq((await dbDump(page)).seqs, range(1, pq.seq), 'IndexedDB holds them all, 1..n');

    // A tail after that checkpoint, then the reload.
    await tl(() => window.tradeloop.runBars(300));
    const beforeC = await fingerprint(page);
    const sc = await reloadSame(page, beforeC, 'reload after storage was full');
    check(sc.replayed?.events > 0, `the reload replayed ${sc.replayed?.events} events`);

    section('console');
    // The quota failures are the page's own (shown in the banner), not console errors.
    check(consoleErrors.length === 0, 'no console errors', consoleErrors.join('\n'));
  } finally {
    await browser.close();
    server.close();
  }
}

await runTests(main);
