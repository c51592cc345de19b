import * as fs from 'node:fs';
import * as lockfile from 'proper-lockfile';
import { ByeReason, HolderChannel, Message, connect, send, socketPathFor } from './channel';
import { LockError, errnoCode, errorMessage } from './errors';
import { Disposable, Emitter } from './events';
import { LocationOptions, LockLocation, folderHash, locate } from './location';
import { hostname, isAlive, processStart, selfRef } from './process-identity';
import { HolderKind, HolderRecord, TaskRef, newToken, readRecord, removeRecordIfOwned, writeRecord } from './record';
import { LockState, describeHolder, judge, lockIdOf } from './state';
import { LockWatcher, WatchEvent } from './watcher';

export interface LockOptions extends LocationOptions {
  /** How old a heartbeat may be before a holder on another host counts as dead. Default 10 s, at least 2 s. */
  staleMs?: number;
}

export interface HolderInfo {
  kind: HolderKind;
  label: string;
}

export const DEFAULT_STALE_MS = 10_000;
export const MIN_STALE_MS = 2_000;

/** Every process must agree on these, so they derive from the one setting users see. */
export function lockTimings(staleMs = DEFAULT_STALE_MS): { stale: number; update: number } {
  const stale = Math.max(MIN_STALE_MS, Math.round(staleMs));
  return { stale, update: Math.max(1000, Math.floor(stale / 2)) };
}

/** `reserved`: the lock is free but reserved for the requester of a handoff for a few seconds. */
export type AcquireResult = { ok: true; handle: LockHandle } | { ok: false; state: LockState; reserved?: boolean };

export type ReclaimResult =
  | { result: 'nothing'; state: LockState }
  | { result: 'reclaimed'; previous: LockState }
  | { result: 'alive'; state: LockState };

export interface HandoffRequest {
  requester: { kind: string; label: string; pid: number };
  /** Call once the tasks are stopped: the lock is released and reserved for the requester. */
  accept(): Promise<void>;
  refuse(reason: string): void;
}

/** Reserved for the requester of a handoff this long; after it anybody may take the lock again. */
const RESERVATION_MS = 5_000;

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
      const r = await this.mkdirAndClaim(info, token);
      if (r.ok || r.state.state !== 'stale') {
        return r;
      }
    } else if (first.state !== 'stale') {
      return { ok: false, state: first };
    }
    return this.withReclaimMutex(async () => {
      const now = this.inspect();
      if (now.state === 'stale') {
        this.removeStale();
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
    return this.withReclaimMutex(() => {
      const now = this.inspect();
      if (now.state === 'free' || now.state === 'error') {
        return { result: 'nothing', state: now };
      }
      if (now.state !== 'stale' && !opts.force) {
        return { result: 'alive', state: now };
      }
      this.removeStale();
      return { result: 'reclaimed', previous: now };
    });
  }

  /**
   * Asks the live holder to hand the lock over. The holder's owner answers (after stopping its tasks);
   * the lock is then reserved for this caller, who takes it. No answer within `timeoutMs` is an error.
   */
  async requestHandoff(info: HolderInfo, opts: { timeoutMs?: number } = {}): Promise<LockHandle> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const state = this.inspect();
    if (state.state === 'free' || state.state === 'stale') {
      const r = await this.tryAcquire(info);
      if (r.ok) {
        return r.handle;
      }
      if (r.reserved) {
        throw new LockError('held', 'The lock is being handed over to someone else right now; try again in a few seconds.');
      }
      // Someone took it meanwhile: ask them.
      return this.requestHandoff(info, opts);
    }
    if (state.state !== 'held') {
      throw new LockError('io', state.state === 'error' ? state.message : 'This process already holds the lock.');
    }
    const rec = state.holder.record;
    if (!rec || !state.holder.sameHost || !rec.socket) {
      throw new LockError('not-same-host', `The holder, ${describeHolder(state.holder)}, cannot be asked from here: it is not on this host or has no channel.`);
    }
    const token = newToken();
    const id = newToken();
    const answer = await new Promise<'accepted' | { refused: string } | 'no-answer' | 'gone'>((resolve) => {
      const timer = setTimeout(() => finish('no-answer'), timeoutMs);
      let settled = false;
      const finish = (v: 'accepted' | { refused: string } | 'no-answer' | 'gone'): void => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          socket.destroy();
          resolve(v);
        }
      };
      const socket = connect(rec.socket as string, {
        onMessage: (m) => {
          if (m.t === 'handoff-accepted' && m.id === id) {
            finish('accepted');
          } else if (m.t === 'handoff-refused' && m.id === id) {
            finish({ refused: m.reason });
          }
        },
        onClose: () => finish('gone'),
      });
      socket.ref();
      send(socket, { t: 'handoff', id, token, kind: info.kind, label: info.label, pid: process.pid });
    });
    if (answer === 'no-answer') {
      throw new LockError('handoff-no-answer', `The holder, ${describeHolder(state.holder)}, did not answer within ${Math.round(timeoutMs / 1000)} s.`);
    }
    if (typeof answer === 'object') {
      throw new LockError('handoff-refused', `The holder, ${describeHolder(state.holder)}, refused: ${answer.refused}`);
    }
    // Accepted, or the holder went away meanwhile: either way the lock is (about to be) free or reserved for us.
    return this.acquire(info, { waitMs: RESERVATION_MS, token }).catch((err: unknown) => {
      throw err instanceof LockError && err.code === 'timeout' && answer === 'gone'
        ? new LockError('handoff-no-answer', `The holder, ${describeHolder(state.holder)}, closed the channel without handing over.`)
        : err;
    });
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
        label: info.label,
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

