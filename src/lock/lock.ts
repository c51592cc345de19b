// One workspace folder's lock: inspecting it, taking it (now, waiting, by adoption or reclaim), watching it.
// The held lock is a LockHandle (handle.ts); handing it over lives in handoff.ts; the exit in exit.ts.
import * as fs from 'node:fs';
import * as lockfile from 'proper-lockfile';
import { socketPathFor } from './channel';
import { LockError, errnoCode, errorMessage } from './errors';
import type { Disposable } from './events';
import { HolderInfo, LockHandle, lockFs } from './handle';
import { readReservation, requestHandoff } from './handoff';
import { sweepTemporaries } from './leftovers';
import { LocationOptions, LockLocation, folderHash, locate, remakeHome } from './location';
import { hostname, isAlive, selfRef } from './process-identity';
import { HolderRecord, TaskRef, clipName, newToken, readRecord, writeRecord } from './record';
import { LockState, TAKING_MS, beingTaken, describeHolder, judge, lockIdOf } from './state';
import { LockWatcher, WatchEvent } from './watcher';

export interface LockOptions extends LocationOptions {
  /** How old a heartbeat may be before a holder on another host counts as dead. Default 10 s, from 2 s to a day. */
  staleMs?: number;
}

export const DEFAULT_STALE_MS = 10_000;
export const MIN_STALE_MS = 2_000;
/** A day: beyond it a heartbeat is no heartbeat, and the numbers stop meaning anything to anyone. */
export const MAX_STALE_MS = 86_400_000;

/** Every process must agree on these, so they derive from the one setting users see. */
export function lockTimings(staleMs = DEFAULT_STALE_MS): { stale: number; update: number } {
  // Clamped above too: a timer past 2^31 ms fires at once in Node, which would turn the heartbeat into a spin.
  const stale = Math.min(MAX_STALE_MS, Math.max(MIN_STALE_MS, Math.round(staleMs)));
  return { stale, update: Math.max(1000, Math.floor(stale / 2)) };
}

/** `reserved`: the lock is free but reserved for the requester of a handoff for a few seconds. */
export type AcquireResult = { ok: true; handle: LockHandle } | { ok: false; state: LockState; reserved?: boolean };

export type ReclaimResult =
  | { result: 'nothing'; state: LockState }
  /** `stillRunning`: the taken-away holder's tasks that still ran; the lock stays held until they have ended. */
  | { result: 'reclaimed'; previous: LockState; stillRunning?: TaskRef[] }
  | { result: 'alive'; state: LockState };

/** One workspace folder's lock. Cheap to make; it touches the disk only when asked. */
export class WorkspaceLock {
  readonly location: LockLocation;
  readonly staleMs: number;
  readonly updateMs: number;
  private readonly socketKey: string;

  constructor(folder: string, options: LockOptions = {}) {
    this.location = locate(folder, options);
    const t = lockTimings(options.staleMs);
    this.staleMs = t.stale;
    this.updateMs = t.update;
    this.socketKey = folderHash(this.location.lockDir);
  }

  /** The lock's state right now, from one stat and one read. */
  inspect(myToken?: string): LockState {
    try {
      const lockDir = statOrNull(this.location.lockDir);
      return judge({
        lockDir,
        // Without a lock folder any record is a leftover: not worth a read on the uncontended path.
        record: lockDir === null ? { kind: 'none' } : readRecord(this.location.recordPath),
        nowMs: Date.now(),
        staleMs: this.staleMs,
        hostname: hostname(),
        myToken,
        isAlive,
      });
    } catch (err) {
      return { state: 'error', message: `Cannot read the lock in ${this.location.home}: ${errorMessage(err)}` };
    }
  }

