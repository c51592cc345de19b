import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { MARK_VAR, WorkspaceLock, processStart } from '../../src/lock';
import { pidNamespace } from '../../src/lock/process-identity';
import { cleanup, cli, ownPid, runCli, tempFolder } from '../support/fixtures';
import { waitFor } from '../support/wait';

// What `npm run soak` found (issue #7), each reduced to its smallest case.

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

/**
 * node:fs itself, not a namespace copy of it: the engine reads its functions from this object at each call, so
 * a test can stand between the engine and the disk at one precise step (a kill or a tool acting right there).
 */
const realFs = createRequire(__filename)('node:fs') as typeof fs;

function intercept<K extends 'writeFileSync' | 'unlinkSync' | 'rmdirSync' | 'rmSync' | 'openSync' | 'lstatSync' | 'mkdir' | 'statSync'>(name: K, around: (original: (typeof fs)[K]) => (typeof fs)[K]): () => void {
  const original = realFs[name];
  (realFs as unknown as Record<string, unknown>)[name] = around(original);
  return () => {
    (realFs as unknown as Record<string, unknown>)[name] = original;
  };
}

describe('soak faults: what a kill or a tool at one precise step leaves behind', () => {
  it('at no step of a release does the lock folder stand without its record (a kill there left a lock nobody could name)', async () => {
    const lock = new WorkspaceLock(tempFolder());
    const bare: string[] = [];
    // After each removal the release makes, the state a SIGKILL at that moment would leave.
    const look = (step: string): void => {
      if (fs.existsSync(lock.location.lockDir) && !fs.existsSync(lock.location.recordPath)) {
        bare.push(step);
      }
    };
    for (const how of ['release', 'releaseSync'] as const) {
      const r = await lock.tryAcquire({ kind: 'cli', label: how });
      assert.ok(r.ok);
      const restore = [
        intercept('unlinkSync', (original) => ((p: fs.PathLike) => {
          original(p);
          look(`${how}: after unlinking ${path.basename(String(p))}`);
        }) as typeof fs.unlinkSync),
        intercept('rmdirSync', (original) => ((p: fs.PathLike) => {
          original(p);
          look(`${how}: after removing ${path.basename(String(p))}`);
        }) as typeof fs.rmdirSync),
      ];
      try {
        if (how === 'release') {
          await r.handle.release();
        } else {
          r.handle.releaseSync();
        }
      } finally {
        restore.forEach((f) => f());
      }
      assert.equal(lock.inspect().state, 'free');
    }
    assert.deepEqual(bare, [], 'the lock folder stood without a record: a holder killed right then leaves a lock that only its heartbeat age can clear, and a touch dates that ahead');
  });

  it('what a writer killed mid-write left in the lock home is removed by the next holder', async () => {
    const lock = new WorkspaceLock(tempFolder());
    const left = ['holder.json.0123456789ab.tmp', 'handoff.json.ba9876543210.tmp'].map((n) => path.join(lock.location.home, n));
    for (const f of left) {
      fs.writeFileSync(f, '{');
    }
    fs.mkdirSync(`${lock.location.lockDir}.00112233aabb.tmp`);
    const other = path.join(lock.location.home, 'notes.tmp');
    fs.writeFileSync(other, 'not ours');
    const r = await lock.tryAcquire({ kind: 'cli', label: 'sweeper' });
    assert.ok(r.ok);
    await r.handle.release();
    assert.deepEqual(fs.readdirSync(lock.location.home).sort(), ['notes.tmp']);
  });

  it('reclaim --force of a lock folder still waiting for its record waits for it (removed, its taker and the next would both take the next folder)', async () => {
    const lock = new WorkspaceLock(tempFolder());
    // A taker between its mkdir and its record, whose command is about to start.
    fs.mkdirSync(lock.location.lockDir);
    // In a group of its own, with its mark, as a taker's command runs.
    const task = spawn('sleep', ['30'], { stdio: 'ignore', detached: true, env: { ...process.env, [MARK_VAR]: 'b2'.repeat(16) } });
    ownPid(task.pid ?? 0);
    const reclaiming = lock.reclaim({ force: true });
    setTimeout(() => {
      const start = processStart(process.pid);
      const id = fs.statSync(lock.location.lockDir);
      fs.writeFileSync(lock.location.recordPath, JSON.stringify({
        version: 1, token: 'taker', kind: 'cli', label: 'taker', pid: process.pid, start, hostname: os.hostname(), pidNamespace: pidNamespace(),
        since: new Date().toISOString(), socket: null, lockId: `${id.dev}:${id.ino}:${id.birthtimeMs}`,
        tasks: [{ name: 'taker', pid: task.pid, start: processStart(task.pid ?? 0), mark: 'b2'.repeat(16) }],
      }));
    }, 100);
    const r = await reclaiming;
    task.kill('SIGKILL');
    assert.equal(r.result, 'reclaimed');
    assert.deepEqual(r.result === 'reclaimed' ? (r.stillRunning ?? []).map((t) => t.pid) : [], [task.pid], 'the folder was removed before its record came: its taker never learnt it lost the lock');
  });

  it('a reclaim removes only the folder it judged, not one that stands there by now', async () => {
    const lock = new WorkspaceLock(tempFolder());
    const held = await lock.tryAcquire({ kind: 'cli', label: 'outgoing' });
    assert.ok(held.ok);
    const idOf = (st: fs.Stats): string => `${st.dev}:${st.ino}:${st.birthtimeMs}`;
    let next: string | undefined;
    // Once the reclaim has put its own folder in place: the outgoing holder's release removes it (it had judged the
    // folder its own a moment before), and a taker makes the next one.
    const restore = intercept('openSync', (original) => ((p: fs.PathLike, ...rest: unknown[]) => {
      const now = realFs.statSync(lock.location.lockDir, { throwIfNoEntry: false });
      if (next === undefined && String(p) === lock.location.recordPath && now && idOf(now) !== held.handle.record.lockId) {
        realFs.rmdirSync(lock.location.lockDir);
        realFs.mkdirSync(lock.location.lockDir);
        next = idOf(realFs.statSync(lock.location.lockDir));
      }
      return (original as (...a: unknown[]) => number)(p, ...rest);
    }) as typeof fs.openSync);
    try {
      assert.equal((await lock.reclaim({ force: true })).result, 'reclaimed');
    } finally {
      restore();
      await held.handle.release();
    }
    assert.ok(next);
    const standing = realFs.statSync(lock.location.lockDir, { throwIfNoEntry: false });
    assert.equal(standing && idOf(standing), next, 'the reclaim removed the next taker\'s folder: that taker and another would both hold the lock');
    realFs.rmdirSync(lock.location.lockDir);
  });

  it('two takers never both hold one folder: a lock folder removed right after its mkdir and made again by the next taker (the full soak\'s one overlap)', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    let struck = false;
    let second: ReturnType<typeof cli> | undefined;
    // rm -rf of the lock home between this taker's mkdir and the stat that tells it its folder's identity, and
    // another taker (a CLI, which makes the home again) taking the lock right then: both stat that one's folder.
    const restore = intercept('mkdir', (original) => ((p: fs.PathLike, ...rest: unknown[]) => {
      const callback = rest.pop() as (err: NodeJS.ErrnoException | null) => void;
      (original as (...a: unknown[]) => void)(p, ...rest, (err: NodeJS.ErrnoException | null) => {
        if (struck || err || String(p) !== lock.location.lockDir) {
          callback(err);
          return;
        }
        struck = true;
        realFs.rmSync(lock.location.home, { recursive: true, force: true });
        const b = cli(['run', '--folder', folder, '--', process.execPath, '-e', 'console.log(process.pid); setInterval(() => {}, 1000)']);
        second = b;
        void waitFor('the other taker\'s command to run', () => b.out().trim() || undefined).then((pid) => {
          ownPid(Number(pid));
          callback(err);
        });
      });
    }) as typeof fs.mkdir);
    let r: Awaited<ReturnType<WorkspaceLock['tryAcquire']>>;
    try {
      r = await lock.tryAcquire({ kind: 'cli', label: 'first' });
    } finally {
      restore();
    }
    assert.ok(struck && second);
    if (r.ok) {
      await r.handle.release();
    }
    second.kill('SIGTERM');
    await second.result;
    assert.equal(r.ok, false, 'this taker was told it holds the lock while the other one runs its command: two copies');
    const next = await lock.tryAcquire({ kind: 'cli', label: 'next' });
    assert.ok(next.ok, 'the lock was left taken');
    await next.handle.release();
  });

  it('a claim left by a killed holder never locks everyone out where folders reuse one identity (no birth times: NFS, some FUSE mounts)', async () => {
    const lock = new WorkspaceLock(tempFolder(), { staleMs: 2_000 });
    // Such a file system gives every new lock folder the identity of the last one: the inode is reused at once,
    // and there is no birth time to tell them apart.
    const restore = intercept('statSync', (original) => ((p: fs.PathLike, ...rest: unknown[]) => {
      const st = (original as (...a: unknown[]) => fs.Stats | undefined)(p, ...rest);
      return st && String(p) === lock.location.lockDir ? Object.assign(Object.create(Object.getPrototypeOf(st) as object) as fs.Stats, st, { ino: 4242, birthtimeMs: 0 }) : st;
    }) as typeof fs.statSync);
    try {
      // What a holder killed after its claim leaves once its folder was reclaimed: the claim alone, for the one
      // identity every folder here gets.
      const dev = realFs.statSync(lock.location.home).dev;
      realFs.writeFileSync(`${lock.location.lockDir}.${dev}-4242-0.claim`, '');
      const taken = await lock.tryAcquire({ kind: 'cli', label: 'first' });
      assert.equal(taken.ok, false, 'the leftover claim was not in the way: this test shows nothing');
      const next = await lock.acquire({ kind: 'cli', label: 'next' }, { waitMs: 8_000 }).catch((err: unknown) => err as Error);
      assert.ok(!(next instanceof Error), `locked out: ${next instanceof Error ? next.message : ''}`);
      await next.release();
    } finally {
      restore();
    }
  });

  it('a taker whose folder went before its record never writes over the next holder\'s record', async () => {
    const lock = new WorkspaceLock(tempFolder());
    let struck = false;
    const theirs = JSON.stringify({ version: 1, token: 'the-next-holder', kind: 'cli', label: 'next', pid: process.pid, start: processStart(process.pid), hostname: os.hostname(), pidNamespace: pidNamespace(), since: new Date().toISOString(), socket: null, lockId: 'set below', tasks: [] });
    // Right after this taker's claim: rm -rf of the lock home, and the next taker's folder and record.
    const restore = intercept('writeFileSync', (original) => ((p: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      const r = (original as (...a: unknown[]) => void)(p, ...rest);
      if (!struck && String(p).endsWith('.claim')) {
        struck = true;
        realFs.rmSync(lock.location.home, { recursive: true, force: true });
        realFs.mkdirSync(lock.location.home, { mode: 0o700 });
        realFs.mkdirSync(lock.location.lockDir);
        const st = realFs.statSync(lock.location.lockDir);
        realFs.writeFileSync(lock.location.recordPath, theirs.replace('set below', `${st.dev}:${st.ino}:${st.birthtimeMs}`));
      }
      return r;
    }) as typeof fs.writeFileSync);
    let r: Awaited<ReturnType<WorkspaceLock['tryAcquire']>>;
    try {
      r = await lock.tryAcquire({ kind: 'cli', label: 'late' });
    } finally {
      restore();
    }
    assert.ok(struck);
    if (r.ok) {
      await r.handle.release();
    }
    assert.equal(r.ok, false);
    const left = realFs.existsSync(lock.location.recordPath) ? (JSON.parse(realFs.readFileSync(lock.location.recordPath, 'utf8')) as { token: string }).token : 'none';
    assert.equal(left, 'the-next-holder', 'the next holder\'s record was overwritten (and then removed): nobody could name it, and killed with its task running it would be judged stale');
    realFs.rmSync(lock.location.lockDir, { recursive: true, force: true });
  });

  it('a lock home removed and made again while the lock is being taken is not taken blind', async () => {
    const lock = new WorkspaceLock(tempFolder());
    let struck = false;
    // rm -rf of the lock home, and a contender starting up (which makes it again), between mkdir and record.
    const restore = intercept('writeFileSync', (original) => ((p: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      if (!struck && String(p).startsWith(lock.location.recordPath)) {
        struck = true;
        realFs.rmSync(lock.location.home, { recursive: true, force: true });
        realFs.mkdirSync(lock.location.home);
      }
      return (original as (...a: unknown[]) => void)(p, ...rest);
    }) as typeof fs.writeFileSync);
    let r: Awaited<ReturnType<WorkspaceLock['tryAcquire']>>;
    try {
      r = await lock.tryAcquire({ kind: 'cli', label: 'blind' });
    } finally {
      restore();
    }
    assert.ok(struck);
    if (r.ok) {
      const seen = lock.inspect(r.handle.record.token).state;
      await r.handle.release();
      assert.equal(seen, 'mine', 'the holder was told it holds a lock whose folder is gone: nothing would stop its command while another holder runs one');
    }
    // Whoever comes next gets the lock.
    const next = await lock.tryAcquire({ kind: 'cli', label: 'next' });
    assert.ok(next.ok);
    await next.handle.release();
  });
});

