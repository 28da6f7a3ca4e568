// @ts-check
// What this browser keeps for the page (IndexedDB). The user's dataset files, one entry per format, so that a
// reload loads them again without asking: {files: [File…]} (the File objects themselves: IndexedDB stores their
// bytes) or {urls: [string…]} for data read from the web. And the last checkpoint of each lab that saves them,
// written while a run learns, so that a closed tab loses nothing: {key, bytes, step, total, saved} (`key`: the
// state's JSON). Nothing here ever leaves the browser.
const DB = 'hebbian-playground';
const STORE = 'user-datasets';
const CHECKPOINTS = 'checkpoints';

function openDb() {
  return new Promise((resolve, reject) => {
    // Version 2 added the checkpoints; a browser holding version 1 keeps its datasets.
    const request = indexedDB.open(DB, 2);
    request.onupgradeneeded = () => {
      for (const name of [STORE, CHECKPOINTS]) {
        if (!request.result.objectStoreNames.contains(name)) request.result.createObjectStore(name);
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('another tab holds an older version of the storage open'));
  });
}

// Runs `fn(store)` in one transaction on `name`; resolves with its request's result once it has committed.
async function transaction(mode, fn, name = STORE) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(name, mode);
      const request = fn(t.objectStore(name));
      t.oncomplete = () => resolve(request.result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error || new Error('the storage transaction was aborted'));
    });
  } finally {
    db.close();
  }
}

export const keep = (format, entry) => transaction('readwrite', (s) => s.put(entry, format));
export const kept = (format) => transaction('readonly', (s) => s.get(format));
export const keptFormats = () => transaction('readonly', (s) => s.getAllKeys());
export const drop = (format) => transaction('readwrite', (s) => s.delete(format));

export const keepCheckpoint = (lab, entry) => transaction('readwrite', (s) => s.put(entry, lab), CHECKPOINTS);
export const keptCheckpoint = (lab) => transaction('readonly', (s) => s.get(lab), CHECKPOINTS);
export const dropCheckpoint = (lab) => transaction('readwrite', (s) => s.delete(lab), CHECKPOINTS);
