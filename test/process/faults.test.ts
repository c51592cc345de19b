import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { WorkspaceLock } from '../../src/lock';
import { CLI, Result, Started, cleanup, cli, ownPid, runCli, start, tempFolder } from '../support/fixtures';
import { pidAlive, sleep, waitFor } from '../support/wait';

// The lock's promise under faults (issue #7): each test reproduces one way it broke, with the real CLI.

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

/** A command that runs until killed and tells its pid on stdout. */
const SLEEPER = ['--', process.execPath, '-e', 'console.log(process.pid); setInterval(() => {}, 1000)'];

/**
 * `task-lock run … SLEEPER`: the sleeper's pid, once told, goes to the shared cleanup, so that a test that
 * fails before it ends the sleeper leaves no process behind.
 */
function runSleeper(args: string[], opts?: Parameters<typeof cli>[1]): Started {
  const p = cli([...args, ...SLEEPER], opts);
  p.stdout?.once('data', (d: Buffer | string) => {
    const pid = Number(String(d).trim().split('\n')[0]);
    if (Number.isSafeInteger(pid) && pid > 0) {
      ownPid(pid);
    }
  });
  return p;
}

async function holderPid(folder: string, more: string[] = []): Promise<number | undefined> {
  const r = await runCli(['status', '--folder', folder, '--json', ...more]);
  const s = JSON.parse(r.stdout) as { state: string; holder?: { pid: number; tasks: unknown[] } | null };
  return s.state === 'held' && s.holder && s.holder.tasks.length > 0 ? s.holder.pid : undefined;
}

describe('faults', () => {
  it('a holder forced out does not remove its successor\'s lock when its command ends (#7 item 3)', async () => {
    const folder = tempFolder();
    // A holds while its command runs for a moment; a forced reclaim takes the lock away from it.
    const a = cli(['run', '--folder', folder, '--', process.execPath, '-e', 'setTimeout(() => {}, 1500)']);
    await waitFor('A to hold', () => holderPid(folder).then((p) => p === a.pid));
    assert.equal((await runCli(['reclaim', '--folder', folder, '--force'])).code, 0);
    const b = runSleeper(['run', '--folder', folder]);
    await waitFor('B to hold', () => holderPid(folder).then((p) => p === b.pid));
    // A's command ends: A releases what it believes is its lock.
    await a.result;
    assert.equal(await holderPid(folder), b.pid, 'B still holds the lock');
    const c = await runCli(['run', '--folder', folder, '--', 'true']);
    assert.equal(c.code, 75, `a third command ran beside B: ${c.stderr}`);
    b.kill('SIGTERM');
    await b.result;
  });
});

