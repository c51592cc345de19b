import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** Start time of `pid`, or null when the process does not exist (or is a zombie: it runs nothing). */
export function processStart(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) {
    return null;
  }
  if (process.platform === 'linux') {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const startTicks = fields[19];
    if (state === 'Z' || state === 'X' || startTicks === undefined) {
      return null;
    }
    // The boot id makes start ticks unique across reboots too.
    return `${linuxBootId()}:${startTicks}`;
  }
  if (process.platform === 'win32') {
    // Windows gives no cheap start time to Node; existence is the best we have, and the heartbeat backs it.
    return pidExists(pid) ? 'win32' : null;
  }
  try {
    const out = execFileSync('ps', ['-o', 'lstart=,stat=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (out === '' || /\sZ\S*$/.test(out)) {
      return null;
    }
    return out.replace(/\s+\S+$/, '');
  } catch {
    return null;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function isAlive(ref: ProcessRef): boolean {
  const start = processStart(ref.pid);
  if (start === null) {
    return false;
  }
  // A record without a start time (written on a platform that has none) can only be checked by pid.
  return ref.start === null || ref.start === start;
}

let self: ProcessRef | undefined;

export function selfRef(): ProcessRef {
  self ??= { pid: process.pid, start: processStart(process.pid) };
  return self;
}

export function hostname(): string {
  return os.hostname();
}
