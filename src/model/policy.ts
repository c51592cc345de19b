// The decisions a folder's guard makes, lifted out of it behind narrow inputs so that each one reads (and is
// tested) as a table of rules. Pure: no vscode, no I/O; process liveness arrives as `isAlive`.
import type { HolderKind, HolderRecord, LockState, ProcessRef } from '../lock';

export type IsAlive = (ref: ProcessRef) => boolean;

/** A holder that removed its lock without a goodbye may still be exiting: look again this often meanwhile. */
export const EXIT_RECHECK_MS = 100;
/** How long a holder may outlive its lock's removal before that counts as a release rather than an exit. */
export const EXIT_GRACE_MS = 1_500;

export interface FreeInput {
  state: 'free' | 'stale';
  /** Why the lock was looked at (the watcher's cause: `holder-released`, `holder-handoff`, `changed`, …). */
  cause: string;
  /** The other holder this window last saw, and whether its process still lives. */
  previous: { kind: HolderKind; alive: boolean } | undefined;
  failover: boolean;
  autoStart: boolean;
  trusted: boolean;
  /** Milliseconds since this window first saw the lock free after that holder (0 the first time). */
  freeForMs: number;
  /**
   * This window lost its lock underneath (a forced reclaim, a removed lock home) and stopped its tasks, and no
   * other holder has held the lock since.
   */
  lostHere: boolean;
}

export type FreeDecision =
  | { action: 'nothing' }
  | { action: 'stay-quiet'; why: 'failover-off' | 'untrusted' | 'lost-here' }
  | { action: 'released' }
  | { action: 'look-again'; afterMs: number }
  | { action: 'take'; start: boolean };

/**
 * The lock became free or stale in a window that does not hold it. A holder that released on purpose (a
 * window whose user stopped the tasks) leaves the lock free and nobody starts anything. A dead holder (its
 * process gone), a stale lock, or a CLI run that ended fails over: one waiting window takes the lock and,
 * with autoStart, starts the tasks. A window that lost the lock underneath takes nothing back by itself.
 */
export function onLockFree(i: FreeInput): FreeDecision {
  if (!i.previous && i.state !== 'stale') {
    return { action: 'nothing' };
  }
  if (!i.failover) {
    return { action: 'stay-quiet', why: 'failover-off' };
  }
  if (!i.trusted) {
    return { action: 'stay-quiet', why: 'untrusted' };
  }
  if (i.lostHere) {
    // It told the user its tasks were stopped: taking the lock back would run them again a moment later, behind
    // their back and against whoever forced the lock away. Other windows fail over as usual; the user starts here.
    return { action: 'stay-quiet', why: 'lost-here' };
  }
  if (i.state === 'free' && i.previous?.kind === 'vscode' && i.previous.alive) {
    // A window that exits removes its lock a moment before its process ends, without a goodbye; a window
    // whose user stopped the tasks says goodbye and lives on. Look again shortly before deciding.
    if (i.cause === 'holder-released' || i.cause === 'holder-handoff' || i.freeForMs > EXIT_GRACE_MS) {
      return { action: 'released' };
    }
    return { action: 'look-again', afterMs: EXIT_RECHECK_MS };
  }
  return { action: 'take', start: i.autoStart };
}

export interface OrphanInput {
  /** The gone holder's kind: only a window's orphan is moved by itself. */
  kind: HolderKind;
  /** Milliseconds since the holder went (its last heartbeat). */
  orphanedForMs: number;
  graceMs: number;
  failover: boolean;
  trusted: boolean;
}

export type OrphanDecision = { action: 'nothing' } | { action: 'look-again'; afterMs: number } | { action: 'take-orphan' };

/**
 * The holder's process is gone while its tasks run on (an orphan). A closed window's terminals live on for the
 * reconnection grace (minutes to hours on remote and code-server windows): after `graceMs`, which leaves time
 * for Reload Window to re-adopt its tasks, a waiting window moves them (stops them, takes the lock, starts
 * them). A `task-lock run` whose CLI was killed runs a terminal command no window can start again: it is left
 * to its user (Take Over asks first).
 */
