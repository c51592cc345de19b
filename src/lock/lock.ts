// One workspace folder's lock: inspecting it, taking it (now, waiting, by adoption or reclaim), watching it.
// The held lock is a LockHandle (handle.ts); handing it over lives in handoff.ts; the exit in exit.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { socketPathFor } from './channel';
import { LockError, errnoCode, errorMessage } from './errors';
import type { Disposable } from './events';
import { HolderInfo, LockHandle, lockFs } from './handle';
import { ReservationView, readReservation, requestHandoff, viewReservation } from './handoff';
import { lookInterval, observe } from './heartbeat';
import { LocationOptions, LockLocation, folderHash, locate } from './location';
import { hostname, isAlive, pidNamespace, selfRef } from './process-identity';
import { HolderRecord, clipName, newToken, readRecord } from './record';
import { LockState, describeHolder, judge, lockIdOf } from './state';
import { LockWatcher, WatchEvent } from './watcher';

export interface LockOptions extends LocationOptions {
  /** How old a heartbeat may be before a holder on another host counts as dead. Default 10 s, from 2 s to a day. */
  staleMs?: number;
}

export const DEFAULT_STALE_MS = 10_000;
export const MIN_STALE_MS = 2_000;
/** A day: beyond it a heartbeat is no heartbeat, and the numbers stop meaning anything to anyone. */
export const MAX_STALE_MS = 86_400_000;

/**
 * Every process must agree on these, so they derive from the one setting users see. `look`: how often a
 * follower looks at a heartbeat judged by change (heartbeat.ts); it only bounds how late a stop is noticed.
 */
export function lockTimings(staleMs = DEFAULT_STALE_MS): { stale: number; update: number; look: number } {
  // Clamped above too: a timer past 2^31 ms fires at once in Node, which would turn the heartbeat into a spin.
  const stale = Math.min(MAX_STALE_MS, Math.max(MIN_STALE_MS, Math.round(staleMs)));
  return { stale, update: Math.max(1000, Math.floor(stale / 2)), look: lookInterval(stale) };
}

/**
 * `reserved`: the lock is free but reserved for the requester of a handoff for a few seconds. `reclaiming`:
 * another process is reclaiming the stale lock right now (only when asked not to wait for it).
 */
export type AcquireResult = { ok: true; handle: LockHandle } | { ok: false; state: LockState; reserved?: boolean; reclaiming?: boolean };

export type ReclaimResult =
  | { result: 'nothing'; state: LockState }
  | { result: 'reclaimed'; previous: LockState }
  | { result: 'alive'; state: LockState };

/** One workspace folder's lock. Cheap to make; it touches the disk only when asked. */
export class WorkspaceLock {
  readonly location: LockLocation;
  readonly staleMs: number;
  readonly updateMs: number;
  readonly lookMs: number;
  private readonly socketKey: string;

  constructor(folder: string, options: LockOptions = {}) {
    this.location = locate(folder, options);
    const t = lockTimings(options.staleMs);
    this.staleMs = t.stale;
    this.updateMs = t.update;
    this.lookMs = t.look;
    this.socketKey = folderHash(this.location.lockDir);
  }

  /**
   * The lock's state right now, from one stat and one read (and one stat per old lock home when free). Each
   * look is also remembered (heartbeat.ts): a holder judged by its heartbeat turns stale only once looks
   * have seen it stand still for `stale`.
   */
  inspect(myToken?: string): LockState {
    try {
      const now = this.judgeAt(this.location.lockDir, this.location.recordPath, myToken);
      return now.state === 'free' ? this.inspectLegacy() : now;
    } catch (err) {
      return { state: 'error', message: `Cannot read the lock in ${this.location.home}: ${errorMessage(err)}` };
    }
  }

  private judgeAt(lockDirPath: string, recordPath: string, myToken?: string): LockState {
    const lockDir = statOrNull(lockDirPath);
    return judge({
      lockDir,
      // Without a lock folder any record is a leftover: not worth a read on the uncontended path.
      record: lockDir === null ? { kind: 'none' } : readRecord(recordPath),
      nowMs: Date.now(),
      heartbeatStillMs: observe(lockDirPath, lockDir && { lockId: lockIdOf(lockDir), mtimeMs: lockDir.mtimeMs }),
      staleMs: this.staleMs,
      hostname: hostname(),
      pidNamespace: pidNamespace(),
      myToken,
      isAlive,
    });
  }

  /**
   * A live lock of an older version in its old default home counts as held: it knows nothing of the new
   * home, so this side must yield. Only read: a stale one there is ignored, never removed (it is inside
   * the user's folder, where Task Lock no longer writes). Errors there are not this version's problem.
   */
  private inspectLegacy(): LockState {
    for (const home of this.location.legacyHomes) {
      let old: LockState;
      try {
        old = this.judgeAt(path.join(home, 'workspace.lock'), path.join(home, 'holder.json'));
      } catch {
        continue;
      }
      if (old.state === 'held') {
        return { state: 'held', holder: { ...old.holder, legacyHome: home } };
      }
    }
    return { state: 'free' };
  }