function readReservation(p: string): { token: string; until: number } | undefined {
  try {
    const text = fs.readFileSync(p, 'utf8');
    if (text.length > 1024) {
      return undefined;
    }
    const d = JSON.parse(text) as { token?: unknown; until?: unknown };
    return typeof d.token === 'string' && typeof d.until === 'number' ? { token: d.token, until: d.until } : undefined;
  } catch {
    return undefined;
  }
}

const heldHandles = new Set<LockHandle>();
let exitHookInstalled = false;

/** The lock folder of a held lock whose recorded tasks still run: an exit must leave it to them. */
function keptForTasks(lockDir: string): boolean {
  for (const h of heldHandles) {
    if (h.lock.location.lockDir === lockDir && h.tasksAlive()) {
      return true;
    }
  }
  return false;
}

/**
 * proper-lockfile removes every lock it holds when its process exits, through signal-exit, on SIGINT and
 * SIGTERM too; that exit handler is its only user of rmdirSync. A lock whose tasks outlive the holder (a
 * window reloading, a launcher that crashed) must stay: the tasks hold it now. So proper-lockfile gets an
 * fs that spares such a lock there, and nowhere else.
 */
const lockFs: typeof fs = {
  ...fs,
  rmdirSync: (p: fs.PathLike, options?: fs.RmDirOptions) => {
    if (!keptForTasks(String(p))) {
      fs.rmdirSync(p, options);
    }
  },
};

function installExitHook(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  // On exit nothing async can run: release synchronously what is still held, except a lock whose tasks
  // still run, which stays with its record (the followers see a dead holder and live tasks: held).
  process.on('exit', () => {
    for (const h of heldHandles) {
      if (h.tasksAlive()) {
        h.leaveToTasks();
      } else {
        h.releaseSync();
      }
    }
  });
}

/** A held lock. Its owner records tasks on it, answers handoffs, and learns of a compromise. */
export class LockHandle {
  private readonly compromised = new Emitter<Error>();
  private readonly handoff = new Emitter<HandoffRequest>();
  private channel: HolderChannel | undefined;
  private released = false;
  private compromiseError: Error | undefined;

  /** Fires when the lock was removed or taken from under this holder; it holds nothing after that. */
  readonly onCompromised = this.compromised.event;
  /** Fires when another process asks for the lock. Without a listener, requests are refused. */
  readonly onHandoffRequest = this.handoff.event;

  constructor(
    readonly lock: WorkspaceLock,
    private rec: HolderRecord,
    private readonly unlock: () => Promise<void>,
  ) {}

  get record(): HolderRecord {
    return this.rec;
  }

  get isHeld(): boolean {
    return !this.released;
  }

