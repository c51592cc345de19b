// Stopping a holder's tasks by signal: an orphan's (a holder on this host whose own process has gone, a closed
// window's extension host or a killed `task-lock run`, while the tasks it recorded still run, the terminal host
// keeping a closed window's terminals for its reconnection grace), and a window's own re-adopted ones. The lock
// home is untrusted input: a record names pids, and only a process that proves to be the task it names is signalled.
import { type ProcessRef, groupMembers, isAlive, lookAt, mayBeSignalled, statFields } from './process-identity';
import type { HolderRecord, TaskRef } from './record';
import type { LockState } from './state';

/** How long the tasks get to end after SIGTERM, before SIGKILL; then how long SIGKILL may take. */
export const ORPHAN_TERM_MS = 3_000;
const ORPHAN_KILL_MS = 1_000;

/** The record of an orphaned holder, when `s` is one: held, on this host, its process gone, a task alive. */
export function orphanOf(s: LockState): HolderRecord | undefined {
  return s.state === 'held' && s.holder.orphanedSinceMs !== undefined ? s.holder.record : undefined;
}

/** Whether `pid` leads its own process group (a task's shell does: the terminal host starts it in a session of its own). */
export function groupLedBy(pid: number): boolean {
  return process.platform === 'linux' && Number(statFields(pid)?.[2]) === pid;
}

/**
 * What a signal to the recorded task `t` must go to, once `t` proves to be that task; undefined without proof. Its
 * process, checked by pid and start time and carrying the task's mark (mayBeSignalled), gets it, by its process
 * group when it leads one (its children too, as a user's Ctrl+C in its terminal would). A group whose leader has
 * ended gets it by group when a member still running carries the mark. `firstHand`: the caller knows the task from
 * the editor's own report (its table of executions, or terminals matched at re-adoption), not from a record in the
 * lock home: the mark is not needed then, the rest is.
 */
export function signalTarget(t: TaskRef, firstHand = false): number | undefined {
  const mark = firstHand ? null : t.mark;
  if (mark === undefined || t.start === null) {
    return undefined;
  }
  const look = lookAt(t.pid);
  if (look.kind === 'running') {
    return look.start === t.start && mayBeSignalled(t.pid, mark) ? (groupLedBy(t.pid) ? -t.pid : t.pid) : undefined;
  }
  if (look.kind === 'gone' && t.group === true) {
    return (groupMembers([t.pid]).get(t.pid) ?? []).some((m) => mayBeSignalled(m, mark)) ? -t.pid : undefined;
  }
  return undefined;
}

/** Whether the recorded task `t` proves to be that task (signalTarget): only then may anything stop it, or advise to. */
export function proven(t: TaskRef): boolean {
  return signalTarget(t) !== undefined;
}

/** Sends `sig` to a recorded task that proves to be one (signalTarget); false when nothing was sent. */
export function signalTask(t: TaskRef, sig: NodeJS.Signals, firstHand = false): boolean {
  const target = signalTarget(t, firstHand);
  if (target === undefined) {
    return false;
  }
  try {
    process.kill(target, sig);
    return true;
  } catch {
    // Ended meanwhile: the wait tells.
    return false;
  }
}

async function endedWithin(tasks: readonly ProcessRef[], ms: number): Promise<boolean> {
  for (let waited = 0, step = 10; ; waited += step, step = Math.min(100, step * 2)) {
    if (!tasks.some((t) => isAlive(t))) {
      return true;
    }
    if (waited >= ms) {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, step));
  }
}

/**
 * Stops recorded tasks as a user stopping them would: SIGTERM (to the process group a task leads: a shell ends at
 * once, while its server may take its time or ignore it, and a lock taken then would start a second copy beside
 * it), and SIGKILL for what still runs after ORPHAN_TERM_MS. True once none of them, nor a member of their groups,
 * runs. When a running task does not prove to be its record's (signalTarget), nothing at all is signalled: false.
 */
export function stopTasks(tasks: readonly TaskRef[], firstHand = false): Promise<boolean> {
  const alive = tasks.filter((t) => isAlive(t));
  if (!alive.every((t) => signalTarget(t, firstHand) !== undefined)) {
    return Promise.resolve(false);
  }
  alive.forEach((t) => signalTask(t, 'SIGTERM', firstHand));
  return endTasks(alive, ORPHAN_TERM_MS, firstHand);
}

/**
 * Gives `tasks` (their process groups too) `ms` to end, then SIGKILL to what proves to be theirs and still runs.
 * True once none of them runs. For a holder's own stop (running.ts, the CLI) as for an orphan's.
 */
export async function endTasks(tasks: readonly TaskRef[], ms: number, firstHand = false): Promise<boolean> {
  if (await endedWithin(tasks, ms)) {
    return true;
  }
  tasks.forEach((t) => signalTask(t, 'SIGKILL', firstHand));
  return endedWithin(tasks, ORPHAN_KILL_MS);
}
