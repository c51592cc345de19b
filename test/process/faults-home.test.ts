import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { WorkspaceLock } from '../../src/lock';
import { pidNamespace } from '../../src/lock/process-identity';
import { CLI, cleanup, runCli, start, tempFolder } from '../support/fixtures';

// The lock's promise under faults (issue #7), the lock home's part: what stands in it, and where it is.

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

interface StatusJson {
  state: string;
  lockHome: string;
  fallback?: string;
  reservation?: { state: string; remainingMs?: number; reason?: string } | null;
}

async function statusJson(folder: string): Promise<StatusJson> {
  const r = await runCli(['status', '--folder', folder, '--json']);
  const s = JSON.parse(r.stdout) as StatusJson;
  // The exit status tells the same state (0 free, 75 held, 3 stale).
  assert.equal(r.code, { free: 0, held: 75, stale: 3 }[s.state as 'free' | 'held' | 'stale'], r.stderr);
  return s;
}

describe('faults: a handoff reservation (#7 item 11)', () => {
  it('status shows a reservation in effect, at most 5 s long whatever its file claims', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    fs.writeFileSync(lock.location.reservationPath, JSON.stringify({ token: 'someone-else', until: Date.now() + 365 * 24 * 3600 * 1000 }));
    const j = await statusJson(folder);
    assert.equal(j.state, 'free');
    assert.equal(j.reservation?.state, 'active');
    assert.ok((j.reservation?.remainingMs ?? 0) > 0 && (j.reservation?.remainingMs ?? Infinity) <= 5000, JSON.stringify(j.reservation));
    const text = await runCli(['status', '--folder', folder]);
    assert.match(text.stdout, /^free: nobody holds the lock on .*\nnote: the lock is reserved for a handoff for \d\.\d s more\n$/);
  });

  it('status names a bad handoff.json, and reclaim removes it', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    fs.writeFileSync(lock.location.reservationPath, '{"token": 42');
    const j = await statusJson(folder);
    assert.equal(j.reservation?.state, 'bad');
    const text = await runCli(['status', '--folder', folder]);
    assert.match(text.stdout, /\nnote: .*handoff\.json is not a valid reservation; "task-lock reclaim" removes it\n$/);
    const r = await runCli(['reclaim', '--folder', folder]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^removed the bad handoff reservation: .*handoff\.json is not a valid reservation\nnothing to reclaim: the lock on .* is free\n$/);
    assert.equal(fs.existsSync(lock.location.reservationPath), false);
    assert.equal((await statusJson(folder)).reservation, null);
  });

  it('a reservation that is over is left for the next taker (harmless), and reclaim removes it too', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    fs.writeFileSync(lock.location.reservationPath, JSON.stringify({ token: 'someone-else', until: Date.now() + 60_000 }));
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock.location.reservationPath, old, old);
    assert.equal((await statusJson(folder)).reservation?.state, 'over');
    const r = await runCli(['reclaim', '--folder', folder]);
    assert.match(r.stdout, /^removed the handoff reservation that is over/);
    assert.equal(fs.existsSync(lock.location.reservationPath), false);
  });
});

/**
 * Runs `sh -c script` in a private mount namespace with a fresh /tmp (and what the script mounts), so
 * that what it plants there (another user's /tmp/task-lock-0, a read-only cache) touches nothing else on
 * the machine. The CLI bundle is copied in through a descriptor opened before the mount: the checkout
 * itself may be under /tmp, which the new mount hides.
 */
