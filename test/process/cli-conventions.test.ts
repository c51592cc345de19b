// The CLI conventions of #11 item 4 (measured against flock(1), run-one and Bazel): status tells the state by
// its exit code and writes nothing; run --take-over; task-lock stop. Real processes, the real file system.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { WorkspaceLock } from '../../src/lock';
import { defaultHome, folderHash } from '../../src/lock/location';
import { CLI, cli, cleanup, ownPid, runCli, start, tempFolder } from '../support/fixtures';
import { pidAlive, waitFor } from '../support/wait';

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

/** A command that runs until killed and tells its pid on stdout. */
const SLEEPER = ['--', process.execPath, '-e', 'console.log(process.pid); setInterval(() => {}, 1000)'];

interface StatusJson {
  version: number;
  state: 'free' | 'held' | 'stale';
  holder?: { pid: number; label: string; tasks: Array<{ pid: number }> } | null;
}

/** status --json, whatever its exit code: the code is what these tests look at. */
async function statusOf(folder: string): Promise<{ code: number | null; json: StatusJson }> {
  const r = await runCli(['status', '--folder', folder, '--json']);
  return { code: r.code, json: JSON.parse(r.stdout) as StatusJson };
}

/** Waits for a holder with its task recorded; the task is cleanup()'s to end if a test fails before it does. */
async function heldBy(folder: string): Promise<StatusJson> {
  const s = await waitFor('the lock to be held with its task recorded', async () => {
    const { json } = await statusOf(folder);
    return json.state === 'held' && json.holder && json.holder.tasks.length > 0 ? json : undefined;
  });
  for (const t of s.holder?.tasks ?? []) {
    ownPid(t.pid);
  }
  return s;
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  return lines[0];
}