export function onOrphan(i: OrphanInput): OrphanDecision {
  if (i.kind !== 'vscode' || !i.failover || !i.trusted) {
    return { action: 'nothing' };
  }
  const left = i.graceMs - i.orphanedForMs;
  return left > 0 ? { action: 'look-again', afterMs: left } : { action: 'take-orphan' };
}

export type TaskStartDecision = 'track' | 'stop-intruder' | 'run-unguarded' | 'claim';

/**
 * A guarded task of this folder started in this window, by anyone (VS Code offers no veto before it spawns).
 * `ownPid`: this process, whose own record (a release in progress) is no other holder.
 */
export function onTaskStart(i: { isHolder: boolean; usable: boolean; state: LockState; ownPid: number }): TaskStartDecision {
  if (i.isHolder) {
    return 'track';
  }
  const s = i.state;
  if ((s.state === 'held' || s.state === 'mine') && s.holder.record?.pid !== i.ownPid) {
    return 'stop-intruder';
  }
  if (!i.usable || s.state === 'error') {
    // Without a usable lock there is nothing to guard with: let it run and say why.
    return 'run-unguarded';
  }
  // The lock looks free or stale (or is our own, being released): take it, then let the task run.
  return 'claim';
}

export type GuardChangeDecision = 'start' | 'release' | 'nothing';

/**
 * What is guarded changed (taskLock.tasks, or a compound task's dependsOn tree in tasks.json) and this window
 * took in or let go of its running tasks (`letGo`: some left the guard and run on, unguarded). In the holder,
 * a guarded label that does not run here starts, as it would at startup (autoStart); a holder left running
 * nothing guarded lets the lock go, as when its last task ends: the other windows start nothing.
 */
export function afterGuardChange(i: { isHolder: boolean; autoStart: boolean; missing: number; runningHere: number; letGo: boolean }): GuardChangeDecision {
  if (!i.isHolder) {
    return 'nothing';
  }
  if (i.autoStart && i.missing > 0) {
    return 'start';
  }
  return i.letGo && i.runningHere === 0 ? 'release' : 'nothing';
}

export type StartupDecision = 'nothing' | 'claim-running' | 'start';

/** At activation, after any re-adoption: what a window that does not hold the lock does with it. */
export function atStartup(i: { isHolder: boolean; state: LockState; runningHere: number; autoStart: boolean; trusted: boolean }): StartupDecision {
  if (i.isHolder || (i.state.state !== 'free' && i.state.state !== 'stale')) {
    return 'nothing';
  }
  if (i.runningHere > 0) {
    // Guarded tasks already run here (settings changed, or a reload after the lock was lost): claim them.
    return 'claim-running';
  }
  return i.autoStart && i.trusted ? 'start' : 'nothing';
}

/**
 * Guarded tasks that run in this window at activation while another holder lives were started before the
 * extension was active (`runOn: folderOpen` runs before onStartupFinished): they are second copies. Only
 * against a live holder: the tasks of a dead one may be these very executions, not adopted this time.
 */
export function stopsEarlyCopies(i: { isHolder: boolean; runningHere: number; state: LockState; isAlive: IsAlive }): boolean {
  const s = i.state;
  if (i.isHolder || i.runningHere === 0 || (s.state !== 'held' && s.state !== 'mine')) {
    return false;
  }
  const r = s.holder.record;
  return !r || !s.holder.sameHost || i.isAlive(r);
}

/**
 * After an extension host restart the lock's holder is our dead predecessor, and our terminals may run its
 * tasks: the record worth trying to re-adopt, if any.
 */
export function readoptCandidate(state: LockState, isAlive: IsAlive): HolderRecord | undefined {
  const rec = state.state === 'held' ? state.holder.record : undefined;
  if (!rec || rec.kind !== 'vscode' || rec.tasks.length === 0 || isAlive(rec)) {
    return undefined;
  }
  return rec;
}

/**
 * Take Over failed: is the holder dead (so a forced reclaim is the way on) or alive (so only it can act)?
 * Dead means stale, or a same-host holder whose process and tasks have all exited.
 */
export function holderIsDead(state: LockState, isAlive: IsAlive): boolean {
  if (state.state === 'stale') {
    return true;
  }
  if (state.state !== 'held' || !state.holder.sameHost || !state.holder.record) {
    return false;
  }
  const r = state.holder.record;
  return !isAlive(r) && !r.tasks.some((t) => isAlive(t));
}
