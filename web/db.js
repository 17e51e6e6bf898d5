// IndexedDB persistence for the paper-trading page.
//
// Database `tradeloop` (version 1) with two object stores:
//   events      keyPath "seq": { seq, now, kind, command } — every journalled event, the
//               command in the core's serde JSON shape (e.g. { Open: {...} }).
//   checkpoint  one record under the key "current": the engine snapshot bytes, the trader
//               snapshot bytes, the next bar index, the series id/name, the candles when the
//               user loaded them, and the page's own small state (manual trade, seq, ...).
// Each journalled event is written with the new checkpoint in ONE readwrite transaction, so a
// reload always finds an event log and a checkpoint that agree.

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

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
  });
}

/**
 * Writes one event (if given) and the checkpoint in a single readwrite transaction.
 * Resolves when the transaction has committed.
 */
export function saveEvent(db, event, checkpoint) {
  const stores = event ? [EVENTS, CHECKPOINT] : [CHECKPOINT];
  const tx = db.transaction(stores, 'readwrite');
  if (event) tx.objectStore(EVENTS).put(event);
  tx.objectStore(CHECKPOINT).put(checkpoint, KEY);
  return done(tx);
}

/** The current checkpoint record, or undefined. */
export function loadCheckpoint(db) {
  return new Promise((resolve, reject) => {
    const req = db.transaction(CHECKPOINT, 'readonly').objectStore(CHECKPOINT).get(KEY);
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
