// One workspace folder's lock: inspecting it, taking it (now, waiting, by adoption or reclaim), watching it.
// The held lock is a LockHandle (handle.ts); handing it over lives in handoff.ts; the exit in exit.ts.
import * as fs from 'node:fs';
import * as lockfile from 'proper-lockfile';
import { predecessorGone, socketPathFor } from './channel';
import { LockError, errnoCode, errorMessage } from './errors';
import type { Disposable } from './events';
import { HolderInfo, LockHandle, disownFolder, lockFs, ownFolder } from './handle';
import { dropClaim, sweepClaims, takeClaim } from './claim';
import { ReservationView, clearReservation, readReservation, requestHandoff, requestRelease, viewReservation } from './handoff';
import { lookInterval, observe } from './heartbeat';
import { sweepTemporaries } from './leftovers';
import { LocationOptions, LockLocation, folderHash, locate, remakeHome } from './location';
import { hostname, isAlive, pidNamespace, selfRef } from './process-identity';
import { HolderRecord, TaskRef, clipName, newToken, readRecord } from './record';
import { LockState, TAKING_MS, judge, lockIdOf } from './state';
import { takeAway, unrecordedAndNew } from './forced';
import { orphanOf, stopTasks } from './orphan';
import { withMutex } from './mutex';
import { WaitOptions, acquireWaiting, watchHeartbeat } from './waiting';
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
  /** `stillRunning`: the taken-away holder's tasks that still ran; the lock stays held until they have ended. */
  | { result: 'reclaimed'; previous: LockState; stillRunning?: TaskRef[] }
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
      return this.judgeAt(this.location.lockDir, this.location.recordPath, myToken);
    } catch (err) {
      return { state: 'error', message: `Cannot read the lock in ${this.location.home}: ${errorMessage(err)}`, code: 'io', facts: { problem: 'cannot-read', path: this.location.home, detail: errorMessage(err) } };
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
   * Takes the lock if it is free or stale. A stale lock is reclaimed under a short mutex, so when many
   * waiters see the same dead holder exactly one of them wins.
   */
  async tryAcquire(info: HolderInfo, token = newToken(), opts: { waitForReclaim?: boolean } = {}): Promise<AcquireResult> {
    return this.claim(info, token, opts);
  }

  private async claim(info: HolderInfo, token: string, opts: { waitForReclaim?: boolean }): Promise<AcquireResult> {
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
    const reclaim = async (): Promise<AcquireResult> => {
      const judged = this.folderId();
      const now = this.inspect();
      if (now.state === 'stale') {
        this.removeStale(judged);
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
   * it waits for each time the holder changes. No polling: see waiting.ts.
   */
  acquire(info: HolderInfo, opts: WaitOptions = {}): Promise<LockHandle> {
    return acquireWaiting(this, info, opts);
  }

  /**
   * Takes over a lock whose holder process died while recorded tasks still run, when `isMine` says some of those
   * tasks are the caller's own (a reloaded window finding its running tasks in its terminals). Only those stay
   * recorded (the record is anyone's words: the caller stops what it adopts as its own), so the lock never looks
   * free meanwhile. Anything else is left alone.
   */
  async adopt(info: HolderInfo, isMine: (task: TaskRef) => boolean): Promise<AcquireResult> {
    return this.withReclaimMutex(async () => {
      const judged = this.folderId();
      const now = this.inspect();
      const rec = now.state === 'held' && now.holder.sameHost ? now.holder.record : undefined;
      const mine = rec?.tasks.filter(isMine) ?? [];
      if (!rec || isAlive(rec) || mine.length === 0) {
        return { ok: false, state: now };
      }
      this.removeStale(judged);
      const r = await this.mkdirAndClaim(info, newToken());
      if (r.ok) {
        r.handle.setTasks(mine);
      }
      return r;
    });
  }

  /**
   * Stops the tasks of an orphan (see orphan.ts) whose record has `token`, and takes the lock. One caller at a time
   * (the reclaim mutex): the others find the lock taken. Not ok when the lock is no longer that orphan's, or its
   * tasks did not end; `wait: false` gives up at once (undefined) while another caller is at it.
   */
  async takeFromOrphan(info: HolderInfo, token: string, wait = true): Promise<AcquireResult | undefined> {
    const take = async (): Promise<AcquireResult> => {
      const judged = this.folderId();
      const rec = orphanOf(this.inspect());
      if (rec?.token !== token || !(await stopTasks(rec.tasks))) {
        return { ok: false, state: this.inspect() };
      }
      this.removeStale(judged);
      return this.mkdirAndClaim(info, newToken());
    };
    return wait ? this.withReclaimMutex(take) : this.withReclaimMutex(take, false);
  }

  /**
   * Removes a stale lock, re-checking staleness at that moment under the reclaim mutex (never a blind
   * removal). A live holder is refused unless `force`; a forced holder learns it as a compromise. When a
   * forced holder's tasks still run on this host, the lock stays held until they have ended (takeAway).
   */
  async reclaim(opts: { force?: boolean } = {}): Promise<ReclaimResult> {
    if (!opts.force) {
      await watchHeartbeat(this);
    }
    return this.withReclaimMutex(async () => {
      let judged = this.folderId();
      let now = this.inspect();
      // A folder without a record that was born just now is being taken: removed now, its taker and the next one
      // would both take the next folder for their own. Its record comes, or it outgrows being new.
      for (let waited = 0; opts.force && unrecordedAndNew(this, now) && waited < TAKING_MS; waited += 20) {
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
        const stillRunning = takeAway(this);
        return { result: 'reclaimed', previous: now, ...(stillRunning.length > 0 ? { stillRunning } : {}) };
      }
      this.removeStale(judged);
      return { result: 'reclaimed', previous: now };
    });
  }

  /** The handoff reservation, if a file is there: in effect, over, or bad. */
  reservation(): ReservationView | undefined {
    return viewReservation(this.location.reservationPath);
  }

  /** Removes a reservation file that is over or bad, and says what it removed (see handoff.ts). */
  clearReservation(): Promise<ReservationView | undefined> {
    return clearReservation(this);
  }

  /** Asks the live holder to hand the lock over; see handoff.ts. */
  requestHandoff(info: HolderInfo, opts: { timeoutMs?: number } = {}): Promise<LockHandle> {
    return requestHandoff(this, info, opts);
  }

  /** Asks the live holder to stop its tasks and release, taking nothing; see handoff.ts. */
  requestRelease(info: HolderInfo, opts: { timeoutMs?: number } = {}): Promise<LockState> {
    return requestRelease(this, info, opts);
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
      throw new LockError('io', `Cannot take the lock in ${this.location.home}: ${errorMessage(err)}`, { facts: { problem: 'cannot-take', path: this.location.home, detail: errorMessage(err) } });
    }
    try {
      const st = fs.statSync(this.location.lockDir);
      // Another taker may stat this same folder as its own (see claim.ts): exactly one of them claims it.
      if (!takeClaim(this.location, lockIdOf(st))) {
        disownFolder(lockIdOf(st));
        await release();
        return { ok: false, state: this.inspect() };
      }
      ownFolder(lockIdOf(st));
      const reservation = readReservation(this.location.reservationPath);
      if (reservation && reservation.token !== token && reservation.until > Date.now()) {
        await release();
        dropClaim(this.location, lockIdOf(st), this.folderId());
        return { ok: false, state: this.inspect(), reserved: true };
      }
      const socketPath = socketPathFor(this.socketKey);
      // A predecessor that lost this lock may still be stopping its command: ours starts after it (a frozen
      // one is waited for a bounded time: README, "Guarantees and limits").
      await predecessorGone(socketPath);
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
      await handle.open(socketPath);
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
      sweepClaims(this.location, () => this.folderId());
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
      throw new LockError('io', `Took the lock in ${this.location.home} but could not record the holder: ${errorMessage(err)}`, { facts: { problem: 'cannot-record', path: this.location.home, detail: errorMessage(err) } });
    }
  }

  /** The lock folder's identity now ('none' without one). For the engine's own modules. */
  folderId(): string {
    const st = statOrNull(this.location.lockDir);
    return st === null ? 'none' : lockIdOf(st);
  }

  /**
   * Only under the reclaim mutex, after the lock was judged stale (or a reclaim is forced), and only the folder
   * that was judged (`judged`, its identity when it was judged): another may stand there by now (a release that
   * removed a folder it took for its own a moment earlier, then a taker's new one), and removing that let two
   * holders take the lock (found by the soak).
   */
  removeStale(judged: string): void {
    if (this.folderId() !== judged) {
      return;
    }
    const rec = readRecord(this.location.recordPath);
    if (rec.kind !== 'none') {
      fs.rmSync(this.location.recordPath, { force: true });
    }
    try {
      fs.rmdirSync(this.location.lockDir);
      // Its claim goes with it: where folders reuse one identity (no birth times), a claim left by a killed
      // holder would make every next taker lose, for good.
      dropClaim(this.location, judged, 'none');
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') {
        dropClaim(this.location, judged, 'none');
        return;
      }
      const hint = code === 'ENOTEMPTY' ? ' It holds files that Task Lock did not put there: look at them, then remove the folder by hand.' : '';
      throw new LockError('reclaim-failed', `Cannot remove the stale lock ${this.location.lockDir}: ${errorMessage(err)}.${hint}`, { facts: { ...(hint ? { problem: 'foreign-files' as const } : {}), path: this.location.lockDir, detail: errorMessage(err) } });
    }
  }

  /**
   * Runs `fn` under the reclaim mutex; with `wait` false, undefined at once when someone else holds it. For the
   * engine's own modules (handoff.ts): what removes files in the lock home runs under it.
   */
  async withReclaimMutex<T>(fn: () => T | Promise<T>): Promise<T>;
  async withReclaimMutex<T>(fn: () => T | Promise<T>, wait: false): Promise<T | undefined>;
  async withReclaimMutex<T>(fn: () => T | Promise<T>, wait = true): Promise<T | undefined> {
    return withMutex(this.location, fn, wait);
  }

}

export function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      return null;
    }
    throw err;
  }
}