  /**
   * Takes the lock if it is free or stale. A stale lock is reclaimed under a short mutex, so when many
   * waiters see the same dead holder exactly one of them wins.
   */
  async tryAcquire(info: HolderInfo, token = newToken(), opts: { waitForReclaim?: boolean } = {}): Promise<AcquireResult> {
    // proper-lockfile removes a lock whose heartbeat is old by itself; that would break a lock kept alive
    // by a task that outlived its launcher. So it is only asked when no lock directory exists.
    const first = this.inspect();
    if (first.state === 'free') {
      const r = await this.mkdirAndClaim(info, token);
      if (r.ok || r.state.state !== 'stale') {
        return r;
      }
    } else if (first.state !== 'stale') {
      return { ok: false, state: first };
    }
    const reclaim = async (): Promise<AcquireResult> => {
      const now = this.inspect();
      if (now.state === 'stale') {
        this.removeStale();
      } else if (now.state !== 'free') {
        return { ok: false, state: now };
      }
      return this.mkdirAndClaim(info, token);
    };
    if (opts.waitForReclaim === false) {
      // Many waiters see one dead holder at once: the ones that lose the mutex go back to waiting (the
      // winner's new lock wakes them) instead of retrying it every few milliseconds on the winner's CPU.
      const r = await this.withReclaimMutex(reclaim, false);
      return r ?? { ok: false, state: this.inspect(), reclaiming: true };
    }
    return (await this.withReclaimMutex(reclaim)) as AcquireResult;
  }

