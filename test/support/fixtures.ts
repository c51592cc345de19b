import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { socketPathFor } from '../../src/lock/channel';
import { defaultHome, folderHash } from '../../src/lock/location';
import { sleep } from './wait';

/** The bundled CLI, as users run it: tests exercise what ships. */
export const CLI = path.resolve(__dirname, '../../../dist/cli.js');

const made: string[] = [];
const children = new Set<ChildProcess>();
const grandchildren = new Set<number>();

/**
 * A process the test did not start itself (a task that outlives its launcher): cleanup() ends it too.
 * The test usually ends it first; it is not counted as left behind.
 */
export function ownPid(pid: number): void {
  grandchildren.add(pid);
}

/** A fresh real folder under the OS temp dir, removed by cleanup(). */
export function tempFolder(prefix = 'task-lock-test-'): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  made.push(dir);
  return dir;
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts a process that cleanup() will kill if the test did not end it. */
/** `result` waits for the output to end too; `exited` only for the process (its pipes may live on in a child). */
export type Started = ChildProcess & { result: Promise<Result>; exited: Promise<void>; out(): string; err(): string };

export function start(cmd: string, args: string[], opts: { cwd?: string; uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}): Started {
  const child = spawn(cmd, args, { cwd: opts.cwd, uid: opts.uid, gid: opts.gid, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const result = new Promise<Result>((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return Object.assign(child, { result, exited, out: () => stdout, err: () => stderr });
}

export function cli(args: string[], opts: { cwd?: string; uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}): Started {
  return start(process.execPath, [CLI, ...args], opts);
}

export function runCli(args: string[], opts: { cwd?: string; uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return cli(args, opts).result;
}

/** Kills what the tests started and removes their folders; reports what had to be killed. */
export async function cleanup(): Promise<string[]> {
  const leftovers: string[] = [];
  for (const pid of grandchildren) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already ended by the test.
    }
  }
  grandchildren.clear();
  for (const c of [...children]) {
    if (c.exitCode === null && c.signalCode === null) {
      leftovers.push(`${c.spawnfile} ${c.spawnargs.slice(1).join(' ')}`);
      c.kill('SIGKILL');
    }
    // Its pipes may be held open by a grandchild that the test killed itself: do not wait for them.
    c.stdout?.destroy();
    c.stderr?.destroy();
  }
  children.clear();
  await sleep(20);
  for (const dir of made.splice(0)) {
    removeLockHomes(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return leftovers;
}

/**
 * The default lock homes live outside the folders, in the user's cache: a test run must not leave them
 * behind there. Folders made under a temporary folder (a few levels deep) are found by walking it.
 */
export function removeLockHomes(dir: string, depth = 3): void {
  try {
    const home = defaultHome(dir);
    fs.rmSync(home, { recursive: true, force: true });
    // A holder killed by a test leaves its socket in the user's private folder: named by the lock folder.
    const socket = socketPathFor(folderHash(path.join(home, 'workspace.lock')));
    if (socket !== null) {
      fs.rmSync(socket, { force: true });
    }
  } catch {
    // Not a folder any more (or never locked): nothing of ours to remove.
  }
  if (depth === 0) {
    return;
  }
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.isDirectory()) {
      removeLockHomes(path.join(dir, e.name), depth - 1);
    }
  }
}

/**
 * The sockets of the holders a test killed in a lock directory of its choosing (--lock-dir,
 * taskLock.lockDirectory: one lock home per workspace in it), which lie in the user's private folder.
 */
export function removeLockDirSockets(lockDir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(lockDir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const socket = e.isDirectory() ? socketPathFor(folderHash(path.join(lockDir, e.name, 'workspace.lock'))) : null;
    if (socket !== null) {
      fs.rmSync(socket, { force: true });
    }
  }
}

/**
 * The engine's timers and sockets are unref'd (a held lock must never pin a process), so a test that
 * only awaits an engine event would let the event loop end first: this keeps it running meanwhile.
 */
export async function keepAlive<T>(p: Promise<T>): Promise<T> {
  const t = setInterval(() => undefined, 1000);
  try {
    return await p;
  } finally {
    clearInterval(t);
  }
}
