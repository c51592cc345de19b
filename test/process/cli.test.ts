import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { WorkspaceLock } from '../../src/lock';
import { defaultHome } from '../../src/lock/location';
import { CLI, Result, cli, cleanup, keepAlive, ownPid, runCli, start, tempFolder } from '../support/fixtures';
import { pidAlive, sleep, waitFor } from '../support/wait';

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

/** A command that runs until killed and tells its pid on stdout. */
const SLEEPER = ['--', process.execPath, '-e', 'console.log(process.pid); setInterval(() => {}, 1000)'];

interface StatusJson {
  state: 'free' | 'held' | 'stale';
  holder?: { pid: number; hostname: string; kind: string; label: string; since: string; tasks: Array<{ pid: number }> } | null;
  reason?: string;
  unknownHolder?: string;
  fallback?: string;
  lockHome: string;
}

/** status --json; its exit status tells the same state (0 free, 75 held, 3 stale). */
async function status(folder: string, extra: string[] = []): Promise<StatusJson> {
  const r = await runCli(['status', '--folder', folder, '--json', ...extra]);
  const s = JSON.parse(r.stdout) as StatusJson;
  assert.equal(r.code, { free: 0, held: 75, stale: 3 }[s.state], r.stderr);
  return s;
}

async function heldBy(folder: string): Promise<StatusJson> {
  return waitFor('the lock to be held with its task recorded', async () => {
    const s = await status(folder);
    return s.state === 'held' && s.holder && s.holder.tasks.length > 0 ? s : undefined;
  });
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  return lines[0];
}

describe('task-lock conventions (#11 item 4, part)', () => {
  it('with no arguments: the usage on stderr and status 2', async () => {
    const r = await runCli([]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Usage:\n {2}task-lock run /);
  });

  it('run --help: the help of run', async () => {
    const r = await runCli(['run', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: task-lock run /);
    assert.match(r.stdout, /--conflict-exit-code/);
    assert.doesNotMatch(r.stdout, /task-lock reclaim/);
  });

  it('run -E N: status N when the lock is held', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SLEEPER]);
    await heldBy(folder);
    const r = await runCli(['run', '-E', '42', '--folder', folder, '--', 'true']);
    assert.equal(r.code, 42, r.stderr);
    holder.kill('SIGTERM');
    await holder.result;
  });
});

