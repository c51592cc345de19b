// The reclaim mutex: what removes or replaces files in the lock home runs under it, one process at a time.
import * as fs from 'node:fs';
import * as lockfile from 'proper-lockfile';
import { LockError, errnoCode, errorMessage } from './errors';
import { MIN_STALE_MS } from './lock';
import { LockLocation, remakeHome } from './location';

/**
 * proper-lockfile judges the mutex by its mtime against this clock: one dated ahead (a clock stepped back
 * after a reclaimer was killed, a `touch -d`) would look fresh for that long and lock everyone out. A live
 * holder's heartbeat dates it now, never ahead, so one dated more than MIN_STALE_MS ahead is a leftover: it is
 * dated back, and proper-lockfile takes it as stale.
 */
function ageFutureMutex(loc: LockLocation): void {
  const dir = `${loc.reclaimTarget}.lock`;
  try {
    if (fs.statSync(dir).mtimeMs > Date.now() + MIN_STALE_MS) {
      fs.utimesSync(dir, new Date(0), new Date(0));
    }
  } catch {
    // No mutex there, or not ours to date: proper-lockfile says what it finds.
  }
}

/**
 * Runs `fn` under the mutex; with `wait` false, undefined at once when someone else holds it. It is held for
 * milliseconds, or for the few seconds an orphan's tasks take to stop (orphan.ts): a waiter retries for about 8 s.
 */
export async function withMutex<T>(loc: LockLocation, fn: () => T | Promise<T>, wait: boolean): Promise<T | undefined> {
  let release: (() => Promise<void>) | undefined;
  for (let attempt = 1; release === undefined; attempt++) {
    try {
      ageFutureMutex(loc);
      release = await lockfile.lock(loc.reclaimTarget, {
        stale: MIN_STALE_MS,
        update: 1000,
        realpath: false,
        retries: wait ? { retries: 400, minTimeout: 1, maxTimeout: 20, factor: 1.3 } : 0,
        onCompromised: () => undefined,
      });
    } catch (err) {
      if (!wait && errnoCode(err) === 'ELOCKED') {
        return undefined;
      }
      // The lock home removed meanwhile (rm -rf; found by the soak): made again, once or twice.
      if (errnoCode(err) === 'ENOENT' && attempt < 3) {
        remakeHome(loc);
        continue;
      }
      throw new LockError('io', `Cannot check the lock in ${loc.home}: ${errorMessage(err)}`, { facts: { problem: 'cannot-check', path: loc.home, detail: errorMessage(err) } });
    }
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
