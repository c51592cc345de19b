import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import * as os from 'node:os';

/**
 * A process is named by its pid *and* its start time: pids are reused, and a lock that trusted a pid
 * alone could be kept alive forever by an unrelated process that happened to get the same number.
 */
export interface ProcessRef {
  pid: number;
  /** Opaque, comparable only on the host that produced it; null where the platform gives none. */
  start: string | null;
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
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      // A missing /proc entry is not a missing process: hidepid hides other users' processes entirely.
      // Only the kernel's own answer (ESRCH) says gone.
      return pidExists(pid) ? { kind: 'hidden' } : { kind: 'gone' };
    }
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
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
  if (look.kind !== 'running') {
    return look.kind === 'hidden';
  }
  // A record without a start time (written on a platform that has none) can only be checked by pid.
  return ref.start === null || ref.start === look.start;
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