describe('task-lock run', () => {
  it('runs the command under the lock, passes its exit status, and leaves the lock free', async () => {
    const folder = tempFolder();
    const r = await runCli(['run', '--folder', folder, '--', process.execPath, '-e', 'process.exit(7)']);
    assert.equal(r.code, 7);
    assert.equal((await status(folder)).state, 'free');
    assert.deepEqual(fs.readdirSync(folder), [], 'nothing written into the folder');
    assert.deepEqual(fs.readdirSync(defaultHome(folder)), [], 'nothing left in the lock home');
  });

  it('runs in the current directory by default', async () => {
    const folder = tempFolder();
    const holder = cli(['run', ...SLEEPER], { cwd: folder });
    const s = await heldBy(folder);
    assert.equal(s.holder?.pid, holder.pid);
    holder.kill('SIGTERM');
    await holder.result;
  });

  it('refuses with exit 75 and one line naming the holder when the lock is held', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--label', 'dev server', ...SLEEPER]);
    await heldBy(folder);
    const r = await runCli(['run', '--folder', folder, '--', 'true']);
    assert.equal(r.code, 75);
    const line = oneLine(r.stderr);
    assert.match(line, new RegExp(`locked by cli “dev server” \\(pid ${holder.pid} on ${os.hostname()}, since \\d{4}-`));
    holder.kill('SIGTERM');
    await holder.result;
  });

  it('status --json names the holder with pid, host, kind, label, since and tasks', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--label', 'watch', ...SLEEPER]);
    const s = await heldBy(folder);
    const taskPid = Number(await waitFor('the task pid', () => holder.out().trim() || undefined));
    assert.equal(s.holder?.kind, 'cli');
    assert.equal(s.holder?.label, 'watch');
    assert.equal(s.holder?.pid, holder.pid);
    assert.equal(s.holder?.hostname, os.hostname());
    assert.ok(!Number.isNaN(Date.parse(s.holder?.since ?? '')));
    assert.deepEqual(s.holder?.tasks.map((t) => t.pid), [taskPid]);
    holder.kill('SIGTERM');
    await holder.result;
  });

  it('waits with --wait, saying for whom, and starts as soon as the lock frees', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SLEEPER]);
    await heldBy(folder);
    const waiter = cli(['run', '--folder', folder, '--wait', '--', process.execPath, '-e', 'console.log("ran")']);
    await waitFor('the waiting message', () => waiter.err().includes('Waiting'));
    holder.kill('SIGTERM');
    const r = await waiter.result;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`Another command \\(pid=${holder.pid}\\) is holding .*Waiting for it to finish`));
    assert.equal(r.stdout.trim(), 'ran');
    await holder.result;
  });

  it('stops waiting on SIGTERM without starting the command, and exits 143', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SLEEPER]);
    await heldBy(folder);
    const waiter = cli(['run', '--folder', folder, '--wait', '--', process.execPath, '-e', 'console.log("should not run")']);
    await waitFor('the waiting message', () => waiter.err().includes('Waiting'));
    waiter.kill('SIGTERM');
    const r = await waiter.result;
    assert.equal(r.code, 143);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /stopped by SIGTERM while waiting for the lock/);
    assert.equal((await status(folder)).holder?.pid, holder.pid, 'the holder keeps its lock');
    holder.kill('SIGTERM');
    await holder.result;
  });

  it('gives up after --wait=SECONDS with exit 75', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SLEEPER]);
    await heldBy(folder);
    const t0 = Date.now();
    const r = await runCli(['run', '--folder', folder, '--wait=0.3', '--', 'true']);
    assert.equal(r.code, 75);
    assert.ok(Date.now() - t0 >= 300);
    assert.match(r.stderr, /gave up waiting: The lock is still held by cli/);
    holder.kill('SIGTERM');
    await holder.result;
  });

  it('forwards SIGTERM to the command, then releases the lock and removes the record', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--', process.execPath, '-e', 'process.on("SIGTERM", () => { console.log("term"); process.exit(0); }); console.log("ready"); setInterval(() => {}, 1000)']);
    await heldBy(folder);
    // The command must have set up its handler, or SIGTERM would end it before it could answer.
    await waitFor('the command to be ready', () => holder.out().includes('ready'));
    holder.kill('SIGTERM');
    const r = await holder.result;
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), 'ready\nterm');
    assert.equal((await status(folder)).state, 'free');
  });

  it('exits 128+signal when the command dies of a forwarded SIGINT', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SLEEPER]);
    await heldBy(folder);
    holder.kill('SIGINT');
    const r = await holder.result;
    assert.equal(r.code, 130);
    assert.equal((await status(folder)).state, 'free');
  });

  it('keeps the lock held while the command outlives a launcher killed with SIGKILL, even past the stale time', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--stale=2', ...SLEEPER]);
    const s = await heldBy(folder);
    const taskPid = s.holder?.tasks[0]?.pid as number;
    ownPid(taskPid);
    holder.kill('SIGKILL');
    await holder.exited;
    assert.equal(pidAlive(taskPid), true);

    const refused = await runCli(['run', '--folder', folder, '--stale=2', '--', 'true']);
    assert.equal(refused.code, 75, refused.stderr);
    await sleep(2500);
    const still = await runCli(['run', '--folder', folder, '--stale=2', '--', 'true']);
    assert.equal(still.code, 75, 'the heartbeat stopped, but the task runs: the lock stays held');
    assert.equal((await status(folder, ['--stale=2'])).state, 'held');
    assert.equal((await runCli(['reclaim', '--folder', folder, '--stale=2'])).code, 1);

    // The waiter gets the lock as soon as the task ends.
    const waiter = cli(['run', '--folder', folder, '--stale=2', '--wait', '--', process.execPath, '-e', 'console.log("second")']);
    await sleep(200);
    process.kill(taskPid, 'SIGKILL');
    const r = await waiter.result;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'second');
  });

  it('takes over at once from a holder killed together with its task', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SLEEPER]);
    const s = await heldBy(folder);
    const taskPid = s.holder?.tasks[0]?.pid as number;
    ownPid(taskPid);
    holder.kill('SIGKILL');
    process.kill(taskPid, 'SIGKILL');
    await holder.result;
    await waitFor('the task to be gone', () => !pidAlive(taskPid));
    assert.equal((await status(folder)).state, 'stale');
    // No --wait and no reclaim: a stale lock is taken over by the next run.
    const r = await runCli(['run', '--folder', folder, '--', 'true']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('hands the lock over to a requester by stopping its command, unless --no-handoff', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--label', 'terminal watch', ...SLEEPER]);
    await heldBy(folder);
    const lock = new WorkspaceLock(folder);
    const handle = await keepAlive(lock.requestHandoff({ kind: 'vscode', label: 'Window 2' }, { timeoutMs: 5000 }));
    const r = await holder.result;
    assert.match(r.stderr, /vscode “Window 2” asks for the lock: stopping .* and handing over/);
    assert.equal(r.code, 143);
    await handle.release();

    const stubborn = cli(['run', '--folder', folder, '--no-handoff', ...SLEEPER]);
    await heldBy(folder);
    await assert.rejects(keepAlive(lock.requestHandoff({ kind: 'vscode', label: 'Window 2' }, { timeoutMs: 5000 })), /refused: it was started with --no-handoff/);
    stubborn.kill('SIGTERM');
    await stubborn.result;
  });

  it('reports a command that does not exist, and frees the lock', async () => {
    const folder = tempFolder();
    const r = await runCli(['run', '--folder', folder, '--', 'no-such-command-xyz']);
    assert.equal(r.code, 127);
    assert.equal(oneLine(r.stderr), 'task-lock: cannot run no-such-command-xyz: command not found');
    assert.equal((await status(folder)).state, 'free');
  });
});

