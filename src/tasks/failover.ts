// A follower's memory of the other holder, and what it does when the lock frees: the decision is
// model/policy.ts's onLockFree; this keeps the state that decision needs between two looks at the lock.
import { HolderRecord, LockState, ProcessRef, isAlive } from '../lock';
import { onLockFree, onOrphan, type FreeDecision } from '../model/policy';
import type { Settings } from '../model/settings';
import type { FolderLog } from './running';

export class Failover {
  constructor(private readonly log: FolderLog) {}

  /** The other holder last seen: when the lock frees, its fate decides whether this window fails over. */
  private lastHolder: HolderRecord | undefined;
  /** When the lock was first seen free after the last holder: the grace for telling an exit from a release. */
  private freeSeenAt: number | undefined;
  private recheck: NodeJS.Timeout | undefined;
  /** The orphan already told of in the log, and when this window first saw it. */
  private orphanSeen: string | undefined;
  private orphanSeenAt = 0;
  /**
   * Set when this window lost its lock underneath: the tasks it stops, as "pid start" (a forced reclaim's record
   * lists them as its tasks until they end). Cleared when it holds the lock again or another holder has.
   */
  private lostWith: Set<string> | undefined;
  private lostTold = false;

  /** This window lost its lock underneath and stops `tasks`: it takes nothing back by itself (policy's lostHere). */
  lost(tasks: ProcessRef[]): void {
    this.forget();
    this.lostWith = new Set(tasks.map(processKey));
    this.lostTold = false;
  }

  /** This window holds the lock (again). */
  held(): void {
    this.forget();
    this.lostWith = undefined;
  }

  /** The holder this window would take over from, if any. */
  get previous(): HolderRecord | undefined {
    return this.lastHolder;
  }

  /**
   * A state seen in a window that does not hold the lock. A holder is remembered; a free or stale lock is
   * decided on. `lookAgain` runs when the decision needs a second look.
   */
  observe(state: LockState, cause: string, settings: Settings, trusted: boolean, lookAgain: () => void): FreeDecision | { action: 'take-orphan'; token: string } {
    if (state.state === 'held' && state.holder.record) {
      const rec = state.holder.record;
      if (rec.tasks.some((t) => this.lostWith?.has(processKey(t)))) {
        // The forced record naming tasks this window stops: not an orphan to move here (that would run them again).
        return { action: 'nothing' };
      }
      // Someone else holds it now: from here on this window follows that holder as any other window does.
      this.lostWith = undefined;
      if (this.lastHolder?.token !== rec.token) {
        this.freeSeenAt = undefined;
      }
      this.lastHolder = rec;
      const since = state.holder.orphanedSinceMs;
      if (since === undefined) {
        return { action: 'nothing' };
      }
      // Its process is gone and its tasks run on: the engine's watcher sees no change while they do, so this
      // looks again when the grace is over.
      if (this.orphanSeen !== rec.token) {
        this.orphanSeenAt = Date.now();
      }
      // The grace counts from this window's first sight of it, not from its last heartbeat (up to stale/2 before
      // it went, or dated ahead by a touch -d): a Reload Window always gets its grace, and the timer never overflows.
      const graceMs = settings.orphanGraceSeconds * 1000;
      const orphanedForMs = Date.now() - this.orphanSeenAt;
      const d = onOrphan({ kind: rec.kind, orphanedForMs, graceMs, failover: settings.failover, trusted });
      if (this.orphanSeen !== rec.token) {
        this.orphanSeen = rec.token;
        this.log.info(`the holder ${rec.label} (pid ${rec.pid}) is gone while ${rec.tasks.map((t) => t.name).join(', ')} ${rec.tasks.length === 1 ? 'runs' : 'run'} on${d.action === 'nothing' ? '' : `: moving ${rec.tasks.length === 1 ? 'it' : 'them'} here once taskLock.orphanGraceSeconds (${settings.orphanGraceSeconds}) is over`}`);
      }
      if (d.action === 'look-again') {
        clearTimeout(this.recheck);
        this.recheck = setTimeout(lookAgain, Math.min(d.afterMs, graceMs));
      }
      return d.action === 'take-orphan' ? { action: 'take-orphan', token: rec.token } : { action: 'nothing' };
    }
    if (state.state !== 'free' && state.state !== 'stale') {
      return { action: 'nothing' };
    }
    const prev = this.lastHolder;
    if (prev && state.state === 'free') {
      this.freeSeenAt ??= Date.now();
    }
    const d = onLockFree({
      state: state.state,
      cause,
      previous: prev ? { kind: prev.kind, alive: isAlive(prev) } : undefined,
      failover: settings.failover,
      autoStart: settings.autoStart,
      trusted,
      freeForMs: this.freeSeenAt === undefined ? 0 : Date.now() - this.freeSeenAt,
      lostHere: this.lostWith !== undefined,
    });
    switch (d.action) {
      case 'nothing':
        break;
      case 'look-again':
        clearTimeout(this.recheck);
        this.recheck = setTimeout(lookAgain, d.afterMs);
        break;
      case 'stay-quiet':
        this.forget();
        if (d.why !== 'lost-here') {
          this.log.info(`not failing over: ${d.why === 'failover-off' ? 'taskLock.failover is off' : 'the workspace is not trusted'}`);
        } else if (!this.lostTold) {
          this.lostTold = true;
          this.log.info('not taking the lock back: it was taken or removed underneath this window (Start Guarded Tasks runs the tasks again)');
        }
        break;
      case 'released':
        this.forget();
        this.log.info(`the holder ${prev?.label ?? '?'} (pid ${prev?.pid ?? '?'}) released the lock: not starting anything`);
        break;
      case 'take':
        this.forget();
    }
    return d;
  }

  /** This window holds the lock now, or the decision was made: nothing to remember. */
  forget(): void {
    this.lastHolder = undefined;
    this.freeSeenAt = undefined;
    clearTimeout(this.recheck);
  }
}

/** A process by pid and start time: a pid reused by another process is another key. */
function processKey(p: ProcessRef): string {
  return `${p.pid} ${p.start ?? ''}`;
}