  async open(socketPath: string): Promise<void> {
    try {
      this.channel = await HolderChannel.listen(socketPath, (m, reply) => this.onMessage(m, reply));
      this.rec = { ...this.rec, socket: this.channel.path };
    } catch {
      // Without a channel followers fall back to the heartbeat; the lock itself is still sound.
      this.rec = { ...this.rec, socket: null };
    }
    writeRecord(this.lock.location.recordPath, this.rec);
    heldHandles.add(this);
    installExitHook();
  }

  /** Records the processes whose life keeps the lock held, by pid and start time. */
  setTasks(tasks: Array<{ name: string; pid: number; start?: string | null }>): void {
    if (this.released) {
      return;
    }
    const refs: TaskRef[] = [];
    for (const t of tasks) {
      const start = processStart(t.pid);
      // A known start time must still match: the pid may have been reused meanwhile.
      if (start !== null && (t.start === undefined || t.start === null || t.start === start)) {
        refs.push({ name: t.name, pid: t.pid, start });
      }
    }
    this.rec = { ...this.rec, tasks: refs };
    writeRecord(this.lock.location.recordPath, this.rec);
  }

  async release(reason: ByeReason = 'released', beforeGoodbye?: () => void): Promise<void> {
    if (this.released) {
      return;
    }
    this.released = true;
    heldHandles.delete(this);
    removeRecordIfOwned(this.lock.location.recordPath, this.rec.token);
    try {
      await this.unlock();
    } catch {
      // ERELEASED after a compromise: nothing of ours is left to remove.
    }
    beforeGoodbye?.();
    this.channel?.close(reason);
    this.dispose();
  }

  /** Whether a recorded task still runs (by pid and start time). */
  tasksAlive(): boolean {
    return this.rec.tasks.some((t) => isAlive(t));
  }

  /** Process exit with tasks still running: the lock and the record stay; only the channel goes. */
  leaveToTasks(): void {
    this.channel?.closeSync();
  }

  /** Process exit: synchronous, and best effort. */
  releaseSync(): void {
    if (this.released) {
      return;
    }
    this.released = true;
    removeRecordIfOwned(this.lock.location.recordPath, this.rec.token);
    try {
      lockfile.unlockSync(this.lock.location.target, { realpath: false });
    } catch {
      // Already released or compromised.
    }
    this.channel?.closeSync();
  }

  markCompromised(err: Error): void {
    if (this.released) {
      return;
    }
    this.released = true;
    heldHandles.delete(this);
    this.compromiseError = err;
    // The record may be a new holder's by now: only ours is removed.
    removeRecordIfOwned(this.lock.location.recordPath, this.rec.token);
    this.channel?.close('compromised');
    this.compromised.fire(new LockError('io', `The lock in ${this.lock.location.home} was removed or taken over while held (${err.message}).`));
    this.dispose();
  }

  get compromise(): Error | undefined {
    return this.compromiseError;
  }

  private onMessage(m: Message, reply: (m: Message) => void): void {
    if (m.t !== 'handoff' || this.released) {
      return;
    }
    const requester = { kind: String(m.kind), label: String(m.label), pid: Number(m.pid) };
    if (this.handoff.size === 0) {
      reply({ t: 'handoff-refused', id: m.id, reason: 'it does not hand over (no owner is listening)' });
      return;
    }
    let answered = false;
    this.handoff.fire({
      requester,
      accept: async () => {
        if (answered || this.released) {
          return;
        }
        answered = true;
        writeReservation(this.lock.location.reservationPath, m.token);
        // The answer goes out after the unlock and before the goodbye, so the requester moves first.
        await this.release('handoff', () => reply({ t: 'handoff-accepted', id: m.id }));
      },
      refuse: (reason: string) => {
        if (!answered) {
          answered = true;
          reply({ t: 'handoff-refused', id: m.id, reason });
        }
      },
    });
  }

  private dispose(): void {
    this.compromised.dispose();
    this.handoff.dispose();
  }
}

function writeReservation(p: string, token: string): void {
  const tmp = `${p}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ token, until: Date.now() + RESERVATION_MS }));
  fs.renameSync(tmp, p);
}