describe('task-lock with bad input', () => {
  const usage: Array<[string, string[], RegExp]> = [
    ['an unknown flag', ['run', '--frobnicate', '--', 'true'], /^task-lock: unknown option --frobnicate for "run" \(see task-lock --help\)$/],
    ['no command after --', ['run', '--'], /no command to run: put it after --/],
    ['an unknown subcommand', ['lock'], /unknown command "lock"/],
  ];
  for (const [what, args, message] of usage) {
    it(`exits 2 with one line for ${what}`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2);
      assert.match(oneLine(r.stderr), message);
    });
  }

  it('exits 1 naming a folder that does not exist', async () => {
    const r = await runCli(['run', '--folder', '/no/such/dir', '--', 'true']);
    assert.equal(r.code, 1);
    assert.equal(oneLine(r.stderr), 'task-lock: Folder /no/such/dir does not exist: give an existing folder.');
  });

  it('exits 1 naming the file that stands where the lock home should be', async () => {
    const folder = tempFolder();
    const home = defaultHome(folder);
    fs.writeFileSync(home, 'oops');
    try {
      for (const args of [['run', '--folder', folder, '--', 'true'], ['status', '--folder', folder], ['reclaim', '--folder', folder]]) {
        const r = await runCli(args);
        assert.equal(r.code, 1);
        assert.equal(oneLine(r.stderr), `task-lock: ${home} is in the way: a file stands where Task Lock needs a folder. Move or remove it.`);
      }
      assert.equal(fs.readFileSync(home, 'utf8'), 'oops', 'nothing is lost');
    } finally {
      fs.rmSync(home, { force: true });
    }
  });

  it('exits 1 naming the owner of a lock home that belongs to another user', { skip: process.getuid?.() !== 0 && 'needs root to give a folder to another user' }, async () => {
    const folder = tempFolder();
    const home = defaultHome(folder);
    fs.mkdirSync(home, { mode: 0o700 });
    fs.chownSync(home, 65534, 65534);
    try {
      const r = await runCli(['run', '--folder', folder, '--', 'true']);
      assert.equal(r.code, 1);
      const line = oneLine(r.stderr);
      assert.equal(line.startsWith(`task-lock: ${home} belongs to nobody (uid 65534), not to you`), true, line);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('reports a corrupt record as an unknown holder, and reclaims it once its heartbeat is old', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder, { staleMs: 2000 });
    fs.mkdirSync(lock.location.lockDir);
    fs.writeFileSync(lock.location.recordPath, '\u0000garbage{');
    const s = await status(folder, ['--stale=2']);
    assert.equal(s.state, 'held');
    assert.equal(s.holder, null);
    assert.equal(s.unknownHolder, 'the holder record is not valid JSON');
    const busy = await runCli(['run', '--folder', folder, '--stale=2', '--', 'true']);
    assert.equal(busy.code, 75);
    assert.match(oneLine(busy.stderr), /locked by an unknown holder \(the holder record is not valid JSON\)/);
    const old = new Date(Date.now() - 10_000);
    fs.utimesSync(lock.location.lockDir, old, old);
    assert.equal((await status(folder, ['--stale=2'])).state, 'stale');
    const r = await runCli(['reclaim', '--folder', folder, '--stale=2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reclaimed the lock .* from an unknown holder/);
    assert.equal((await status(folder)).state, 'free');
  });

  it('locks through a symlinked folder path: the link and the real path are one lock', async () => {
    const base = tempFolder();
    const real = path.join(base, 'real');
    fs.mkdirSync(real);
    fs.symlinkSync(real, path.join(base, 'link'));
    const holder = cli(['run', '--folder', path.join(base, 'link'), ...SLEEPER]);
    await heldBy(real);
    const r = await runCli(['run', '--folder', `${real}/`, '--', 'true']);
    assert.equal(r.code, 75);
    holder.kill('SIGTERM');
    await holder.result;
  });

  it('falls back to a private per-user lock home for a user without a home folder, and says so', async () => {
    const base = tempFolder();
    fs.chmodSync(base, 0o755);
    const folder = path.join(base, 'readonly');
    fs.mkdirSync(folder, { mode: 0o555 });
    fs.chmodSync(folder, 0o555);
    // Root writes anywhere: run the CLI as an unprivileged user to make the folder truly read-only to it.
    // That user may not be able to enter the checkout, so it runs a copy of the (self-contained) bundle.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534, env: { PATH: process.env.PATH, TMPDIR: os.tmpdir() } } : {};
    const cliCopy = path.join(base, 'cli.js');
    fs.copyFileSync(CLI, cliCopy);
    fs.chmodSync(cliCopy, 0o755);
    const runAs = (args: string[]): Promise<Result> => start(process.execPath, [cliCopy, ...args], asUser).result;
    const holder = start(process.execPath, [cliCopy, 'run', '--folder', folder, ...SLEEPER], asUser);
    const s = await waitFor('the fallback lock to be held', async () => {
      const r = await runAs(['status', '--folder', folder, '--json']);
      const j = JSON.parse(r.stdout) as StatusJson;
      return j.state === 'held' ? j : undefined;
    });
    // nobody's home is /nonexistent.
    assert.match(s.fallback ?? '', /^your home folder \/nonexistent does not exist; the lock lives in \/tmp\/task-lock-65534\/locks\//);
    assert.equal(fs.statSync(path.dirname(path.dirname(s.lockHome))).mode & 0o077, 0, 'the per-user directory is private');
    assert.equal(fs.existsSync(path.join(folder, '.vscode')), false, 'nothing written into the read-only folder');
    const busy = await runAs(['run', '--folder', folder, '--', 'true']);
    assert.equal(busy.code, 75);
    holder.kill('SIGTERM');
    const r = await holder.result;
    assert.match(r.stderr, /note: your home folder \/nonexistent does not exist/);
    fs.rmSync(s.lockHome, { recursive: true, force: true });
  });

  it('exits 1 with one line when an explicit lock directory cannot be used', async () => {
    const file = path.join(tempFolder(), 'a-file');
    fs.writeFileSync(file, '');
    const r = await runCli(['run', '--folder', tempFolder(), `--lock-dir=${file}`, '--', 'true']);
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /is in the way: a file stands where Task Lock needs a folder/);
  });
});
