// The device's record in IndexedDB: its key pair (CryptoKey objects, stored as they are —
// the private key stays non-extractable), its DID, name and pairing state.

const DB = 'countersign'
const STORE = 'device'
const KEY = 'current'

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1)
    req.onupgradeneeded = () => req.result.createObjectStore(STORE)
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

async function run(mode, fn) {
  const db = await open()
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode)
      const req = fn(tx.objectStore(STORE))
      tx.oncomplete = () => resolve(req?.result)
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error)
    })
  } finally {
    db.close()
  }
}

/** The device record, or null before pairing. */
export async function loadDevice() {
  return (await run('readonly', (s) => s.get(KEY))) ?? null
}

export async function saveDevice(record) {
  await run('readwrite', (s) => s.put(record, KEY))
}

/** Forgets the device, key included: it cannot sign again. */
export async function forgetDevice() {
  await run('readwrite', (s) => s.delete(KEY))
}