function inPrivateTmp(script: string): { code: number | null; stdout: string; stderr: string } {
  const setup = ['exec 3<"$CLI_BUNDLE"', 'mount -t tmpfs tmpfs /tmp', 'cat <&3 >/tmp/cli.js', 'exec 3<&-', 'CLI=/tmp/cli.js'].join('\n');
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-euc', `${setup}\n${script}`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, CLI_BUNDLE: CLI, NODE: process.execPath, HOME: os.userInfo().homedir },
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const asRoot = process.getuid?.() === 0 && process.platform === 'linux';

describe('faults: the lock home under another user\'s or a read-only folder (#7 item 13)', () => {
  it('another user\'s /tmp/task-lock-<uid> does not stop run; it names the missing private folder once', { skip: !asRoot && 'needs root for a mount namespace' }, () => {
    const r = inPrivateTmp(
      [
        // Planted by another user before this user's first run; no XDG_RUNTIME_DIR (a container, a cron job).
        'mkdir -m 700 /tmp/task-lock-0 && chown 65534:65534 /tmp/task-lock-0',
        // The cache too, so that the test leaves no lock home behind in the real one.
        `mkdir -p ${path.join(os.userInfo().homedir, '.cache')}`,
        `mount -t tmpfs tmpfs ${path.join(os.userInfo().homedir, '.cache')}`,
        'mkdir /tmp/ws',
        'cd /tmp && TMPDIR=/tmp "$NODE" "$CLI" run --folder /tmp/ws -- sh -c "echo ran"',
      ].join('\n'),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ran\n');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^task-lock: note: \/tmp\/task-lock-0 belongs to nobody \(uid 65534\), not to you; so this holder opens no channel: Take Over cannot ask it/);
  });

  it('a read-only cache folder: one line naming it and what to do, and nothing runs (no lock elsewhere)', { skip: !asRoot && 'needs root for a mount namespace' }, () => {
    // Falling back to another folder here would split the lock: the user's other processes, which can
    // write the cache, would lock there, and both would run (found in review).
    const cache = path.join(os.userInfo().homedir, '.cache');
    const r = inPrivateTmp([`mkdir -p ${cache}`, `mount -t tmpfs -o ro tmpfs ${cache}`, 'mkdir /tmp/ws', '"$NODE" "$CLI" run --folder /tmp/ws -- sh -c "echo ran"'].join('\n'));
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^task-lock: .*\/\.cache\/task-lock cannot be written \(EROFS\): Task Lock keeps your locks there, .* set taskLock\.lockDirectory \/ --lock-dir/);
  });
});

describe('faults: a lock directory shared by several users (#7 item 13)', () => {
  it('the second user works in the folder the first one made, and a refusal names that folder and its owner', { skip: !asRoot && 'needs root to run as two other users' }, async () => {
    const shared = tempFolder();
    fs.chmodSync(shared, 0o1777);
    // Both users run a copy of the bundle they can read.
    const bundle = path.join(shared, 'cli.js');
    fs.copyFileSync(CLI, bundle);
    fs.chmodSync(bundle, 0o755);
    const folder = tempFolder();
    fs.chmodSync(folder, 0o755);
    // Each user's sockets go to a private folder of the test's own (the shared /tmp ones are not the test's to touch).
    const env = (uid: number): NodeJS.ProcessEnv => {
      const runtime = path.join(shared, `runtime-${uid}`);
      fs.mkdirSync(runtime, { mode: 0o700 });
      fs.chownSync(runtime, uid, uid);
      return { PATH: process.env.PATH, XDG_RUNTIME_DIR: runtime };
    };
    const envs = new Map([65534, 65533].map((uid) => [uid, env(uid)]));
    const as = (uid: number, args: string[]): Promise<{ code: number | null; stderr: string }> =>
      start(process.execPath, [bundle, ...args], { uid, gid: uid, env: envs.get(uid) }).result;
    const first = await as(65534, ['run', '--lock-dir', shared, '--folder', folder, '--', 'true']);
    assert.equal(first.code, 0, first.stderr);
    const second = await as(65533, ['run', '--lock-dir', shared, '--folder', folder, '--', 'true']);
    assert.equal(second.code, 0, second.stderr);
    // A subfolder its maker closed to others is named, with its owner, instead of the shared folder.
    const home = fs.readdirSync(shared).find((n) => n !== 'cli.js' && !n.startsWith('runtime-')) ?? '';
    fs.chmodSync(path.join(shared, home), 0o755);
    const refused = await as(65533, ['run', '--lock-dir', shared, '--folder', folder, '--', 'true']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^task-lock: ${path.join(shared, home)} belongs to nobody \\(uid 65534\\) and cannot be written by you \\(EACCES\\)`));
  });
});

describe('faults: a reclaimer killed while it held the reclaim mutex', () => {
  it('a waiter still takes the dead holder\'s lock once that mutex turns stale: nobody is locked out', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    // A dead holder's lock on this host…
    fs.mkdirSync(lock.location.lockDir);
    const st = fs.statSync(lock.location.lockDir);
    const dead = { version: 1, token: 'e'.repeat(32), kind: 'cli', label: 'gone', pid: 2 ** 22 - 1, start: 'x', hostname: os.hostname(), pidNamespace: pidNamespace(), since: new Date().toISOString(), socket: null, lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`, tasks: [] };
    fs.writeFileSync(lock.location.recordPath, JSON.stringify(dead));
    // …and the mutex a reclaimer took just before it was killed (its heartbeat stops now).
    fs.mkdirSync(`${lock.location.reclaimTarget}.lock`);
    assert.equal(lock.inspect().state, 'stale');
    const r = await runCli(['run', '--wait=30', '--folder', folder, '--', 'sh', '-c', 'echo ran']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ran\n');
    assert.equal(lock.inspect().state, 'free');
  });
});

describe('faults: a folder named handoff.json (review)', () => {
  it('status says to remove it by hand, and reclaim still reclaims a stale lock past it', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    fs.mkdirSync(lock.location.reservationPath);
    const text = await runCli(['status', '--folder', folder]);
    assert.match(text.stdout, /handoff\.json is not a regular file; remove it by hand\n$/);
    fs.mkdirSync(lock.location.lockDir);
    const st = fs.statSync(lock.location.lockDir);
    fs.writeFileSync(lock.location.recordPath, JSON.stringify({ version: 1, token: 'f'.repeat(32), kind: 'cli', label: 'gone', pid: 2 ** 22 - 1, start: 'x', hostname: os.hostname(), pidNamespace: pidNamespace(), since: new Date().toISOString(), socket: null, lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`, tasks: [] }));
    const r = await runCli(['reclaim', '--folder', folder]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /reclaimed the lock/);
    assert.equal(fs.statSync(lock.location.reservationPath).isDirectory(), true, 'left where it is');
  });
});

describe('faults: a reclaim mutex dated ahead (review)', () => {
  it('a waiter takes a dead holder\'s lock although a leftover mutex claims to be fresh for an hour', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    fs.mkdirSync(lock.location.lockDir);
    const st = fs.statSync(lock.location.lockDir);
    fs.writeFileSync(lock.location.recordPath, JSON.stringify({ version: 1, token: 'a'.repeat(32), kind: 'cli', label: 'gone', pid: 2 ** 22 - 1, start: 'x', hostname: os.hostname(), pidNamespace: pidNamespace(), since: new Date().toISOString(), socket: null, lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`, tasks: [] }));
    const mutex = `${lock.location.reclaimTarget}.lock`;
    fs.mkdirSync(mutex);
    const ahead = new Date(Date.now() + 3600_000);
    fs.utimesSync(mutex, ahead, ahead);
    // Within the time a dead holder's lock takes anyway: no hour-long wait, no error.
    const r = await runCli(['run', '--wait=20', '--folder', folder, '--', 'sh', '-c', 'echo ran']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ran\n');
  });
});
