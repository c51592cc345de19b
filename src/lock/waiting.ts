// Waiting for a lock, and watching a heartbeat before a reclaim: the loops on top of WorkspaceLock.
import { LockError, type LockErrorFacts } from './errors';
import { newToken } from './record';
import type { HolderInfo, LockHandle } from './handle';
import { MIN_STALE_MS, type WorkspaceLock } from './lock';
import { type LockState, describeHolder } from './state';

export interface WaitOptions {
  waitMs?: number;
  signal?: AbortSignal;
  onWaiting?(state: LockState): void;
  token?: string;
}

/**
 * Waits for the lock until `waitMs` (default: forever) or the signal aborts. `onWaiting` is told whom it
 * waits for each time the holder changes. No polling: it wakes on the holder's channel and the lock
 * folder's events; timers are only safety nets.
 */
export async function acquireWaiting(lock: WorkspaceLock, info: HolderInfo, opts: WaitOptions = {}): Promise<LockHandle> {
  const token = opts.token ?? newToken();
  const deadline = opts.waitMs === undefined ? Infinity : Date.now() + opts.waitMs;
  let lastSeen = '';
  let wake: (() => void) | undefined;
  // A change may arrive while an attempt is running, before anyone waits: it must not be lost.
  let changed = false;
  let quickLooks = 0;
  const watcher = lock.watch(
    () => {
      changed = true;
      wake?.();
    },
    { myToken: token, everyCheck: true },
  );
  // The watcher's handles are unref'd so that a holder never pins its process; a waiter should.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    for (;;) {
      if (opts.signal?.aborted) {
        throw new LockError('timeout', 'Gave up waiting for the lock.');
      }
      changed = false;
      const r = await lock.tryAcquire(info, token, { waitForReclaim: false });
      if (r.ok) {
        return r.handle;
      }
      if (r.state.state === 'error') {
        throw new LockError('io', r.state.message, { facts: r.state.facts });
      }
      // Only a holder is worth a word: "free" or "stale" between two looks is a reclaim under way.
      const who = r.state.state === 'held' ? describeHolder(r.state.holder) : '';
      if (who !== '' && who !== lastSeen) {
        lastSeen = who;
        opts.onWaiting?.(r.state);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const facts: LockErrorFacts =
          r.state.state === 'held' ? { problem: 'still-held', holder: r.state.holder } : r.reserved ? { problem: 'still-reserved' } : { problem: 'still-reclaimed' };
        throw new LockError('timeout', who !== '' ? `The lock is still held by ${who}.` : r.reserved ? 'The lock is still reserved for a handoff.' : 'The lock is stale and still being reclaimed.', { facts });
      }
      if (changed) {
        continue;
      }
      // Free, yet not taken: its folder went while it was being taken. The watch may have lost the lock home
      // with it, so look again at once rather than wait for an event (a few times, then wait as usual).
      if (r.state.state === 'free' && quickLooks < 3) {
        quickLooks++;
        continue;
      }
      quickLooks = 0;
      await new Promise<void>((resolve) => {
        // The watcher wakes us on every change; the timer is a safety net for a reservation that runs out.
        // A reclaimer that died holding the mutex leaves no event: its mutex turns stale after MIN_STALE_MS.
        const timer = setTimeout(done, Math.min(left, r.reserved ? 250 : r.reclaiming ? MIN_STALE_MS + 100 : lock.staleMs));
        const onAbort = (): void => done();
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        function done(): void {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  } finally {
    clearInterval(keepAlive);
    watcher.dispose();
  }
}

/**
 * A holder judged by its heartbeat is alive at a first look (heartbeat.ts): before a reclaim, watch it until
 * it is seen to beat (alive) or to stand still for `stale` (stale), at most `stale + look`.
 */
export async function watchHeartbeat(lock: WorkspaceLock): Promise<void> {
  let lastStill = -1;
  for (;;) {
    const s = lock.inspect();
    const still = s.state === 'held' ? s.holder.heartbeatStillMs : undefined;
    if (still === undefined || still < lastStill) {
      return;
    }
    lastStill = still;
    await new Promise((resolve) => setTimeout(resolve, Math.max(20, Math.min(lock.lookMs, lock.staleMs - still + 20))));
  }
}
