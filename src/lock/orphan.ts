// An orphan: a holder on this host whose own process has gone (a closed window's extension host, a killed
// `task-lock run`) while the tasks it recorded still run (the terminal host keeps a closed window's terminals
// for its reconnection grace: minutes to hours). The lock stays held by those tasks; this is how they are
// stopped, so that another holder may take the lock and run them instead.
import { readFileSync, readdirSync } from 'node:fs';
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
export function groupLedBy(pid: number): boolean {
  return process.platform === 'linux' && Number(statFields(pid)?.[2]) === pid;
}

/**
 * The fields of /proc/<pid>/stat after the command name (state first, then ppid, pgrp, …), or undefined when it
 * cannot be read. The name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
 */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * Sends `sig` to a task's process, and to its process group when the task leads one (its children too), as a
 * user's Ctrl+C in its terminal would. Checked by pid and start time right before (a null start: by pid only).
 */
export function signalTask(t: ProcessRef, sig: NodeJS.Signals): void {
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

/**
 * Whether any process of the groups `pgids` still runs (a member that ignored the group's SIGTERM, say). A zombie
 * runs nothing: one whose parent does not reap it (a container's init) must not count, so /proc is read on Linux,
 * once for all the groups.
 */
function anyGroupAlive(pgids: readonly number[]): boolean {
  if (pgids.length === 0) {
    return false;
  }
  if (process.platform === 'linux') {
    try {
      const wanted = new Set(pgids);
      return readdirSync('/proc').some((e) => {
        const fields = /^\d+$/.test(e) ? statFields(e) : undefined;
        return fields !== undefined && wanted.has(Number(fields[2])) && fields[0] !== 'Z' && fields[0] !== 'X';
      });
    } catch {
      // No /proc to read: the kernel's answer below.
    }
  }
  return pgids.some((pgid) => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (err) {
      // EPERM: a member exists that is not ours to signal; only ESRCH says the group is empty.
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  });
}

async function endedWithin(tasks: readonly TaskRef[], groups: readonly number[], ms: number): Promise<boolean> {
  for (let waited = 0, step = 10; ; waited += step, step = Math.min(100, step * 2)) {
    if (!tasks.some((t) => isAlive(t)) && !anyGroupAlive(groups)) {
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
 * SIGKILL for what still runs after ORPHAN_TERM_MS. A task's children count too: a shell ends at once on
 * SIGTERM, while its server may take its time or ignore it, and a lock taken then would start a second copy
 * beside it. True once none of them runs. A task without a start time to check (a record from a platform that
 * gives none) is not signalled: a reused pid would be someone else's process.
 */
export async function stopOrphanTasks(rec: HolderRecord): Promise<boolean> {
  const tasks = rec.tasks.filter((t) => isAlive(t));
  if (tasks.some((t) => t.start === null || t.start === 'win32')) {
    return false;
  }
  return stopTasks(tasks);
}

/**
 * Stops recorded tasks, each checked by pid and start time: SIGTERM (to the process group a task's shell leads),
 * SIGKILL for what still runs after ORPHAN_TERM_MS. True once none of them, and none of their groups, runs.
 */
export function stopTasks(tasks: readonly TaskRef[]): Promise<boolean> {
  const alive = tasks.filter((t) => isAlive(t));
  const groups = alive.filter((t) => groupLedBy(t.pid)).map((t) => t.pid);
  alive.forEach((t) => signalTask(t, 'SIGTERM'));
  return endOrKill(alive, groups, ORPHAN_TERM_MS);
}

/**
 * After a task's process ended: the rest of the process group it led (children that outlive a shell's SIGTERM),
 * given `ms` to end, then SIGKILL. True once no member runs. For a holder's own stop (running.ts) as for an orphan.
 */
export function endGroups(groups: readonly number[], ms: number): Promise<boolean> {
  return endOrKill([], groups, ms);
}

/** Gives `tasks` and `groups` `ms` to end, then SIGKILL to what still runs. True once none of them runs. */
async function endOrKill(tasks: readonly TaskRef[], groups: readonly number[], ms: number): Promise<boolean> {
  if (await endedWithin(tasks, groups, ms)) {
    return true;
  }
  tasks.forEach((t) => signalTask(t, 'SIGKILL'));
  // A group whose leader has ended gets its SIGKILL by group: its members still run the task.
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // Empty by now.
    }
  }
  return endedWithin(tasks, groups, ORPHAN_KILL_MS);
}
