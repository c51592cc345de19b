import * as fs from 'node:fs';

// The one way tests wait: poll an observable condition until it holds, or fail naming what never came.
// Shared by the unit and process tests, the real-editor harness and the code that runs inside an editor
// window (compiled to out/test/support/wait.js and loaded by the extension host): keep it to node:fs.

export interface WaitOptions {
  /** How long to wait before giving up; 10 s by default. */
  timeoutMs?: number;
  /** How long to pause between two probes; 10 ms by default. */
  everyMs?: number;
}

/**
 * Calls `probe` until it returns something other than `undefined` or `false` and resolves with that value.
 * The probe runs at least once after the deadline, so a condition met during the last pause still counts.
 * Throws `timed out after N ms waiting for <what>` when it never does; an error the probe throws ends the wait.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const everyMs = opts.everyMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(everyMs);
  }
}

/** A fixed pause. Waiting for something to happen is waitFor's job: a sleep is for proving that something does not. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether the process runs: a zombie (ended, not yet reaped) does not; another user's process does. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, it just is not ours to signal.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') {
      return false;
    }
  }
  // A zombie still answers kill(0) but runs nothing.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return process.platform !== 'linux';
  }
}
