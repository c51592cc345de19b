import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import * as os from 'node:os';

/**
 * A process is named by its pid *and* its start time: pids are reused, and a lock that trusted a pid
 * alone could be kept alive forever by an unrelated process that happened to get the same number.
 */
export interface ProcessRef {
  pid: number;
  /** Opaque, comparable only on the host that produced it; null where the platform gives none. */
  start: string | null;
  /**
   * The process led a process group of its own when it was recorded (a task's shell, a `task-lock run`'s
   * command): the group's members are part of it, and it runs while any of them runs, after the leader ended too.
   */
  group?: boolean;
}

let bootId: string | undefined;

function linuxBootId(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = 'unknown-boot';
    }
  }
  return bootId;
}

/**
 * What can be learnt of a pid here:
 * - `running`, with its start time;
 * - `gone`: no such process (or a zombie: it runs nothing);
 * - `hidden`: it exists, but its start time cannot be read: another user's process behind `hidepid=1|2` on
 *   /proc (there /proc/<pid> is simply absent), or a /proc that denies the read.
 */
export type ProcessLook = { kind: 'running'; start: string } | { kind: 'gone' } | { kind: 'hidden' };

export function lookAt(pid: number): ProcessLook {
  if (!Number.isInteger(pid) || pid <= 0) {
    return { kind: 'gone' };
  }
  if (process.platform === 'linux') {
    const fields = statFields(pid);
    if (fields === undefined) {
      // A missing /proc entry is not a missing process: hidepid hides other users' processes entirely.
      // Only the kernel's own answer (ESRCH) says gone.
      return pidExists(pid) ? { kind: 'hidden' } : { kind: 'gone' };
    }
    const state = fields[0];
    const startTicks = fields[19];
    if (state === 'Z' || state === 'X') {
      return { kind: 'gone' };
    }
    if (startTicks === undefined) {
      return { kind: 'hidden' };
    }
    // The boot id makes start ticks unique across reboots too.
    return { kind: 'running', start: `${linuxBootId()}:${startTicks}` };
  }
  if (process.platform === 'win32') {
    // Windows gives no cheap start time to Node; existence is the best we have, and the heartbeat backs it.
    return pidExists(pid) ? { kind: 'running', start: 'win32' } : { kind: 'gone' };
  }
  try {
    const out = execFileSync('ps', ['-o', 'lstart=,stat=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (out === '' || /\sZ\S*$/.test(out)) {
      return pidExists(pid) && out === '' ? { kind: 'hidden' } : { kind: 'gone' };
    }
    return { kind: 'running', start: out.replace(/\s+\S+$/, '') };
  } catch {
    // ps exits non-zero for a pid it does not list; a restricted ps hides other users' processes as well.
    return pidExists(pid) ? { kind: 'hidden' } : { kind: 'gone' };
  }
}

/**
 * The fields of /proc/<pid>/stat after the command name (state first, then ppid, pgrp, …), or undefined when it
 * cannot be read. The name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
 */
export function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * The running members of the process groups `pgids`, by group (Linux: one /proc scan for all; a zombie runs
 * nothing, and one whose parent does not reap it, a container's init, must not count). Elsewhere, where processes
 * cannot be listed, a group with a member the kernel knows of gets an empty list: present, members unknown.
 */
export function groupMembers(pgids: readonly number[]): Map<number, number[]> {
  const found = new Map<number, number[]>();
  if (pgids.length === 0) {
    return found;
  }
  if (process.platform === 'linux') {
    try {
      const wanted = new Set(pgids);
      for (const e of readdirSync('/proc')) {
        const fields = /^\d+$/.test(e) ? statFields(e) : undefined;
        const pgrp = Number(fields?.[2]);
        if (fields !== undefined && wanted.has(pgrp) && fields[0] !== 'Z' && fields[0] !== 'X') {
          found.set(pgrp, [...(found.get(pgrp) ?? []), Number(e)]);
        }
      }
      return found;
    } catch {
      // No /proc to read: the kernel's answer below.
    }
  }
  for (const pgid of pgids) {
    try {
      process.kill(-pgid, 0);
      found.set(pgid, []);
    } catch (err) {
      // EPERM: a member exists that is not ours to signal; only ESRCH says the group is empty.
      if ((err as NodeJS.ErrnoException).code === 'EPERM') {
        found.set(pgid, []);
      }
    }
  }
  return found;
}

/** Start time of `pid`, or null when it does not exist, is a zombie, or cannot be inspected (see lookAt). */
export function processStart(pid: number): string | null {
  const look = lookAt(pid);
  return look.kind === 'running' ? look.start : null;
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user. Only ESRCH says it does not exist.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process a record names still runs. A process that exists but cannot be inspected (`hidden`)
 * counts as alive: its start time cannot be compared, so a reused pid could keep a dead holder's lock held,
 * but the other error would start a second copy beside a live one. A lock kept that way is freed when that
 * process ends, or by a forced reclaim; a live holder keeps its heartbeat either way.
 */
export function isAlive(ref: ProcessRef): boolean {
  const look = lookAt(ref.pid);
  if (look.kind === 'hidden') {
    return true;
  }
  // A record without a start time (written on a platform that has none) can only be checked by pid.
  if (look.kind === 'running' && (ref.start === null || ref.start === look.start)) {
    return true;
  }
  // The leader of a group has ended, and its members run on (a shell's server, a command's `&` child). No other
  // process can lead a group of that number meanwhile: the kernel reuses no pid that still names a group.
  return ref.group === true && look.kind === 'gone' && groupMembers([ref.pid]).has(ref.pid);
}

let self: ProcessRef | undefined;

export function selfRef(): ProcessRef {
  self ??= { pid: process.pid, start: processStart(process.pid) };
  return self;
}

let pidNs: string | null | undefined;

/**
 * This process's pid namespace (the inode of /proc/self/ns/pid), or null where there is none to read. Two
 * processes with the same host name but different pid namespaces (a container beside its host, or two
 * containers) cannot compare pids: the same number names different processes in each.
 */
export function pidNamespace(): string | null {
  if (pidNs === undefined) {
    try {
      // "pid:[4026531836]"
      pidNs = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? null;
    } catch {
      pidNs = null;
    }
  }
  return pidNs;
}

export function hostname(): string {
  return os.hostname();
}

/**
 * The environment variable every task a holder starts carries, set to the mark the holder records for the task
 * (TaskRef.mark): read back from the process before any signal, it proves the process is that task, which a pid
 * and a start time, readable by anyone from /proc, do not.
 */
export const MARK_VAR = 'TASK_LOCK_MARK';

/** This process and its ancestors, up to init: never to be signalled, whatever a record says. */
function lineage(): Set<number> {
  const seen = new Set<number>([process.pid]);
  for (let pid = process.ppid; pid > 1 && !seen.has(pid); pid = Number(statFields(pid)?.[1] ?? 0)) {
    seen.add(pid);
  }
  return seen;
}

/**
 * Whether `pid` may be signalled as a holder's task, proven by `mark`: a process of this user whose environment (as
 * it was exec'd) holds TASK_LOCK_MARK=<mark>. Linux only (/proc/<pid>/environ, readable for one's own processes);
 * elsewhere no mark proves anything. `mark` null: the caller vouches for the process first-hand (the editor reported
 * its pid as its own task's, and its start time still matches). Either way never a process this one stands on:
 * init (pid 1), itself, an ancestor, a member of its own process group, nor another user's.
 */
export function mayBeSignalled(pid: number, mark: string | null): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 1 || lineage().has(pid)) {
    return false;
  }
  if (process.platform !== 'linux') {
    return mark === null;
  }
  try {
    const fields = statFields(pid);
    if (fields === undefined || fields[2] === statFields(process.pid)?.[2] || statSync(`/proc/${pid}`).uid !== process.getuid?.()) {
      return false;
    }
    return mark === null || (mark !== '' && readFileSync(`/proc/${pid}/environ`).toString('utf8').split('\0').includes(`${MARK_VAR}=${mark}`));
  } catch {
    // Gone, or not ours to read (another user's, or a process that made itself undumpable): no proof.
    return false;
  }
}
