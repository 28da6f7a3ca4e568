// @ts-check
// The user's dataset files kept in this browser (IndexedDB), one entry per format, so that a reload loads them
// again without asking. An entry is {files: [File…]} (the File objects themselves: IndexedDB stores their bytes)
// or {urls: [string…]} for data read from the web. Nothing here ever leaves the browser.
const DB = 'hebbian-playground';
const STORE = 'user-datasets';

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('another tab holds an older version of the storage open'));
  });
}

// Runs `fn(store)` in one transaction; resolves with its request's result once the transaction has committed.
async function transaction(mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const request = fn(t.objectStore(STORE));
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