  /**
   * Waits for the lock until `waitMs` (default: forever) or the signal aborts. `onWaiting` is told whom
   * it waits for each time the holder changes. No polling: it wakes on the holder's channel and the
   * lock folder's events.
   */
  async acquire(
    info: HolderInfo,
    opts: { waitMs?: number; signal?: AbortSignal; onWaiting?(state: LockState): void; token?: string } = {},
  ): Promise<LockHandle> {
    const token = opts.token ?? newToken();
    const deadline = opts.waitMs === undefined ? Infinity : Date.now() + opts.waitMs;
    let lastSeen = '';
    let wake: (() => void) | undefined;
    // A change may arrive while an attempt is running, before anyone waits: it must not be lost.
    let changed = false;
    const watcher = this.watch(
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
        const r = await this.tryAcquire(info, token, { waitForReclaim: false });
        if (r.ok) {
          return r.handle;
        }
        if (r.state.state === 'error') {
          throw new LockError('io', r.state.message);
        }
        const who = r.state.state === 'held' ? describeHolder(r.state.holder) : r.state.state;
        if (who !== lastSeen) {
          lastSeen = who;
          opts.onWaiting?.(r.state);
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new LockError('timeout', `The lock is still held by ${who}.`);
        }
        if (changed) {
          continue;
        }
        await new Promise<void>((resolve) => {
          // The watcher wakes us on every change; the timer is a safety net for a reservation that runs out.
          // A reclaimer that died holding the mutex leaves no event: its mutex turns stale after MIN_STALE_MS.
          const timer = setTimeout(done, Math.min(left, r.reserved ? 250 : r.reclaiming ? MIN_STALE_MS + 100 : this.staleMs));
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
   * Takes over a lock whose holder process died while its recorded tasks still run, when `isMine` says
   * those tasks are the caller's own (a reloaded window finding its running tasks). The recorded tasks
   * stay recorded, so the lock never looks free meanwhile. Anything else is left alone.
   */
  async adopt(info: HolderInfo, isMine: (record: HolderRecord) => boolean): Promise<AcquireResult> {
    return this.withReclaimMutex(async () => {
      const now = this.inspect();
      const rec = now.state === 'held' && now.holder.sameHost ? now.holder.record : undefined;
      if (!rec || isAlive(rec) || !isMine(rec)) {
        return { ok: false, state: now };
      }
      this.removeStale();
      const r = await this.mkdirAndClaim(info, newToken());
      if (r.ok) {
        r.handle.setTasks(rec.tasks);
      }
      return r;
    });
  }

  /**
   * Removes a stale lock, re-checking staleness at that moment under the reclaim mutex (never a blind
   * removal). A live holder is refused unless `force`; a forced holder learns it as a compromise.
   */
  async reclaim(opts: { force?: boolean } = {}): Promise<ReclaimResult> {
    if (!opts.force) {
      await this.watchHeartbeat();
    }
    return this.withReclaimMutex(() => {
      const now = this.inspect();
      if (now.state === 'free' || now.state === 'error') {
        return { result: 'nothing', state: now };
      }
      // An older version's lock lives in the user's folder, where this version never removes anything.
      if (now.state !== 'stale' && (!opts.force || (now.state === 'held' && now.holder.legacyHome !== undefined))) {
        return { result: 'alive', state: now };
      }
      this.removeStale();
      return { result: 'reclaimed', previous: now };
    });
  }

  /** The handoff reservation, if a file is there: in effect, over, or bad. */
  reservation(): ReservationView | undefined {
    return viewReservation(this.location.reservationPath);
  }

  /**
   * Removes a reservation file that is over or bad (under the reclaim mutex, so never one a handoff writes
   * at this moment), and says what it removed. One in effect ends by itself within seconds: it stays.
   */
  async clearReservation(): Promise<ReservationView | undefined> {
    return this.withReclaimMutex(() => {
      const r = this.reservation();
      if (r === undefined || r.state === 'active') {
        return undefined;
      }
      try {
        // unlink removes a link or a FIFO itself, never what it points to; a folder there is left, and named.
        fs.unlinkSync(this.location.reservationPath);
      } catch (err) {
        throw new LockError('reclaim-failed', `Cannot remove ${this.location.reservationPath}: ${errorMessage(err)}. Remove it by hand.`);
      }
      return r;
    });
  }

  /**
   * A holder judged by its heartbeat is alive at a first look (heartbeat.ts): before a reclaim, watch it until
   * it is seen to beat (alive) or to stand still for `stale` (stale), at most `stale + look`.
   */
  private async watchHeartbeat(): Promise<void> {
    let lastStill = -1;
    for (;;) {
      const s = this.inspect();
      const still = s.state === 'held' ? s.holder.heartbeatStillMs : undefined;
      if (still === undefined || still < lastStill) {
        return;
      }
      lastStill = still;
      await new Promise((resolve) => setTimeout(resolve, Math.max(20, Math.min(this.lookMs, this.staleMs - still + 20))));
    }
  }

  /** Asks the live holder to hand the lock over; see handoff.ts. */
  requestHandoff(info: HolderInfo, opts: { timeoutMs?: number } = {}): Promise<LockHandle> {
    return requestHandoff(this, info, opts);
  }

  /** Subscribes to state changes; see LockWatcher for how it learns them without polling. */
  watch(listener: (e: WatchEvent) => void, opts: { myToken?: string; everyCheck?: boolean } = {}): Disposable {
    const w = new LockWatcher(this, listener, opts);
    w.start();
    return w;
  }

  private async mkdirAndClaim(info: HolderInfo, token: string): Promise<AcquireResult> {
    const { stale, update } = lockTimings(this.staleMs);
    let release: () => Promise<void>;
    let handle: LockHandle | undefined;
    try {
      release = await lockfile.lock(this.location.target, {
        stale,
        update,
        realpath: false,
        retries: 0,
        fs: lockFs,
        // proper-lockfile's default throws inside a timer and kills the process.
        onCompromised: (err) => handle?.markCompromised(err),
      });
    } catch (err) {
      if (errnoCode(err) === 'ELOCKED') {
        return { ok: false, state: this.inspect() };
      }
      throw new LockError('io', `Cannot take the lock in ${this.location.home}: ${errorMessage(err)}`);
    }
    try {
      const st = fs.statSync(this.location.lockDir);
      const reservation = readReservation(this.location.reservationPath);
      if (reservation && reservation.token !== token && reservation.until > Date.now()) {
        await release();
        return { ok: false, state: this.inspect(), reserved: true };
      }
      const me = selfRef();
      const record: HolderRecord = {
        version: 1,
        token,
        kind: info.kind,
        label: clipName(info.label),
        pid: me.pid,
        start: me.start,
        hostname: hostname(),
        pidNamespace: pidNamespace(),
        since: new Date().toISOString(),
        socket: null,
        lockId: lockIdOf(st),
        tasks: [],
      };
      handle = new LockHandle(this, record, release);
      await handle.open(socketPathFor(this.socketKey));
      if (reservation) {
        fs.rmSync(this.location.reservationPath, { force: true });
      }
      return { ok: true, handle };
    } catch (err) {
      if (handle) {
        await handle.release().catch(() => undefined);
      } else {
        await release().catch(() => undefined);
      }
      throw new LockError('io', `Took the lock in ${this.location.home} but could not record the holder: ${errorMessage(err)}`);
    }
  }

  /** Only under the reclaim mutex, after the lock was judged stale (or a reclaim is forced). */
  private removeStale(): void {
    const rec = readRecord(this.location.recordPath);
    if (rec.kind !== 'none') {
      fs.rmSync(this.location.recordPath, { force: true });
    }
    try {
      fs.rmdirSync(this.location.lockDir);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') {
        return;
      }
      const hint = code === 'ENOTEMPTY' ? ' It holds files that Task Lock did not put there: look at them, then remove the folder by hand.' : '';
      throw new LockError('reclaim-failed', `Cannot remove the stale lock ${this.location.lockDir}: ${errorMessage(err)}.${hint}`);
    }
  }

  /** Runs `fn` under the reclaim mutex; with `wait` false, undefined at once when someone else holds it. */
  private async withReclaimMutex<T>(fn: () => T | Promise<T>): Promise<T>;
  private async withReclaimMutex<T>(fn: () => T | Promise<T>, wait: false): Promise<T | undefined>;
  private async withReclaimMutex<T>(fn: () => T | Promise<T>, wait = true): Promise<T | undefined> {
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.location.reclaimTarget, {
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
      throw new LockError('io', `Cannot check the lock in ${this.location.home}: ${errorMessage(err)}`);
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      return null;
    }
    throw err;
  }
}
