// One folder's lock as this window sees it: the engine's lock, the handle while this window holds it, the
// last state seen, and one queue so that lock operations of the folder run one at a time. It knows nothing
// of tasks: its owner (FolderGuard) is told when the handle comes and supplies what to do with it.
import { LockError, LockHandle, LockState, WorkspaceLock, channelProblem, describeState, errorMessage, errorState, isAlive, orphanOf, proven, type Disposable, type HolderView, type WatchEvent } from '../lock';
import { readoptCandidate } from '../model/policy';
import { errorViewOf, summarize, type ErrorView, type HolderSummary } from '../model/status';
import type { ReclaimOutcome } from './events';
import type { FolderLog } from './running';

/** How long a fresh lock may go without its record before it is described as it is. */
const RECORD_WAIT_MS = 1_000;
const RECORD_WAIT_TRIES = 20;

export interface FolderLockOwner {
  readonly log: FolderLog;
  /** How this window names itself in the holder record. */
  readonly holderLabel: string;
  /** This window holds the lock now (taken, adopted or handed over): record tasks, answer requests. */
  onHeld(h: LockHandle): void;
  /** The state changed in a way a reader of the status would see. */
  changed(): void;
}

export class FolderLock {
  readonly lock: WorkspaceLock | undefined;
  readonly createError: string | undefined;
  /** Why there is no lock object, as data (createError's words in English). */
  private readonly createFailure: ErrorView | undefined;
  private handle: LockHandle | undefined;
  private state: LockState = { state: 'free' };
  private busy: Promise<unknown> = Promise.resolve();
  private watcher: Disposable | undefined;
  private closed = false;

  constructor(
    folder: string,
    options: { staleMs: number; lockDirectory: string | undefined },
    private readonly owner: FolderLockOwner,
  ) {
    try {
      this.lock = new WorkspaceLock(folder, options);
      if (this.lock.location.fallbackReason) {
        owner.log.warn(`lock home ${this.lock.location.home}: ${this.lock.location.fallbackReason}`);
      }
    } catch (err) {
      this.createError = errorMessage(err);
      this.state = errorState(err);
      this.createFailure = errorViewOf(err);
      owner.log.error(this.createError);
    }
  }

  get isHolder(): boolean {
    return this.handle?.isHeld === true;
  }

  /** The handle while this window holds the lock. */
  get held(): LockHandle | undefined {
    return this.isHolder ? this.handle : undefined;
  }

  /** This window as the holder, in the shape other windows see it. */
  get heldView(): HolderView | undefined {
    return this.held ? { record: this.held.record, sameHost: true, heartbeatAgeMs: 0 } : undefined;
  }

  get current(): LockState {
    return this.state;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Lock operations of this folder, one at a time, in the order asked. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.busy.then(fn, fn);
    this.busy = p.catch(() => undefined);
    return p;
  }

  /** Reads the lock from the disk now. */
  look(): LockState {
    if (this.lock) {
      this.state = this.lock.inspect();
    }
    return this.state;
  }

  /** A state the watcher saw; returns the one before. */
  saw(state: LockState): LockState {
    const prev = this.state;
    this.state = state;
    return prev;
  }

  watch(listener: (e: WatchEvent) => void): void {
    this.watcher = this.lock?.watch(listener);
  }

  /**
   * After an extension host restart the lock's holder is our dead predecessor, and our terminals may run its
   * recorded tasks: then this window takes the lock over with those tasks recorded.
   */
  async readopt(terminalPids: () => Promise<Set<number>>): Promise<LockHandle | undefined> {
    const rec = readoptCandidate(this.state, isAlive);
    if (!this.lock || !rec) {
      return undefined;
    }
    const pids = await terminalPids();
    const r = await this.lock.adopt({ kind: 'vscode', label: this.owner.holderLabel }, (t) => pids.has(t.pid));
    if (!r.ok) {
      this.state = r.state;
      return undefined;
    }
    this.owner.log.info(`re-adopted the lock: this window's terminals run ${r.handle.record.tasks.map((t) => `${t.name} (pid ${t.pid})`).join(', ')} of the dead holder pid ${rec.pid}`);
    this.take(r.handle);
    return r.handle;
  }

  /**
   * The pre-spawn gate of the `taskLock` task type: may this window start `name` now? It takes the lock when
   * it is free or stale; it says no, naming the holder, when another holder lives. Call it inside `serial`.
   */
  async admit(name: string): Promise<{ ok: true } | { ok: false; holder: HolderSummary }> {
    if (this.isHolder || !this.lock || this.state.state === 'error') {
      return { ok: true };
    }
    const admitted = await this.tryAcquire(`${name} asked to start (gated task)`);
    // tryAcquire() updated the state: TypeScript still narrows it from the check above.
    const now = this.state as LockState;
    // An unusable lock (its folder, say) is not the task's fault: it runs unguarded, as elsewhere.
    if (admitted || now.state === 'error') {
      return { ok: true };
    }
    const holder = now.state === 'free' ? { kind: 'unknown' as const, label: '?', tasks: [], description: describeState(now) } : summarize(now.holder);
    this.owner.log.info(`gate: ${name} not started: ${holder.description}`);
    return { ok: false, holder };
  }

  /**
   * A lock taken a moment ago may not have its record yet (the winner writes it right after its mkdir): wait
   * briefly for it, so that what this window says names the real holder, not "no holder record".
   */
  async settled(state: LockState): Promise<LockState> {
    let s = state;
    for (let i = 0; i < RECORD_WAIT_TRIES && this.lock && s.state === 'held' && s.holder.record === undefined && s.holder.heartbeatAgeMs < RECORD_WAIT_MS; i++) {
      await new Promise((resolve) => setTimeout(resolve, RECORD_WAIT_MS / RECORD_WAIT_TRIES));
      s = this.lock.inspect();
    }
    return s;
  }

