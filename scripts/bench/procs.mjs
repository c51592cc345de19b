// The bench's children: each runs as the leader of its own process group, so that one group kill reaches
// its grandchildren too (a CLI holder's task). Every group still running is killed when the bench ends,
// normally, on an error, or on Ctrl-C (SIGINT), SIGTERM or SIGHUP; cleanup steps registered with
// atCleanup (temp folders, socket files) run after that.
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** Process group ids not yet stopped. A stopped group leaves the set: its number may later be reused. */
const groups = new Set();
const cleanupSteps = [];
let cleanedUp = false;

/**
 * Starts `command args` in a new process group. The returned ChildProcess also carries `name`, `lines`
 * (its stdout lines so far), `stderrText` and `exited` (resolves with { code, signal } once it has exited).
 */
export function start(command, args, name) {
  if (cleanedUp) {
    throw new Error(`${name}: not started, the bench is cleaning up`);
  }
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) {
    groups.add(child.pid);
  }
  child.name = name;
  child.lines = [];
  child.stderrText = '';
  child.waiters = [];
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      child.lines.push(line);
      for (const w of [...child.waiters]) {
        w(line);
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    child.stderrText += chunk;
  });
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // A command that cannot start at all (ENOENT) emits 'error' and no 'exit'.
    child.once('error', (err) => {
      child.stderrText += `${err.message}\n`;
      resolve({ code: null, signal: null, error: err });
    });
  });
  return child;
}

/** A Node script (or the CLI) run by the Node that runs the bench. */
export function startNode(args, name) {
  return start(process.execPath, args, name);
}

/** Resolves with the first stdout line (already printed or to come) that matches. */
export function waitLine(child, match, timeoutMs) {
  const seen = child.lines.find(match);
  if (seen !== undefined) {
    return Promise.resolve(seen);
  }
  return new Promise((resolve, reject) => {
    const stderr = () => child.stderrText.trim() || '(empty)';
    const timer = setTimeout(() => finish(new Error(`${child.name}: no expected line within ${timeoutMs} ms; stderr: ${stderr()}`)), timeoutMs);
    const onLine = (line) => match(line) && finish(null, line);
    const onExit = () => finish(new Error(`${child.name} exited early; stderr: ${stderr()}`));
    child.once('exit', onExit);
    child.waiters.push(onLine);
    function finish(err, line) {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.waiters = child.waiters.filter((w) => w !== onLine);
      if (err) {
        reject(err);
      } else {
        resolve(line);
      }
    }
  });
}

export function killGroup(pid, signal = 'SIGKILL') {
  try {
    process.kill(-pid, signal);
  } catch {
    // The whole group is gone already.
  }
}

/** Ends a child and its whole group: SIGTERM, then SIGKILL after graceMs. */
export async function stop(child, graceMs = 3000) {
  if (child.pid === undefined) {
    return;
  }
  if (child.exitCode === null && child.signalCode === null) {
    killGroup(child.pid, 'SIGTERM');
    const done = await Promise.race([child.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      killGroup(child.pid);
      await child.exited;
    }
  }
  // Grandchildren that outlived their leader (a task whose CLI was killed) share the group.
  killGroup(child.pid);
  groups.delete(child.pid);
}

/** Polls check() every 5 ms until it returns something truthy, which it resolves with. */
export async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(5);
  }
}

/** Registers a synchronous step for cleanup(), run after every group is killed, in registration order. */
export function atCleanup(step) {
  cleanupSteps.push(step);
}

/** Kills every group not yet stopped, then runs the registered steps. Synchronous; runs once. */
export function cleanup() {
  if (cleanedUp) {
    return;
  }
  cleanedUp = true;
  for (const pid of groups) {
    killGroup(pid);
  }
  groups.clear();
  for (const step of cleanupSteps) {
    try {
      step();
    } catch (err) {
      process.stderr.write(`bench: cleanup step failed: ${err.message}\n`);
    }
  }
}

/**
 * Makes sure cleanup() runs however the bench ends: on a signal (exit status 128 + its number, as a shell
 * reports it), on an exception that nothing caught, and on any process.exit().
 */
export function cleanupOnExit() {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      process.stderr.write(`bench: ${sig}: stopping every child\n`);
      cleanup();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
  process.once('uncaughtException', (err) => {
    process.stderr.write(`bench: failed: ${err?.stack ?? err}\n`);
    cleanup();
    process.exit(1);
  });
  process.once('exit', cleanup);
}