  /**
   * Takes the lock if it is free or stale. A stale lock is reclaimed under a short mutex, so when many
   * waiters see the same dead holder exactly one of them wins.
   */
  async tryAcquire(info: HolderInfo, token = newToken()): Promise<AcquireResult> {
    // proper-lockfile removes a lock whose heartbeat is old by itself; that would break a lock kept alive
    // by a task that outlived its launcher. So it is only asked when no lock directory exists.
    const first = this.inspect();
    if (first.state === 'free') {
      let r = await this.mkdirAndClaim(info, token);
      // Still free: the folder went while it was being taken (the lock home removed): once more, now.
      if (!r.ok && r.state.state === 'free') {
        r = await this.mkdirAndClaim(info, token);
      }
      if (r.ok || r.state.state !== 'stale') {
        return r;
      }
    } else if (first.state !== 'stale') {
      return { ok: false, state: first };
    }
    return this.withReclaimMutex(async () => {
      const judged = this.folderId();
      const now = this.inspect();
      if (now.state === 'stale') {
        this.removeStale(judged);
      } else if (now.state !== 'free') {
        return { ok: false, state: now };
      }
      return this.mkdirAndClaim(info, token);
    });
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
    let quickLooks = 0;
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
        const r = await this.tryAcquire(info, token);
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
        // Free, yet not taken: its folder went while it was being taken. The watch may have lost the lock home
        // with it, so look again at once rather than wait for an event (a few times, then wait as usual).
        if (r.state.state === 'free' && quickLooks < 3) {
          quickLooks++;
          continue;
        }
        quickLooks = 0;
        await new Promise<void>((resolve) => {
          // The watcher wakes us on every change; the timer is a safety net for a reservation that runs out.
          const timer = setTimeout(done, Math.min(left, r.reserved ? 250 : this.staleMs));
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
      const judged = this.folderId();
      const now = this.inspect();
      const rec = now.state === 'held' && now.holder.sameHost ? now.holder.record : undefined;
      if (!rec || isAlive(rec) || !isMine(rec)) {
        return { ok: false, state: now };
      }
      this.removeStale(judged);
      const r = await this.mkdirAndClaim(info, newToken());
      if (r.ok) {
        r.handle.setTasks(rec.tasks);
      }
      return r;
    });
  }

  /**
   * Removes a stale lock, re-checking staleness at that moment under the reclaim mutex (never a blind
   * removal). A live holder is refused unless `force`; a forced holder learns it as a compromise. When a
   * forced holder's tasks still run on this host, the lock stays held until they have ended (takeAway).
   */
  async reclaim(opts: { force?: boolean } = {}): Promise<ReclaimResult> {
    return this.withReclaimMutex(async () => {
      let judged = this.folderId();
      let now = this.inspect();
      // A folder without a record that was born just now is being taken: removed now, its taker and the next one
      // would both take the next folder for their own. Its record comes, or it outgrows being new.
      for (let waited = 0; opts.force && this.unrecordedAndNew(now) && waited < TAKING_MS; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        judged = this.folderId();
        now = this.inspect();
      }
      if (now.state === 'free' || now.state === 'error') {
        return { result: 'nothing', state: now };
      }
      if (now.state !== 'stale' && !opts.force) {
        return { result: 'alive', state: now };
      }
      if (now.state === 'held' && now.holder.sameHost) {
        const stillRunning = this.takeAway();
        return { result: 'reclaimed', previous: now, ...(stillRunning.length > 0 ? { stillRunning } : {}) };
      }
      this.removeStale(judged);
      return { result: 'reclaimed', previous: now };
    });
  }

