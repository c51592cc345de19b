// Another copy of a process: the same command line in the same folder, started elsewhere (another window's
// terminal). How a window learns, without a lock, that a task it runs unguarded runs twice.
import * as fs from 'node:fs';

function cmdlineOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
}

function cwdOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/**
 * The processes that run `pid`'s command line in `pid`'s working folder, `pid` excepted: on Linux, this user's
 * (others' are not readable); elsewhere none is known, and nothing is claimed.
 */
export function twinProcesses(pid: number): number[] {
  if (process.platform !== 'linux') {
    return [];
  }
  const cmd = cmdlineOf(pid);
  const cwd = cwdOf(pid);
  if (cmd === undefined || cmd === '' || cwd === undefined) {
    return [];
  }
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e) && Number(e) !== pid)
    .map(Number)
    .filter((p) => cmdlineOf(p) === cmd && cwdOf(p) === cwd);
}