/** Every path under `dir`, for "nothing was made here". */
function tree(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('task-lock status (#11 item 4)', () => {
  it('reads only: no lock home, no file, anywhere', async () => {
    const folder = tempFolder();
    // Where the CLI could make private folders of its own (sockets, fallbacks): fresh, so anything made shows.
    const tmp = tempFolder();
    const runtime = tempFolder();
    const shared = tempFolder();
    const env = { ...process.env, TMPDIR: tmp, XDG_RUNTIME_DIR: runtime };
    for (const args of [[], ['--json'], [`--lock-dir=${path.join(shared, 'locks')}`], ['--json', `--lock-dir=${path.join(shared, 'locks')}`]]) {
      const r = await cli(['status', '--folder', folder, ...args], { env }).result;
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(fs.existsSync(defaultHome(folder)), false, 'status made the lock home');
    assert.deepEqual(tree(folder), [], 'status wrote into the folder');
    assert.deepEqual(tree(tmp), [], 'status made something in TMPDIR');
    assert.deepEqual(tree(runtime), [], 'status made something in XDG_RUNTIME_DIR');
    assert.deepEqual(tree(shared), [], 'status made the lock directory');
  });

  it('reads only for a user without a home folder too: no fallback lock home', { skip: process.getuid?.() !== 0 && 'needs root to run as a user without a home folder' }, async () => {
    const base = tempFolder();
    fs.chmodSync(base, 0o755);
    const folder = path.join(base, 'project');
    fs.mkdirSync(folder, { mode: 0o755 });
    // nobody may not be able to enter the checkout: it runs a copy of the (self-contained) bundle.
    const cliCopy = path.join(base, 'cli.js');
    fs.copyFileSync(CLI, cliCopy);
    fs.chmodSync(cliCopy, 0o755);
    const r = await start(process.execPath, [cliCopy, 'status', '--folder', folder], { uid: 65534, gid: 65534, env: { PATH: process.env.PATH, TMPDIR: os.tmpdir() } }).result;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^free: /);
    const fallback = path.join('/tmp/task-lock-65534/locks', `project-${folderHash(folder)}`);
    assert.equal(fs.existsSync(fallback), false, `status made ${fallback}`);
  });

  it('tells the state by its exit code: 0 free, 75 held, 3 stale; --json carries version 1', async () => {
    const folder = tempFolder();
    const free = await statusOf(folder);
    assert.equal(free.code, 0);
    assert.equal(free.json.version, 1);
    assert.equal(free.json.state, 'free');
    assert.equal((await runCli(['status', '--folder', folder])).code, 0);

    const holder = cli(['run', '--folder', folder, ...SLEEPER]);
    const held = await heldBy(folder);
    assert.equal((await statusOf(folder)).code, 75);
    assert.equal(held.version, 1);
    const text = await runCli(['status', '--folder', folder]);
    assert.equal(text.code, 75);
    assert.match(text.stdout, /^held: /);
    assert.equal(text.stderr, '');

    // Holder and command killed: nobody runs, the lock is left behind (stale).
    const taskPid = held.holder?.tasks[0]?.pid as number;
    holder.kill('SIGKILL');
    process.kill(taskPid, 'SIGKILL');
    await holder.result;
    await waitFor('the task to be gone', () => !pidAlive(taskPid));
    const stale = await statusOf(folder);
    assert.equal(stale.json.state, 'stale');
    assert.equal(stale.code, 3);
    assert.equal((await runCli(['status', '--folder', folder])).code, 3);
  });

  it('the help names the exit codes of status', async () => {
    const r = await runCli(['status', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /0 when the lock is free, 75 when it is held, 3 when it is stale/);
  });
});

/** A command that ignores SIGTERM; "ready" once it does. */
const STUBBORN = ['--', process.execPath, '-e', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)'];

describe('task-lock run --take-over (#11 item 4)', () => {
  it('asks the holder to hand over, waits for it, then runs; the holder\'s run exits 143', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--label', 'old watch', ...SLEEPER]);
    await heldBy(folder);
    const r = await runCli(['run', '--take-over', '--folder', folder, '--label', 'new watch', '--', process.execPath, '-e', 'console.log("ran")']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ran');
    assert.match(r.stderr, /is held by cli “old watch” \(pid \d+ .*\)\. Asking it to hand over \(up to 15 s\)\.\.\./);
    const h = await holder.result;
    assert.equal(h.code, 143, 'the holder\'s command was stopped with SIGTERM');
    assert.match(h.stderr, /cli “new watch” asks for the lock: stopping .* and handing over/);
    assert.equal((await statusOf(folder)).json.state, 'free');
  });

  it('takes a free lock like a plain run', async () => {
    const folder = tempFolder();
    const r = await runCli(['run', '--take-over', '--folder', folder, '--', 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('a holder that refuses (--no-handoff): the conflict status, 75 or -E, and a line naming it', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--no-handoff', '--label', 'pinned', ...SLEEPER]);
    await heldBy(folder);
    const r = await runCli(['run', '--take-over', '--folder', folder, '--', process.execPath, '-e', 'console.log("should not run")']);
    assert.equal(r.code, 75);
    assert.equal(r.stdout, '');
    const [asking, refused, ...more] = r.stderr.trim().split('\n');
    assert.deepEqual(more, [], r.stderr);
    assert.match(asking, /Asking it to hand over/);
    assert.match(refused, /is held by cli “pinned” \(pid \d+ .*\), which refused to hand over: it was started with --no-handoff\. Use --wait to wait for it\.$/);
    const e = await runCli(['run', '--take-over', '-E', '42', '--folder', folder, '--', 'true']);
    assert.equal(e.code, 42, e.stderr);
    assert.equal((await heldBy(folder)).holder?.pid, holder.pid, 'the holder keeps the lock');
    holder.kill('SIGTERM');
    await holder.result;
  });

  it('a command that ignores SIGTERM gets SIGKILL after the grace, then the lock is handed over (#16 item 2)', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--label', 'stubborn', ...STUBBORN]);
    const task = (await heldBy(folder)).holder?.tasks[0]?.pid as number;
    await waitFor('the command to ignore SIGTERM', () => holder.out().includes('ready'));
    const r = await runCli(['run', '--take-over', '--folder', folder, '--', process.execPath, '-e', `console.log(require("fs").existsSync("/proc/${task}") ? "beside it" : "ran")`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ran', 'the new command started only once the stubborn one was gone');
    assert.equal((await holder.result).code, 137, 'the holder\'s command ended by SIGKILL');
  });

  it('a holder that does not answer (frozen): status 1, saying so and what to do', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--label', 'deaf', ...SLEEPER]);
    await heldBy(folder);
    holder.kill('SIGSTOP');
    const r = await runCli(['run', '--take-over', '--folder', folder, '--', process.execPath, '-e', 'console.log("should not run")']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const [asking, silent, ...more] = r.stderr.trim().split('\n');
    assert.deepEqual(more, [], r.stderr);
    assert.match(asking, /Asking it to hand over/);
    assert.match(silent, /is held by cli “deaf” \(pid \d+ .*\), which did not answer within 15 s\. .*task-lock reclaim --force\.$/);
    holder.kill('SIGKILL');
    const task = (await heldBy(folder)).holder?.tasks[0]?.pid as number;
    process.kill(task, 'SIGKILL');
    await holder.result;
  });

  it('--take-over and --wait together are a usage error', async () => {
    const r = await runCli(['run', '--take-over', '--wait', '--', 'true']);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /use --take-over or --wait, not both/);
  });

  it('run --help names --take-over, its bound, and --no-handoff', async () => {
    const r = await runCli(['run', '--help']);
    assert.match(r.stdout, /--take-over .*\n.*15 s/);
    assert.match(r.stdout, /--no-handoff/);
  });
});

describe('task-lock stop (#11 item 4)', () => {
  it('stops a run: its command ends, the run exits 143, the lock is free, stop exits 0', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--label', 'dev server', ...SLEEPER]);
    const held = await heldBy(folder);
    const r = await runCli(['stop', '--folder', folder]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^stopped cli “dev server” \(pid \d+ .*\): the lock on .* is free\n$/);
    assert.match(r.stderr, /is held by cli “dev server” .*\. Asking it to stop its tasks and release the lock \(up to 15 s\)\.\.\.\n$/);
    const h = await holder.result;
    assert.equal(h.code, 143);
    assert.match(h.stderr, /cli “task-lock stop” asks for the lock: stopping .* and handing over/);
    assert.equal(pidAlive(held.holder?.tasks[0]?.pid as number), false, 'the command ended');
    const after = await statusOf(folder);
    assert.equal(after.json.state, 'free');
    assert.equal(after.code, 0);
  });

  it('stops a window (a vscode holder): it stops its tasks and releases; the reservation left for stop is given up', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    const taken = await lock.tryAcquire({ kind: 'vscode', label: 'Window 1' });
    assert.ok(taken.ok);
    let asked: string | undefined;
    taken.handle.onHandoffRequest((req) => {
      // What a window does (src/tasks/guard.ts): stop its tasks, then accept.
      asked = `${req.requester.kind} ${req.requester.label}`;
      void req.accept();
    });
    const r = await runCli(['stop', '--folder', folder]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^stopped vscode “Window 1” \(pid \d+ .*\): the lock on .* is free\n$/);
    assert.equal(asked, 'cli task-lock stop');
    assert.equal(taken.handle.isHeld, false);
    assert.equal(lock.inspect().state, 'free');
    // Kept, it would turn every taker away for 5 s ("being handed over to another holder").
    assert.equal(lock.reservation(), undefined, 'the reservation left for stop is still there');
    const next = await runCli(['run', '--folder', folder, '--', 'true']);
    assert.equal(next.code, 0, next.stderr);
  });

  it('on a free lock: exit 0, saying it was free already', async () => {
    const folder = tempFolder();
    const r = await runCli(['stop', '--folder', folder]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^nothing to stop: the lock on .* is free already\n$/);
  });

  it('runs in the current directory by default', async () => {
    const folder = tempFolder();
    const holder = cli(['run', ...SLEEPER], { cwd: folder });
    await heldBy(folder);
    const r = await cli(['stop'], { cwd: folder }).result;
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await holder.result).code, 143);
  });

  it('a holder that refuses (--no-handoff): 75 and a line naming it; the run goes on', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--no-handoff', '--label', 'pinned', ...SLEEPER]);
    await heldBy(folder);
    const r = await runCli(['stop', '--folder', folder]);
    assert.equal(r.code, 75);
    const [asking, refused, ...more] = r.stderr.trim().split('\n');
    assert.deepEqual(more, [], r.stderr);
    assert.match(asking, /Asking it to stop its tasks/);
    assert.match(refused, /is held by cli “pinned” \(pid \d+ .*\), which refused to stop: it was started with --no-handoff\. .*task-lock reclaim --force\.$/);
    assert.equal((await heldBy(folder)).holder?.pid, holder.pid);
    holder.kill('SIGTERM');
    await holder.result;
  });

  it('a holder that does not answer (frozen): 1, saying so and what to do', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, '--label', 'deaf', ...SLEEPER]);
    await heldBy(folder);
    holder.kill('SIGSTOP');
    const r = await runCli(['stop', '--folder', folder]);
    assert.equal(r.code, 1);
    const [asking, silent, ...more] = r.stderr.trim().split('\n');
    assert.deepEqual(more, [], r.stderr);
    assert.match(asking, /Asking it to stop its tasks/);
    assert.match(silent, /is held by cli “deaf” \(pid \d+ .*\), which did not answer within 15 s\. .*task-lock reclaim --force\.$/);
    holder.kill('SIGKILL');
    const task = (await heldBy(folder)).holder?.tasks[0]?.pid as number;
    process.kill(task, 'SIGKILL');
    await holder.result;
  });

  it('a holder killed while its command runs on: 1, naming the command to end (nobody is left to ask); --take-over too', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SLEEPER]);
    const task = (await heldBy(folder)).holder?.tasks[0]?.pid as number;
    holder.kill('SIGKILL');
    // Not its result: the command still holds the launcher's pipes.
    await holder.exited;
    for (const args of [['stop'], ['run', '--take-over', '--', 'true']]) {
      const r = await runCli([...args.slice(0, 1), '--folder', folder, ...args.slice(1)]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(oneLine(r.stderr), new RegExp(`its process has exited, but its task \\(pid ${task}\\) still runs and keeps the lock, with nobody left to ask\\. End it yourself \\(kill -- -${task}\\), or take the lock away with task-lock reclaim --force\\.$`));
    }
    process.kill(task, 'SIGKILL');
    await waitFor('the command to be gone', () => !pidAlive(task));
  });

  it('a stale lock: removes it, exit 0', async () => {
    const folder = tempFolder();
    const holder = cli(['run', '--folder', folder, ...SLEEPER]);
    const held = await heldBy(folder);
    const taskPid = held.holder?.tasks[0]?.pid as number;
    holder.kill('SIGKILL');
    process.kill(taskPid, 'SIGKILL');
    await holder.result;
    await waitFor('the task to be gone', () => !pidAlive(taskPid));
    assert.equal((await statusOf(folder)).json.state, 'stale');
    const r = await runCli(['stop', '--folder', folder]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^nothing to stop: cli “.*” \(pid \d+ .*\) is gone \(.*\); removed its stale lock, so the lock on .* is free\n$/);
    assert.equal((await statusOf(folder)).json.state, 'free');
  });

  it('stop --help and the usage name it', async () => {
    const help = await runCli(['stop', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: task-lock stop \[--folder DIR\]/);
    assert.match((await runCli(['--help'])).stdout, /task-lock stop /);
  });
});
