// An orphan: a holder on this host whose own process has gone (a closed window's extension host, a killed
// `task-lock run`) while the tasks it recorded still run (the terminal host keeps a closed window's terminals
// for its reconnection grace: minutes to hours). The lock stays held by those tasks; this is how they are
// stopped, so that another holder may take the lock and run them instead.
import { readFileSync } from 'node:fs';
import { type ProcessRef, isAlive, processStart } from './process-identity';
import type { HolderRecord, TaskRef } from './record';
import type { LockState } from './state';

/** How long the tasks get to end after SIGTERM, before SIGKILL; then how long SIGKILL may take. */
export const ORPHAN_TERM_MS = 3_000;
const ORPHAN_KILL_MS = 1_000;

/** The record of an orphaned holder, when `s` is one: held, on this host, its process gone, a task alive. */
export function orphanOf(s: LockState): HolderRecord | undefined {
  return s.state === 'held' && s.holder.orphanedSinceMs !== undefined ? s.holder.record : undefined;
}

/**
 * The process group `pid` leads, if it leads one: a task's shell leads its own group (the terminal host starts it
 * in a session of its own), and its children (npm, then node) are in it. Anything else gets the signal alone.
 */
function groupLedBy(pid: number): boolean {
  if (process.platform !== 'linux') {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pid;
  } catch {
    return false;
  }
}

/**
 * Sends `sig` to a task's process, and to its process group when the task leads one (its children too), as a
 * user's Ctrl+C in its terminal would. Checked by pid and start time right before (a null start: by pid only).
 */
export function signalTask(t: ProcessRef, sig: NodeJS.Signals): void {
  signal(t, sig);
}

function signal(t: ProcessRef, sig: NodeJS.Signals): void {
  // Checked by pid and start time right before: a pid reused since the record was written is not signalled.
  if (!isAlive(t) || processStart(t.pid) === null) {
    return;
  }
  try {
    process.kill(groupLedBy(t.pid) ? -t.pid : t.pid, sig);
  } catch {
    // Ended meanwhile, or not ours to signal (EPERM): the wait below tells which.
  }
}

async function endedWithin(tasks: readonly TaskRef[], ms: number): Promise<boolean> {
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
 * Stops an orphan's tasks as a user stopping them would: SIGTERM (to the process group a task's shell leads), and
 * SIGKILL for what still runs after ORPHAN_TERM_MS. True once none of them runs.
 */
export async function stopOrphanTasks(rec: HolderRecord): Promise<boolean> {
  const tasks = rec.tasks.filter((t) => isAlive(t));
  tasks.forEach((t) => signal(t, 'SIGTERM'));
  if (await endedWithin(tasks, ORPHAN_TERM_MS)) {
    return true;
  }
  tasks.forEach((t) => signal(t, 'SIGKILL'));
  return endedWithin(tasks, ORPHAN_KILL_MS);
}
