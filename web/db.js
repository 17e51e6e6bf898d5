// IndexedDB persistence for the paper-trading page: an event log and a periodic checkpoint,
// like the native host's journal and checkpoints.
//
// Database `tradeloop` (version 1) with two object stores:
//   events      keyPath "seq": one small record per journalled event, seq 1, 2, 3, ... in
//               the order the page applied them: { seq, kind, source, bar, now, command,
//               detail? } (app.js `persist` says what each field means). `command` is the
//               core's serde JSON shape (e.g. { Open: {...} }) or null.
//   checkpoint  one record under the key "current": the engine snapshot bytes, the trader
//               snapshot bytes, the next bar index, the series id/name, the candles when the
//               user loaded them, the page's own small state (manual trade, ε history), and
//               `seq`, the last event whose effect it holds.
// The page writes its not yet saved events in one readwrite transaction, and the checkpoint
// only every CHECKPOINT_EVERY events, after a series switch or an import (app.js), in the
// same transaction as the events it covers. A reload restores the checkpoint and replays
// the events with a greater seq. An event counts as saved once its transaction has
// committed; a failed write (e.g. QuotaExceededError) leaves it to the page, which keeps it
// and writes it again, in order.
//
// The stores are those of the earlier scheme (a checkpoint with every event), so a database
// it wrote opens unchanged: its checkpoint's seq is its last event, there is nothing to replay.

export const DB_NAME = 'tradeloop';
const DB_VERSION = 1;
const EVENTS = 'events';
const CHECKPOINT = 'checkpoint';
const KEY = 'current';

/** Opens (and creates on first use) the database. */
export function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(EVENTS)) db.createObjectStore(EVENTS, { keyPath: 'seq' });
      if (!db.objectStoreNames.contains(CHECKPOINT)) db.createObjectStore(CHECKPOINT);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
  });
}

/**
 * Resolves when `tx` has committed, rejects with its error when it aborts. A failed request
 * aborts its transaction (the page never calls preventDefault), and a quota failure shows up
 * only as the abort (Chromium fires no request error then), so the abort is the one place.
 */
function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
  });
}

/** Whether `e` says the origin's storage quota (or the disk) is full. */
export function isQuotaError(e) {
  return e?.name === 'QuotaExceededError';
}

/**
 * Writes `events` (in order) and, when given, the checkpoint that covers them, in one
 * readwrite transaction; resolves when it has committed. With a checkpoint, the events
 * after its seq (left by an abandoned log) and those more than `keep` before it are deleted.
 */
export function append(db, events, checkpoint, keep) {
  const tx = db.transaction([EVENTS, CHECKPOINT], 'readwrite');
  const committed = done(tx);
  try {
    const store = tx.objectStore(EVENTS);
    for (const e of events) store.put(e);
    if (checkpoint) {
      tx.objectStore(CHECKPOINT).put(checkpoint, KEY);
      store.delete(IDBKeyRange.lowerBound(checkpoint.seq, true));
      if (checkpoint.seq - keep > 0) store.delete(IDBKeyRange.upperBound(checkpoint.seq - keep));
    }
  } catch (e) {
    // e.g. DataCloneError: nothing of this transaction may commit.
    tx.abort();
    committed.catch(() => {});
    return Promise.reject(e);
  }
  return committed;
}

/** The current checkpoint record, or undefined. */
export function loadCheckpoint(db) {
  return new Promise((resolve, reject) => {
    const req = db.transaction(CHECKPOINT, 'readonly').objectStore(CHECKPOINT).get(KEY);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** The events with a seq greater than `seq`, oldest first. */
export function eventsAfter(db, seq) {
  return new Promise((resolve, reject) => {
    const req = db.transaction(EVENTS, 'readonly').objectStore(EVENTS).getAll(IDBKeyRange.lowerBound(seq, true));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** The newest `limit` events, oldest first. */
export function lastEvents(db, limit) {
  return new Promise((resolve, reject) => {
    const out = [];
    const req = db.transaction(EVENTS, 'readonly').objectStore(EVENTS).openCursor(null, 'prev');
    req.onsuccess = () => {
      const c = req.result;
      if (c && out.length < limit) {
        out.push(c.value);
        c.continue();
      } else resolve(out.reverse());
    };
    req.onerror = () => reject(req.error);
  });
}

/** Number of stored events. */
export function countEvents(db) {
  return new Promise((resolve, reject) => {
    const req = db.transaction(EVENTS, 'readonly').objectStore(EVENTS).count();
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Deletes every event and the checkpoint (one transaction). */
export function clearAll(db) {
  const tx = db.transaction([EVENTS, CHECKPOINT], 'readwrite');
  tx.objectStore(EVENTS).clear();
  tx.objectStore(CHECKPOINT).clear();
  return done(tx);
}