/** A command that notes its start, and on SIGTERM takes `stopMs` to clean up (as servers do) before it notes its end. */
function slowStopper(marks: string, name: string, stopMs: number): string[] {
  const js = `const fs = require('fs'); fs.appendFileSync(${JSON.stringify(marks)}, '${name} start\\n');
process.on('SIGTERM', () => setTimeout(() => { fs.appendFileSync(${JSON.stringify(marks)}, '${name} end\\n'); process.exit(0); }, ${stopMs}));
console.log(process.pid); setInterval(() => {}, 1000);`;
  return ['--', process.execPath, '-e', js];
}

function quick(marks: string, name: string): string[] {
  return ['--', process.execPath, '-e', `require('fs').appendFileSync(${JSON.stringify(marks)}, '${name} start\\n${name} end\\n')`];
}

async function holderTasks(folder: string): Promise<number> {
  const s = JSON.parse((await runCli(['status', '--folder', folder, '--json'])).stdout) as { holder?: { tasks: unknown[] } | null };
  return s.holder?.tasks.length ?? 0;
}

describe('soak faults: rm -rf of the lock home while contenders wait', () => {
  it('a CLI starting up while the lock home is removed makes it again instead of failing with status 1', () => {
    const folder = tempFolder();
    const home = new WorkspaceLock(folder).location.home;
    realFs.rmSync(home, { recursive: true });
    let struck = false;
    // rm -rf right between the making of the lock home and the check of what stands there.
    const restore = intercept('lstatSync', (original) => ((p: fs.PathLike, ...rest: unknown[]) => {
      if (!struck && String(p) === home) {
        struck = true;
        realFs.rmSync(home, { recursive: true, force: true });
      }
      return (original as (...a: unknown[]) => fs.Stats)(p, ...rest);
    }) as typeof fs.lstatSync);
    try {
      assert.equal(new WorkspaceLock(folder).location.home, home);
    } finally {
      restore();
    }
    assert.ok(struck);
    assert.ok(fs.statSync(home).isDirectory());
  });

  it('a waiting run goes on: it makes the lock home again and takes the lock, instead of failing with status 1', async () => {
    const folder = tempFolder();
    const marks = path.join(tempFolder(), 'marks');
    const a = cli(['run', '--folder', folder, '--', process.execPath, '-e', 'console.log(process.pid); setInterval(() => {}, 1000)']);
    ownPid(Number(await waitFor('A\'s command to tell its pid', () => a.out().trim() || undefined)));
    await waitFor('A\'s command to be recorded', async () => (await holderTasks(folder)) > 0);
    const waiters = [0, 1, 2].map((i) => cli(['run', '--wait', '--folder', folder, ...quick(marks, `W${i}`)]));
    await waitFor('the waiters to wait', () => waiters.every((w) => w.err().includes('Waiting')));
    const s = JSON.parse((await runCli(['status', '--folder', folder, '--json'])).stdout) as { lockHome: string };
    // Retried: a waiter may make the lock home again while it is being removed.
      fs.rmSync(s.lockHome, { recursive: true, force: true, maxRetries: 10 });
    assert.equal((await a.result).code, 75);
    for (const w of waiters) {
      const r = await w.result;
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(fs.readFileSync(marks, 'utf8').trim().split('\n').length, 6);
  });
});

describe('soak faults: the lock taken away while the command is still stopping', () => {
  async function takenAway(takeAway: (folder: string) => Promise<void>): Promise<string[]> {
    const folder = tempFolder();
    const marks = path.join(tempFolder(), 'marks');
    const a = cli(['run', '--folder', folder, ...slowStopper(marks, 'A', 1500)]);
    const cmd = Number(await waitFor('A\'s command to tell its pid', () => a.out().trim() || undefined));
    ownPid(cmd);
    await waitFor('A\'s command to be recorded', async () => (await holderTasks(folder)) > 0);
    const b = cli(['run', '--wait', '--folder', folder, ...quick(marks, 'B')]);
    await waitFor('B to wait', () => b.err().includes('Waiting'));
    await takeAway(folder);
    const rb = await b.result;
    assert.equal(rb.code, 0, rb.stderr);
    const ra = await a.result;
    assert.equal(ra.code, 75, ra.stderr);
    return fs.readFileSync(marks, 'utf8').trim().split('\n');
  }

  it('reclaim --force: the next holder starts only once the stopped command has ended', async () => {
    const order = await takenAway(async (folder) => {
      const r = await runCli(['reclaim', '--folder', folder, '--force']);
      assert.equal(r.code, 0, r.stderr);
    });
    assert.deepEqual(order, ['A start', 'A end', 'B start', 'B end'], 'B ran while A\'s command was still stopping');
  });

  it('rm -rf of the lock home: the next holder starts only once the stopped command has ended', async () => {
    const order = await takenAway(async (folder) => {
      const s = JSON.parse((await runCli(['status', '--folder', folder, '--json'])).stdout) as { lockHome: string };
      // Retried: a waiter may make the lock home again while it is being removed.
      fs.rmSync(s.lockHome, { recursive: true, force: true, maxRetries: 10 });
    });
    assert.deepEqual(order, ['A start', 'A end', 'B start', 'B end'], 'B ran while A\'s command was still stopping');
  });
});

describe('soak faults: the lock home removed before the reclaim mutex is taken', () => {
  it('a reclaim (and a waiter\'s reclaim of a stale lock) makes the home again instead of failing', async () => {
    const lock = new WorkspaceLock(tempFolder());
    // Found by the soak: rm -rf between locating the home and taking the mutex ended nine CLIs with status 1.
    fs.rmSync(lock.location.home, { recursive: true, force: true });
    const r = await lock.reclaim();
    assert.equal(r.result, 'nothing');
  });
});
