import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../harness/paths';
import { listProcesses } from '../../harness/procs';
import type { WaitOptions } from '../../support/wait';

// What the host-side Task Lock suites read about a `guarded` fixture folder, where a user would find it:
// `task-lock status` and the process table.

export const cli = path.join(repoRoot, 'dist', 'cli.js');

export interface Status {
  state: 'free' | 'held' | 'stale';
  holder?: { pid: number; kind: string; label: string; tasks: Array<{ pid: number; name: string }> };
}

/** `task-lock status --json`. Its exit status tells the state (0 free, 75 held, 3 stale): only 1 is a failure. */
export function status(folder: string, lockDir?: string): Status {
  const args = [cli, 'status', '--folder', folder, ...(lockDir === undefined ? [] : [`--lock-dir=${lockDir}`]), '--json'];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  // Its exit status tells the state: 0 free, 75 held, 3 stale; only anything else is a failure.
  if (r.status !== 0 && r.status !== 75 && r.status !== 3) {
    throw new Error(`task-lock status --folder ${folder} --json failed (${r.status ?? r.signal}): ${r.stderr.trim() || r.error?.message}`);
  }
  return JSON.parse(r.stdout) as Status;
}

/** The pids of this folder's tick.js processes (the guarded task), wherever they were started. */
export function ticks(folder: string, name = 'tick.js'): number[] {
  const script = path.join(folder, name);
  return listProcesses()
    // The CLI's own command line names the script too, and so does the shell npm runs it with: only the
    // node running it counts.
    .filter((p) => path.basename(p.cmdline.split(' ')[0]) === 'node' && p.cmdline.includes(name) && !p.cmdline.includes('cli.js') && (p.cmdline.includes(script) || cwdOf(p.pid) === folder))
    .map((p) => p.pid);
}

function cwdOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** How long the host waits (with waitFor) for something a window does: a window on a busy machine is slow. */
export const slowEditor: WaitOptions = { timeoutMs: 60_000, everyMs: 25 };