  /**
   * A forced reclaim from a live holder on this host. Its lock folder is replaced first, in one rename: from then
   * on the holder can bind nothing more to it (it checks its folder after each record write, and sees it replaced).
   * Then its record tells what it started: while any of those tasks runs, the new folder's record names them as
   * the holder, so the lock stays held until the last has ended (the holder stops them), then is stale and taken
   * as usual. Removing the folder outright let a waiter start its command while the old one was still stopping
   * (found by the soak). Only under the reclaim mutex. Returns the tasks that keep the lock.
   */
  private takeAway(): TaskRef[] {
    const fresh = `${this.location.lockDir}.${newToken().slice(0, 12)}.tmp`;
    fs.mkdirSync(fresh);
    // A rename keeps a folder's identity: this is the lock folder's from now on.
    const ours = lockIdOf(fs.statSync(fresh));
    try {
      // A rename replaces an empty folder at once: at no moment is there no lock to see.
      fs.renameSync(fresh, this.location.lockDir);
    } catch (err) {
      fs.rmSync(fresh, { recursive: true, force: true });
      const hint = errnoCode(err) === 'ENOTEMPTY' ? ' It holds files that Task Lock did not put there: look at them, then remove the folder by hand.' : '';
      throw new LockError('reclaim-failed', `Cannot take the lock ${this.location.lockDir} away: ${errorMessage(err)}.${hint}`);
    }
    const read = readRecord(this.location.recordPath);
    const prev = read.kind === 'ok' ? read.record : undefined;
    const running = prev && prev.hostname === hostname() ? prev.tasks.filter((t) => isAlive(t)) : [];
    if (!prev || running.length === 0) {
      this.removeStale(ours);
      return [];
    }
    if (this.folderId() !== ours) {
      // Removed already (the outgoing holder's release, a tool): a record here would bind someone else's folder.
      return [];
    }
    writeRecord(this.location.recordPath, {
      version: 1,
      token: newToken(),
      kind: prev.kind,
      label: clipName(`${prev.label} (taken away, until its tasks end)`),
      pid: running[0].pid,
      start: running[0].start,
      hostname: hostname(),
      since: new Date().toISOString(),
      socket: null,
      lockId: ours,
      tasks: running,
    });
    return running;
  }

  private unrecordedAndNew(s: LockState): boolean {
    if (s.state !== 'held' || s.holder.record) {
      return false;
    }
    const st = statOrNull(this.location.lockDir);
    return st !== null && beingTaken(st, Date.now());
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
      if (errnoCode(err) === 'ENOENT') {
        // The lock home was removed (rm -rf) since this process found it: made again, it is free to take.
        remakeHome(this.location);
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
        since: new Date().toISOString(),
        socket: null,
        lockId: lockIdOf(st),
        tasks: [],
      };
      handle = new LockHandle(this, record, release);
      await handle.open(socketPathFor(this.socketKey));
      if (!handle.holdsFolder()) {
        // The folder went (rm -rf of the lock home, which someone made again) before the watch began: a holder
        // told it holds would be blind to its loss and run beside the next one.
        await handle.release();
        return { ok: false, state: this.inspect() };
      }
      if (reservation) {
        fs.rmSync(this.location.reservationPath, { force: true });
      }
      sweepTemporaries(this.location);
      return { ok: true, handle };
    } catch (err) {
      if (handle) {
        await handle.release().catch(() => undefined);
      } else {
        await release().catch(() => undefined);
      }
      if (errnoCode(err) === 'ENOENT') {
        // The lock home went with the folder just taken (rm -rf): nothing is held, and the way is free again.
        remakeHome(this.location);
        return { ok: false, state: this.inspect() };
      }
      throw new LockError('io', `Took the lock in ${this.location.home} but could not record the holder: ${errorMessage(err)}`);
    }
  }

  /** The identity of the folder at the lock's path, or 'none'. */
  private folderId(): string {
    const st = statOrNull(this.location.lockDir);
    return st === null ? 'none' : lockIdOf(st);
  }

  /**
   * Only under the reclaim mutex, after the lock was judged stale (or a reclaim is forced), and only the folder
   * that was judged (`judged`, its identity when it was judged): another may stand there by now (a release that
   * removed a folder it took for its own a moment earlier, then a taker's new one), and removing that let two
   * holders take the lock (found by the soak).
   */
  private removeStale(judged: string): void {
    if (this.folderId() !== judged) {
      return;
    }
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

  private async withReclaimMutex<T>(fn: () => T | Promise<T>): Promise<T> {
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.location.reclaimTarget, {
        stale: MIN_STALE_MS,
        update: 1000,
        realpath: false,
        retries: { retries: 400, minTimeout: 1, maxTimeout: 20, factor: 1.3 },
        onCompromised: () => undefined,
      });
    } catch (err) {
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