  /** Tries once to take the lock (never waits): true when this window holds it afterwards. */
  async tryAcquire(why: string): Promise<boolean> {
    if (!this.lock) {
      return false;
    }
    if (this.isHolder) {
      return true;
    }
    try {
      const r = await this.lock.tryAcquire({ kind: 'vscode', label: this.owner.holderLabel });
      if (r.ok && this.closed) {
        // This guard was replaced or removed while it waited: nothing here would ever release it.
        await r.handle.release();
        return false;
      }
      if (r.ok) {
        this.owner.log.info(`took the lock: ${why}`);
        this.take(r.handle);
        return true;
      }
      this.state = await this.settled(r.state);
      this.owner.log.info(`could not take the lock (${why}): ${describeState(this.state)}${r.reserved ? ' (reserved for a handoff)' : ''}`);
    } catch (err) {
      this.state = errorState(err);
      this.owner.log.error(errorMessage(err));
    }
    this.owner.changed();
    return false;
  }

  /** A handle this window now holds, however it came. */
  take(h: LockHandle): void {
    this.handle = h;
    const noChannel = channelProblem();
    if (noChannel !== undefined && h.record.socket === null) {
      this.owner.log.warn(noChannel);
    }
    this.state = { state: 'mine', holder: { record: h.record, sameHost: true, heartbeatAgeMs: 0 } };
    this.owner.onHeld(h);
    this.owner.changed();
  }

  /** The handle is gone (handed over or compromised): forget it without releasing. */
  drop(h: LockHandle): boolean {
    if (this.handle !== h) {
      return false;
    }
    this.handle = undefined;
    return true;
  }

  async release(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h?.isHeld) {
      await h.release();
      this.owner.log.info('released the lock');
    }
    this.refresh();
  }

  /** After this window's own change to the lock: its state from the disk, and a render. */
  refresh(): void {
    this.look();
    this.owner.changed();
  }

  /** Asks the holder to hand over; the handle on success, else why not (and the holder it is about, when known). */
  async requestHandoff(timeoutMs: number): Promise<{ ok: true; handle: LockHandle } | { ok: false; error: ErrorView; holder?: HolderSummary }> {
    if (!this.lock) {
      return { ok: false, error: this.createFailure ?? { code: undefined, message: '' } };
    }
    try {
      return { ok: true, handle: await this.lock.requestHandoff({ kind: 'vscode', label: this.owner.holderLabel }, { timeoutMs }) };
    } catch (err) {
      const now = this.look();
      const named = err instanceof LockError ? err.facts.holder : undefined;
      const holder = named ?? (now.state === 'held' || now.state === 'stale' ? now.holder : undefined);
      return { ok: false, error: errorViewOf(err), ...(holder ? { holder: summarize(holder) } : {}) };
    }
  }

  /**
   * Stops the tasks of the orphan whose record has `token` (its window is gone, its tasks run on) and takes the
   * lock. With `wait` false, gives up at once while another window is at it. True when this window holds it.
   */
  async takeFromOrphan(token: string, why: string, wait: boolean): Promise<boolean> {
    if (!this.lock || this.isHolder) {
      return this.isHolder;
    }
    try {
      const r = await this.lock.takeFromOrphan({ kind: 'vscode', label: this.owner.holderLabel }, token, wait);
      if (r?.ok && this.closed) {
        await r.handle.release();
        return false;
      }
      if (r?.ok) {
        this.owner.log.info(`stopped the tasks of a holder that is gone and took the lock: ${why}`);
        this.take(r.handle);
        return true;
      }
      this.state = r?.state ?? this.look();
      // A task that does not prove to be the record's is never signalled (lock/orphan.ts): the user decides.
      const doubtful = (orphanOf(this.state)?.tasks ?? []).filter((t) => isAlive(t) && !proven(t));
      const doubt = doubtful.length === 0 ? '' : `; pid ${doubtful.map((t) => t.pid).join(', ')} cannot be proven to be its task (no Task Lock mark in its environment, or not your process): end it yourself if it is`;
      this.owner.log.info(`could not take the lock from the gone holder (${why}): ${r ? describeState(this.state) : 'another window is at it'}${doubt}`);
    } catch (err) {
      this.state = errorState(err);
      this.owner.log.error(errorMessage(err));
    }
    this.owner.changed();
    return false;
  }

  async reclaim(): Promise<ReclaimOutcome> {
    const lock = this.lock;
    if (!lock) {
      return { result: 'error', error: this.createFailure ?? { code: undefined, message: '' } };
    }
    try {
      const r = await lock.reclaim();
      this.refresh();
      this.owner.log.info(`reclaim: ${r.result === 'reclaimed' ? 'removed the stale lock' : r.result === 'nothing' ? 'there was no stale lock' : `the holder is alive: ${describeState(r.state)}`}`);
      if (r.result === 'alive') {
        return r.state.state === 'held' || r.state.state === 'mine' ? { result: 'alive', holder: summarize(r.state.holder) } : { result: 'nothing' };
      }
      return { result: r.result };
    } catch (err) {
      this.owner.log.error(`reclaim: ${errorMessage(err)}`);
      return { result: 'error', error: errorViewOf(err) };
    }
  }

  /** Stops watching; whatever is held stays held until `release` or the process exits. */
  close(): void {
    this.closed = true;
    this.watcher?.dispose();
    this.watcher = undefined;
  }

  /** The guard is replaced or removed: let the lock go behind whatever is under way, tasks left alone. */
  async letGo(): Promise<void> {
    this.close();
    await this.serial(async () => {
      const h = this.handle;
      this.handle = undefined;
      if (h?.isHeld) {
        await h.release();
      }
    });
  }
}