describe('faults: a holder that loses its lock, tools that touch the lock folder', () => {
  it('a holder whose lock is taken away stops its command and says so (#7 item 4)', async () => {
    const folder = tempFolder();
    const a = runSleeper(['run', '--folder', folder]);
    const cmd = Number(await waitFor('the command to tell its pid', () => a.out().trim() || undefined));
    await waitFor('A to hold', () => holderPid(folder).then((p) => p === a.pid));
    assert.equal((await runCli(['reclaim', '--folder', folder, '--force'])).code, 0);
    await waitFor('A to stop after losing its lock', () => a.exitCode !== null || a.signalCode !== null);
    const r = await a.result;
    assert.equal(r.code, 75, r.stderr);
    assert.match(r.stderr, /lost the lock/);
    assert.equal(pidAlive(cmd), false, 'the command was stopped');
  });

  it('touching the lock folder (a backup, a sync client, find -exec touch) changes nothing (#7 item 2)', async () => {
    const folder = tempFolder();
    const lockDir = new WorkspaceLock(folder).location.lockDir;
    const a = runSleeper(['run', '--folder', folder, '--stale=2']);
    await waitFor('A to hold', () => holderPid(folder).then((p) => p === a.pid));
    const waiter = cli(['run', '--folder', folder, '--stale=2', '--wait', '--', process.execPath, '-e', 'console.log("second copy")']);
    await waitFor('the waiter to wait', () => waiter.err().includes('Waiting'));
    const now = Date.now() / 1000;
    fs.utimesSync(lockDir, now + 3, now + 3);
    // A negative: nothing announces that a wrong start will not come. Twice --stale, and the holder's
    // heartbeat check (every second with --stale=2) has run several times meanwhile.
    await sleep(4_000);
    assert.equal(waiter.out(), '', 'the waiter started a second copy');
    assert.equal(await holderPid(folder), a.pid, 'A still holds the lock');
    assert.equal(pidAlive(Number(a.out().trim())), true, 'A\'s command still runs');
    a.kill('SIGTERM');
    await a.result;
    const w = await waiter.result;
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout.trim(), 'second copy');
  });

  it('a lock folder dated a year ahead locks nobody out once its holder is gone (#7 item 2)', async () => {
    const folder = tempFolder();
    const lockDir = new WorkspaceLock(folder).location.lockDir;
    const a = runSleeper(['run', '--folder', folder, '--stale=2']);
    await waitFor('A to hold', () => holderPid(folder).then((p) => p === a.pid));
    const future = Date.now() / 1000 + 365 * 24 * 3600;
    fs.utimesSync(lockDir, future, future);
    // Past the holder's next heartbeat check, which is what noticed the foreign mtime.
    await sleep(1_500);
    a.kill('SIGTERM');
    await a.result;
    const r = await runCli(['run', '--folder', folder, '--stale=2', '--', 'true']);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('faults: a holder\'s own record must read back as valid (#7 item 8)', () => {
  /** Held with the command recorded, or held under a record that readers reject (not merely not written yet). */
  async function settled(folder: string): Promise<{ holder?: { label: string; tasks: Array<{ name: string }> } | null; unknownHolder?: string }> {
    return waitFor('the lock to be held with its task recorded, or its record rejected', async () => {
      const j = await statusJson(folder);
      const rejected = j.state === 'held' && !j.holder && j.unknownHolder !== undefined && !/no holder record/.test(j.unknownHolder);
      return j.state === 'held' && ((j.holder && j.holder.tasks.length > 0) || rejected) ? j : undefined;
    });
  }

  async function statusJson(folder: string): Promise<{ state: string; holder?: { label: string; tasks: Array<{ name: string }> } | null; unknownHolder?: string }> {
    return JSON.parse((await runCli(['status', '--folder', folder, '--json'])).stdout) as { state: string; holder?: { label: string; tasks: Array<{ name: string }> } | null };
  }

  it('a label longer than readers accept is shortened, not rejected', async () => {
    const folder = tempFolder();
    const a = runSleeper(['run', '--folder', folder, '--label', 'x'.repeat(2_000)]);
    const s = await settled(folder);
    assert.ok(s.holder, `the record was rejected: ${s.unknownHolder ?? ''}`);
    assert.ok(s.holder.label.length <= 1024 && s.holder.label.startsWith('xxx'));
    assert.equal(s.holder.tasks.length, 1);
    a.kill('SIGTERM');
    await a.result;
  });

  it('a relative XDG_RUNTIME_DIR does not make the record invalid', async () => {
    const folder = tempFolder();
    const a = runSleeper(['run', '--folder', folder], { cwd: folder, env: { ...process.env, XDG_RUNTIME_DIR: 'relative-runtime' } });
    const s = await settled(folder);
    assert.ok(s.holder, `the record was rejected: ${s.unknownHolder ?? ''}`);
    a.kill('SIGTERM');
    await a.result;
  });

  it('a long XDG_RUNTIME_DIR puts the socket in a short private folder and leaves nothing behind', async () => {
    const folder = tempFolder();
    const runtime = path.join(tempFolder(), 'r'.repeat(100));
    fs.mkdirSync(runtime, { mode: 0o700 });
    const a = runSleeper(['run', '--folder', folder], { env: { ...process.env, XDG_RUNTIME_DIR: runtime } });
    const s = await settled(folder);
    assert.ok(s.holder, `the record was rejected: ${s.unknownHolder ?? ''}`);
    const rec = JSON.parse(fs.readFileSync(new WorkspaceLock(folder).location.recordPath, 'utf8')) as { socket: string | null };
    assert.ok(rec.socket !== null && Buffer.byteLength(rec.socket) <= 103, `socket path ${rec.socket ?? 'none'}`);
    a.kill('SIGTERM');
    await a.result;
    const left = fs.readdirSync(path.dirname(runtime), { recursive: true }).map(String).filter((f) => !f.startsWith(path.basename(runtime)));
    assert.deepEqual(left, [], 'files outside the runtime folder');
    assert.equal(fs.existsSync(rec.socket), false, 'the socket was removed');
  });
});

describe('faults: nothing in the lock home makes a process hang or spin (#7 item 10)', () => {
  /** Runs the CLI, killing it after `ms`: a hang fails the test instead of stalling the suite. */
  async function within(args: string[], ms = 10_000): Promise<Result> {
    const p = cli(args);
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    const r = await p.result;
    clearTimeout(timer);
    assert.equal(r.signal, null, `task-lock ${args.join(' ')} hung and was killed after ${ms} ms`);
    return r;
  }

  it('a FIFO named holder.json', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    fs.mkdirSync(lock.location.lockDir);
    execFileSync('mkfifo', [lock.location.recordPath]);
    const s = await within(['status', '--folder', folder]);
    // Held by a holder it cannot name: status says so, and its exit status says held.
    assert.equal(s.code, 75, s.stderr);
    assert.match(s.stdout, /not a regular file/);
    const r = await within(['reclaim', '--folder', folder, '--force']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('a FIFO named handoff.json', async () => {
    const folder = tempFolder();
    execFileSync('mkfifo', [new WorkspaceLock(folder).location.reservationPath]);
    const r = await within(['run', '--folder', folder, '--', 'true']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('a lock directory under /proc: one line saying so, no spin', async () => {
    const r = await within(['run', '--lock-dir', `/proc/task-lock-test-${process.pid}`, '--folder', tempFolder(), '--', 'true']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /\/proc\/task-lock-test-/);
  });
});

describe('faults: hostile text (#7 item 13)', () => {
  it('control characters in a label are escaped in text output and exact in JSON', async () => {
    const folder = tempFolder();
    const label = 'evil\u001b[2J\u0007label\r';
    const a = runSleeper(['run', '--folder', folder, '--label', label]);
    await waitFor('A to hold', () => holderPid(folder).then((p) => p === a.pid));
    const text = await runCli(['status', '--folder', folder]);
    // eslint-disable-next-line no-control-regex -- looking for raw control characters is the point
    assert.doesNotMatch(text.stdout, /[\u0000-\u0009\u000b-\u001f\u007f]/, 'raw control characters in status');
    assert.match(text.stdout, /evil\\u001b\[2J\\u0007label\\u000d/);
    const refused = await runCli(['run', '--folder', folder, '--', 'true']);
    assert.equal(refused.code, 75);
    // eslint-disable-next-line no-control-regex -- as above
    assert.doesNotMatch(refused.stderr, /[\u0000-\u0009\u000b-\u001f\u007f]/, 'raw control characters in the refusal');
    const json = JSON.parse((await runCli(['status', '--folder', folder, '--json'])).stdout) as { holder: { label: string } };
    assert.equal(json.holder.label, label);
    a.kill('SIGTERM');
    await a.result;
  });
});

describe('faults: CMD never runs unrecorded (#7 items 5 and 9)', () => {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;

  it('a full disk when CMD is to be recorded: CMD does not start, one line says why, the lock is free', { skip: root ? false : 'mounting a 64 KiB tmpfs needs root' }, async () => {
    const folder = tempFolder();
    const disk = tempFolder();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]);
    try {
      // 14 of the 16 pages taken: the holder's .gitignore and first record fit; recording CMD (a new
      // temporary record beside the old one) does not.
      fs.writeFileSync(path.join(disk, 'filler'), Buffer.alloc(14 * 4096));
      const r = await runCli(['run', '--folder', folder, '--lock-dir', disk, '--', process.execPath, '-e', 'console.log("CMD ran")']);
      assert.equal(r.stdout, '', 'CMD ran although it could not be recorded');
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /ENOSPC/);
      const s = await runCli(['status', '--folder', folder, '--lock-dir', disk]);
      assert.match(s.stdout, /^free/);
    } finally {
      execFileSync('umount', [disk]);
    }
  });
});

describe('faults: another user\'s holder hidden by hidepid=2 (#7 item 7)', () => {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;

  it('a live holder that the judge cannot see in /proc counts as alive: no second copy', { skip: root ? false : 'mounting a private /proc and changing users needs root' }, async () => {
    const folder = tempFolder();
    fs.chmodSync(folder, 0o755);
    // World-writable without the sticky bit: the judge could remove root's lock folder if it judged it dead.
    const home = tempFolder();
    fs.chmodSync(home, 0o777);
    const lockHome = new WorkspaceLock(folder, { lockDirectory: home }).location.home;
    // (locate made it, as the holder would; the judge must be able to write there too.)
    fs.chmodSync(lockHome, 0o777);
    // The judge may not be able to enter the checkout: it runs a copy of the (self-contained) bundle.
    const cliCopy = path.join(home, 'cli.js');
    fs.copyFileSync(CLI, cliCopy);
    fs.chmodSync(cliCopy, 0o755);
    const a = runSleeper(['run', '--folder', folder, '--lock-dir', home]);
    await waitFor('A to hold', () => holderPid(folder, ['--lock-dir', home]).then((p) => p === a.pid));
    // The judge: uid 65534 in a private mount namespace whose /proc hides other users' processes.
    const hidden = (args: string[]): Started =>
      start(
        'unshare',
        ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"', 'sh', process.execPath, cliCopy, ...args],
        { env: { PATH: process.env.PATH, TMPDIR: os.tmpdir() } },
      );
    const seen = await hidden(['status', '--folder', folder, '--lock-dir', home, '--json']).result;
    assert.equal(seen.code, 75, `status's exit status says held: ${seen.stderr}`);
    const s = JSON.parse(seen.stdout) as { state: string; reason?: string };
    assert.equal(s.state, 'held', `the judge saw ${seen.stdout}`);
    const b = await hidden(['run', '--folder', folder, '--lock-dir', home, '--', process.execPath, '-e', 'console.log("second copy")']).result;
    assert.equal(b.stdout, '', 'a second copy ran beside A');
    assert.equal(b.code, 75, b.stderr);
    assert.equal(await holderPid(folder, ['--lock-dir', home]), a.pid, 'A still holds the lock');
    a.kill('SIGTERM');
    await a.result;
  });
});

describe('faults: a holder in a container on this host (#7 item 6)', () => {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;

  it('a holder in its own pid namespace, same host name, is judged by its heartbeat: no second copy', { skip: root ? false : 'a new pid namespace needs root' }, async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder, { staleMs: 2000 });
    // Its pids mean other processes here, so its sleeper's pid is not handed to the shared cleanup: killing
    // unshare ends its child (--kill-child), and with the namespace's pid 1 every process in it.
    const a = start('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGTERM', process.execPath, CLI, 'run', '--folder', folder, '--stale=2', '--', process.execPath, '-e', 'setInterval(() => {}, 1000)']);
    await waitFor('A to record its command', () => {
      const f = fs.existsSync(lock.location.recordPath) ? (JSON.parse(fs.readFileSync(lock.location.recordPath, 'utf8')) as { pid: number; tasks: unknown[] }) : undefined;
      return f !== undefined && f.tasks.length > 0 ? f : undefined;
    });
    const s = await runCli(['status', '--folder', folder, '--stale=2', '--json']);
    const j = JSON.parse(s.stdout) as { state: string; reason?: string; holder: { pid: number; sameHost: boolean; otherPidNamespace: boolean; judgedBy: string } };
    assert.equal(j.state, 'held', `status: ${s.stdout}`);
    assert.equal(j.holder.pid, 1);
    assert.equal(j.holder.sameHost, true);
    assert.equal(j.holder.otherPidNamespace, true);
    assert.equal(j.holder.judgedBy, 'heartbeat');
    assert.match((await runCli(['status', '--folder', folder, '--stale=2'])).stdout, /in another pid namespace/);
    const b = await runCli(['run', '--folder', folder, '--stale=2', '--', process.execPath, '-e', 'console.log("second copy")']);
    assert.equal(b.stdout, '', 'a second copy ran beside A');
    assert.equal(b.code, 75, b.stderr);
    // Past --stale: A's heartbeat, not its pid, keeps it held.
    await sleep(2_500);
    assert.equal(JSON.parse((await runCli(['status', '--folder', folder, '--stale=2', '--json'])).stdout).state, 'held');
    // unshare --fork ignores SIGTERM while it waits for its child: SIGKILL it, and --kill-child hands A a SIGTERM.
    a.kill('SIGKILL');
    await a.result;
    assert.equal(lock.inspect().state, 'free', 'A released the lock on its way out');
  });
});

describe('faults: a holder on another host is judged by whether its heartbeat changes, by the follower\'s clock', () => {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;

  /** Writes the record of a holder on another host that took the lock folder and then stopped: no process, no beat. */
  function foreignLock(folder: string, mtimeSec: number): WorkspaceLock {
    const lock = new WorkspaceLock(folder, { staleMs: 2000 });
    fs.mkdirSync(lock.location.lockDir);
    const st = fs.statSync(lock.location.lockDir);
    const record = {
      version: 1,
      token: 'f'.repeat(32),
      kind: 'cli',
      label: 'far away',
      pid: 4242,
      start: null,
      hostname: 'another-host',
      since: new Date().toISOString(),
      socket: null,
      lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`,
      tasks: [],
    };
    fs.writeFileSync(lock.location.recordPath, JSON.stringify(record));
    fs.utimesSync(lock.location.lockDir, mtimeSec, mtimeSec);
    return lock;
  }

  /** `run --wait` of a command that prints "ran", and how long it waited for the lock. */
  async function follow(folder: string): Promise<{ code: number | null; out: string; waitedMs: number; err: string }> {
    const t0 = Date.now();
    const f = cli(['run', '--folder', folder, '--stale=2', '--wait=20', '--', process.execPath, '-e', 'console.log("ran")']);
    const ranAt = await waitFor('the follower to run or give up', () => (f.out().includes('ran') ? Date.now() : f.exitCode !== null ? Date.now() : undefined), { timeoutMs: 25_000 });
    const r = await f.result;
    return { code: r.code, out: r.stdout, waitedMs: ranAt - t0, err: r.stderr };
  }

  it('a stopped holder whose clock ran an hour ahead (mtime in the future) is taken over within stale + one look', async () => {
    const folder = tempFolder();
    foreignLock(folder, Date.now() / 1000 + 3600);
    const r = await follow(folder);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), 'ran');
    assert.ok(r.waitedMs >= 2000, `took over after ${r.waitedMs} ms, before --stale`);
    // stale (2 s) + one look (200 ms) + the CLI's start and a loaded machine.
    assert.ok(r.waitedMs < 6000, `took over only after ${r.waitedMs} ms`);
  });

  it('a holder whose clock runs an hour behind (mtime in the past) is not taken for dead at first sight', async () => {
    const folder = tempFolder();
    foreignLock(folder, Date.now() / 1000 - 3600);
    const busy = await runCli(['run', '--folder', folder, '--stale=2', '--', 'true']);
    assert.equal(busy.code, 75, `a first look judged it dead: ${busy.stderr}`);
    const r = await follow(folder);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.waitedMs >= 2000, `took over after ${r.waitedMs} ms, before its heartbeat was seen still for --stale`);
  });

  it('a live holder on another host whose clock runs an hour behind keeps the lock while it beats', { skip: root ? false : 'a new UTS namespace (another host name) needs root' }, async () => {
    const folder = tempFolder();
    const skew = path.join(tempFolder(), 'skew.js');
    fs.writeFileSync(skew, 'const now = Date.now; Date.now = () => now() - 3600e3;\n');
    // Another host: its own host name (a UTS namespace), a clock an hour behind (for Node's Date.now, which
    // proper-lockfile's heartbeat uses). Without --fork, unshare becomes sh becomes node: one pid, A's.
    const a = start('unshare', ['--uts', 'sh', '-c', 'hostname another-host && exec "$@"', 'sh', process.execPath, '-r', skew, CLI, 'run', '--folder', folder, '--stale=2', ...SLEEPER]);
    const recordPath = new WorkspaceLock(folder).location.recordPath;
    // Read from the record itself: how the lock is judged is what this test is about.
    const tasks = await waitFor('A to record its command', () => {
      const t = fs.existsSync(recordPath) ? (JSON.parse(fs.readFileSync(recordPath, 'utf8')) as { tasks: Array<{ pid: number }> }).tasks : [];
      return t.length > 0 ? t : undefined;
    });
    // Same pid namespace: the recorded pid is the sleeper's here, for the shared cleanup.
    ownPid(tasks[0].pid);
    const first = JSON.parse((await runCli(['status', '--folder', folder, '--stale=2', '--json'])).stdout) as { state: string; holder: { hostname: string; judgedBy: string } };
    assert.equal(first.state, 'held');
    assert.equal(first.holder.hostname, 'another-host');
    assert.equal(first.holder.judgedBy, 'heartbeat');
    const waiter = cli(['run', '--folder', folder, '--stale=2', '--wait', '--', process.execPath, '-e', 'console.log("second copy")']);
    await waitFor('the waiter to wait', () => waiter.err().includes('Waiting'));
    // A negative: over twice --stale, A beating every second all along.
    await sleep(5_000);
    assert.equal(waiter.out(), '', 'the waiter started a second copy beside a live holder');
    assert.equal(waiter.exitCode, null, waiter.err());
    a.kill('SIGTERM');
    await a.result;
    const w = await waiter.result;
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout.trim(), 'second copy');
  });
});
