import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import * as lockfile from 'proper-lockfile';
import { lockFs } from '../../src/lock/handle';
import { LockError, LockHandle, MAX_STALE_MS, MIN_STALE_MS, WatchEvent, WorkspaceLock, lockTimings } from '../../src/lock';
import { cleanup, keepAlive, tempFolder } from '../support/fixtures';
import { sleep, waitFor } from '../support/wait';

after(cleanup);

const me = { kind: 'cli' as const, label: 'unit test' };

async function take(lock: WorkspaceLock): Promise<LockHandle> {
  const r = await lock.tryAcquire(me);
  assert.equal(r.ok, true, 'the lock should have been free');
  return (r as { handle: LockHandle }).handle;
}

describe('WorkspaceLock', () => {
  it('takes a free lock, shows the holder to others, and frees it without leaving files', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    const handle = await take(lock);
    const other = new WorkspaceLock(folder);
    const seen = other.inspect();
    assert.equal(seen.state, 'held');
    assert.equal((seen as { holder: { record?: { pid: number } } }).holder.record?.pid, process.pid);
    assert.equal(other.inspect(handle.record.token).state, 'mine');
    const r = await other.tryAcquire(me);
    assert.equal(r.ok, false);
    await handle.release();
    assert.equal(other.inspect().state, 'free');
    assert.deepEqual(fs.readdirSync(lock.location.home), []);
    assert.deepEqual(fs.readdirSync(folder), [], 'nothing written into the folder');
  });

  it('records tasks by pid and start time, and drops those already gone', async () => {
    const lock = new WorkspaceLock(tempFolder());
    const handle = await take(lock);
    handle.setTasks([
      { name: 'self', pid: process.pid },
      { name: 'gone', pid: 2 ** 22 + 12345 },
    ]);
    const rec = JSON.parse(fs.readFileSync(lock.location.recordPath, 'utf8')) as { tasks: Array<{ name: string; start: string }> };
    assert.deepEqual(rec.tasks.map((t) => t.name), ['self']);
    assert.ok(rec.tasks[0].start);
    await handle.release();
  });

  it('learns of a compromise when the lock is removed underneath', async (t) => {
    const lock = new WorkspaceLock(tempFolder(), { staleMs: 2000 });
    const handle = await take(lock);
    const compromised = new Promise<Error>((resolve) => handle.onCompromised(resolve));
    const removedAt = Date.now();
    fs.rmdirSync(lock.location.lockDir);
    const err = await keepAlive(compromised);
    // Expected within one update interval; reported, not asserted, since a loaded machine may be late.
    t.diagnostic(`compromise noticed after ${Date.now() - removedAt} ms (update interval ${lock.updateMs} ms)`);
    assert.match(err.message, /removed or taken over/);
    assert.equal(handle.isHeld, false);
  });

  it('reclaims a lock whose record is corrupt once its heartbeat stands still, and refuses while it beats', async () => {
    const lock = new WorkspaceLock(tempFolder(), { staleMs: 2000 });
    fs.mkdirSync(lock.location.lockDir);
    fs.writeFileSync(lock.location.recordPath, '{ this is not json');
    // A holder whose record this version cannot read, still beating: alive.
    const beat = setInterval(() => {
      const now = new Date();
      fs.utimesSync(lock.location.lockDir, now, now);
    }, 300);
    let fresh;
    try {
      fresh = await lock.reclaim();
    } finally {
      clearInterval(beat);
    }
    assert.equal(fresh.result, 'alive');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock.location.lockDir, old, old);
    const r = await lock.reclaim();
    assert.equal(r.result, 'reclaimed');
    assert.equal(lock.inspect().state, 'free');
    assert.equal(fs.existsSync(lock.location.recordPath), false);
  });

  it('refuses to reclaim from a live holder unless forced, and the holder learns of the forced removal', async () => {
    const folder = tempFolder();
    const holder = await take(new WorkspaceLock(folder, { staleMs: 2000 }));
    const compromised = new Promise<Error>((resolve) => holder.onCompromised(resolve));
    const lock = new WorkspaceLock(folder, { staleMs: 2000 });
    assert.equal((await lock.reclaim()).result, 'alive');
    assert.equal((await lock.reclaim({ force: true })).result, 'reclaimed');
    await keepAlive(compromised);
    assert.equal(lock.inspect().state, 'free');
  });

  it('proper-lockfile\'s own stale check (by this host\'s clock) never removes an existing lock folder', async () => {
    // The lock folder appears between our look (free) and our mkdir: proper-lockfile then judges it by comparing
    // its mtime with *our* clock, and would remove the folder of a live holder whose clock runs behind. Its
    // removal goes through lockFs, which removes only folders this process created.
    const lock = new WorkspaceLock(tempFolder(), { staleMs: 2000 });
    fs.mkdirSync(lock.location.lockDir);
    const hourAgo = new Date(Date.now() - 3_600_000);
    fs.utimesSync(lock.location.lockDir, hourAgo, hourAgo);
    const before = fs.statSync(lock.location.lockDir).ino;
    await assert.rejects(
      lockfile.lock(lock.location.target, { stale: 2000, update: 1000, realpath: false, retries: 0, fs: lockFs, onCompromised: () => undefined }),
      (e: unknown) => (e as NodeJS.ErrnoException).code === 'ELOCKED',
    );
    assert.equal(fs.statSync(lock.location.lockDir).ino, before, 'the existing lock folder was removed');
  });

  it('reclaims a lock of another host only after watching its heartbeat stand still for stale', async () => {
    const lock = new WorkspaceLock(tempFolder(), { staleMs: 2000 });
    fs.mkdirSync(lock.location.lockDir);
    const st = fs.statSync(lock.location.lockDir);
    const rec = { version: 1, token: 'x'.repeat(32), kind: 'cli', label: 'far', pid: 7, start: null, hostname: 'elsewhere', since: new Date().toISOString(), socket: null, lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`, tasks: [] };
    fs.writeFileSync(lock.location.recordPath, JSON.stringify(rec));
    // Dated an hour ago: by this host's clock long stale, but that says nothing of another host's clock.
    const hourAgo = new Date(Date.now() - 3_600_000);
    fs.utimesSync(lock.location.lockDir, hourAgo, hourAgo);
    assert.equal(new WorkspaceLock(lock.location.folder, { staleMs: 2000 }).inspect().state, 'held');
    const t0 = performance.now();
    const r = await lock.reclaim();
    const took = performance.now() - t0;
    assert.equal(r.result, 'reclaimed');
    assert.ok(took >= 2000 && took < 2000 + lock.lookMs + 1000, `reclaimed after ${Math.round(took)} ms`);
  });

  it('does not reclaim a lock of another host whose heartbeat moves while it is watched', async () => {
    const lock = new WorkspaceLock(tempFolder(), { staleMs: 2000 });
    fs.mkdirSync(lock.location.lockDir);
    const st = fs.statSync(lock.location.lockDir);
    const rec = { version: 1, token: 'x'.repeat(32), kind: 'cli', label: 'far', pid: 7, start: null, hostname: 'elsewhere', since: new Date().toISOString(), socket: null, lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`, tasks: [] };
    fs.writeFileSync(lock.location.recordPath, JSON.stringify(rec));
    // Its clock two hours behind, beating every second.
    const beat = (): void => {
      const t = new Date(Date.now() - 7_200_000);
      fs.utimesSync(lock.location.lockDir, t, t);
    };
    beat();
    const timer = setInterval(beat, 1000);
    try {
      const r = await lock.reclaim();
      assert.equal(r.result, 'alive');
    } finally {
      clearInterval(timer);
    }
  });

  it('reports nothing to reclaim on a free lock', async () => {
    assert.equal((await new WorkspaceLock(tempFolder()).reclaim()).result, 'nothing');
  });

  it('does not remove a stale lock folder that holds foreign files; it says what to do', async () => {
    const lock = new WorkspaceLock(tempFolder(), { staleMs: 2000 });
    fs.mkdirSync(lock.location.lockDir);
    fs.writeFileSync(path.join(lock.location.lockDir, 'foreign'), 'x');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock.location.lockDir, old, old);
    await assert.rejects(lock.reclaim(), (e: unknown) => e instanceof LockError && e.code === 'reclaim-failed' && /remove the folder by hand/.test(e.message));
    assert.equal(fs.existsSync(path.join(lock.location.lockDir, 'foreign')), true);
  });

  it('hands over to a requester when the holder accepts', async () => {
    const folder = tempFolder();
    const holder = await take(new WorkspaceLock(folder));
    const asked: string[] = [];
    holder.onHandoffRequest((req) => {
      asked.push(req.requester.label);
      void req.accept();
    });
    const requester = new WorkspaceLock(folder);
    const handle = await requester.requestHandoff({ kind: 'vscode', label: 'window two' }, { timeoutMs: 2000 });
    assert.deepEqual(asked, ['window two']);
    assert.equal(holder.isHeld, false);
    assert.equal(requester.inspect(handle.record.token).state, 'mine');
    assert.equal(fs.existsSync(requester.location.reservationPath), false);
    await handle.release();
  });

  it('keeps a handed-over lock for the requester: others cannot slip in', async () => {
    const folder = tempFolder();
    const holder = await take(new WorkspaceLock(folder));
    const intruder = new WorkspaceLock(folder);
    let intruderGot: boolean | undefined;
    holder.onHandoffRequest((req) => {
      void req.accept().then(async () => {
        const r = await intruder.tryAcquire({ kind: 'cli', label: 'intruder' });
        intruderGot = r.ok;
        if (r.ok) {
          await r.handle.release();
        } else {
          assert.equal(r.reserved, true);
        }
      });
    });
    const handle = await new WorkspaceLock(folder).requestHandoff({ kind: 'vscode', label: 'window two' }, { timeoutMs: 2000 });
    await waitFor('the intruder to try', () => intruderGot !== undefined);
    assert.equal(intruderGot, false);
    await handle.release();
  });

  it('says so when the holder refuses, and when it does not answer in time', async () => {
    const folder = tempFolder();
    const holder = await take(new WorkspaceLock(folder));
    const off = holder.onHandoffRequest((req) => req.refuse('busy compiling'));
    await assert.rejects(
      new WorkspaceLock(folder).requestHandoff(me, { timeoutMs: 2000 }),
      (e: unknown) => e instanceof LockError && e.code === 'handoff-refused' && /busy compiling/.test(e.message),
    );
    off.dispose();
    holder.onHandoffRequest(() => undefined);
    await assert.rejects(
      new WorkspaceLock(folder).requestHandoff(me, { timeoutMs: 200 }),
      (e: unknown) => e instanceof LockError && e.code === 'handoff-no-answer' && /did not answer within/.test(e.message),
    );
    assert.equal(holder.isHeld, true);
    await holder.release();
  });

  it('asks the holder to release without taking the lock (stop): free afterwards, no reservation left; a refusal and a free lock say so', async () => {
    const folder = tempFolder();
    const holder = await take(new WorkspaceLock(folder));
    const off = holder.onHandoffRequest((req) => req.refuse('pinned'));
    const stopper = new WorkspaceLock(folder);
    await assert.rejects(
      stopper.requestRelease(me, { timeoutMs: 2000 }),
      (e: unknown) => e instanceof LockError && e.code === 'handoff-refused' && e.reason === 'pinned',
    );
    assert.equal(holder.isHeld, true);
    off.dispose();
    holder.onHandoffRequest((req) => void req.accept());
    const after = await stopper.requestRelease(me, { timeoutMs: 2000 });
    assert.equal(after.state, 'free');
    assert.equal(holder.isHeld, false);
    assert.equal(fs.existsSync(stopper.location.reservationPath), false, 'the reservation for the stopper is given up');
    assert.equal((await stopper.requestRelease(me, { timeoutMs: 2000 })).state, 'free', 'a free lock is left alone');
    assert.equal(fs.existsSync(stopper.location.lockDir), false);
  });

  it('says so, without spinning, when a free lock is reserved for another requester', async () => {
    const lock = new WorkspaceLock(tempFolder());
    fs.writeFileSync(lock.location.reservationPath, JSON.stringify({ token: 'someone-else', until: Date.now() + 5000 }));
    await assert.rejects(lock.requestHandoff(me, { timeoutMs: 2000 }), (e: unknown) => e instanceof LockError && e.code === 'held' && /being handed over/.test(e.message));
    assert.equal(lock.inspect().state, 'free');
  });

  it('a reservation expires a few seconds after its file was written, whatever it claims (#7 item 11)', async () => {
    // A handoff.json claiming a far-future end (a bug, a clock jump, a hand edit) must not lock everyone out.
    const lock = new WorkspaceLock(tempFolder());
    fs.writeFileSync(lock.location.reservationPath, JSON.stringify({ token: 'someone-else', until: Date.now() + 365 * 24 * 3600 * 1000 }));
    const fresh = await lock.tryAcquire(me);
    assert.equal(fresh.ok, false, 'a reservation written just now still holds others off');
    assert.equal(!fresh.ok && fresh.reserved, true);
    const old = (Date.now() - 10_000) / 1000;
    fs.utimesSync(lock.location.reservationPath, old, old);
    const r = await lock.tryAcquire(me);
    assert.equal(r.ok, true, 'a reservation written 10 s ago is over, whatever its "until" says');
    if (r.ok) {
      await r.handle.release();
    }
  });

  it('keeps stale and the heartbeat within 2 s to a day, so no timer overflows into a spin (#7 item 13)', () => {
    assert.deepEqual(lockTimings(5_000_000_000), { stale: MAX_STALE_MS, update: MAX_STALE_MS / 2, look: 1000 });
    assert.ok(lockTimings(5_000_000_000).update < 2 ** 31 - 1, 'Node fires a longer timer at once');
    assert.deepEqual(lockTimings(1), { stale: MIN_STALE_MS, update: 1000, look: 200 });
    assert.deepEqual(lockTimings(), { stale: 10_000, update: 5_000, look: 1000 });
  });

  it('a holder socket that accepts and hangs up is retried with a growing delay, not in a loop (#7 item 12)', async () => {
    const folder = tempFolder();
    const holder = await take(new WorkspaceLock(folder));
    // A channel path shaped like a holder's (records accept no other), served by a peer that hangs up at once.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'task-lock-hostile-'));
    const socketPath = path.join(dir, '0123456789abcdef.sock');
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const rec = JSON.parse(fs.readFileSync(holder.lock.location.recordPath, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(holder.lock.location.recordPath, JSON.stringify({ ...rec, socket: socketPath }));
    const watcher = new WorkspaceLock(folder).watch(() => undefined);
    await sleep(1_500);
    watcher.dispose();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await holder.release();
    // Backing off from 100 ms, doubling: about five attempts in 1.5 s; a loop makes thousands.
    assert.ok(connections >= 1, 'the watcher connected at all');
    assert.ok(connections <= 10, `${connections} connections in 1.5 s`);
  });

  it('refuses a handoff when nobody listens to requests', async () => {
    const folder = tempFolder();
    const holder = await take(new WorkspaceLock(folder));
    await assert.rejects(new WorkspaceLock(folder).requestHandoff(me, { timeoutMs: 2000 }), /no owner is listening/);
    await holder.release();
  });

  it('tells watchers about a new holder and about a release, with the cause', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    const events: WatchEvent[] = [];
    const sub = lock.watch((e) => events.push(e));
    assert.equal(events[0]?.state.state, 'free');
    const holder = await take(new WorkspaceLock(folder));
    await waitFor('a held event', () => events.some((e) => e.state.state === 'held' && 'holder' in e.state && e.state.holder.record !== undefined));
    await holder.release();
    const last = await waitFor('a free event', () => events.find((e, i) => i > 0 && e.state.state === 'free'));
    assert.ok(['holder-released', 'changed'].includes(last.cause), last.cause);
    sub.dispose();
  });

  it('waits for the lock, says for whom, and takes it when it frees', async () => {
    const folder = tempFolder();
    const holder = await take(new WorkspaceLock(folder));
    const waiting: string[] = [];
    const got = new WorkspaceLock(folder).acquire(me, { onWaiting: (s) => waiting.push(s.state) });
    await sleep(50);
    await holder.release();
    const handle = await got;
    assert.deepEqual(waiting, ['held']);
    await handle.release();
  });

  it('gives up waiting at the deadline with a timeout error naming the holder', async () => {
    const folder = tempFolder();
    const holder = await take(new WorkspaceLock(folder));
    await assert.rejects(
      new WorkspaceLock(folder).acquire(me, { waitMs: 100 }),
      (e: unknown) => e instanceof LockError && e.code === 'timeout' && /still held by cli “unit test”/.test(e.message),
    );
    await holder.release();
  });
});

describe('adopting a lock kept alive by tasks', () => {
  it('lets the owner of the running tasks take over a dead holder’s lock, and nobody else', async () => {
    const { spawn } = await import('node:child_process');
    const folder = tempFolder();
    // A holder in another process records a task, then dies; the task lives on.
    const task = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const holderScript = `
      const { WorkspaceLock } = require(${JSON.stringify(require.resolve('../../src/lock'))});
      new WorkspaceLock(${JSON.stringify(folder)}).tryAcquire({ kind: 'vscode', label: 'window 1' }).then((r) => {
        r.handle.setTasks([{ name: 'watch', pid: ${task.pid} }]);
        process.stdout.write('held');
        setInterval(() => {}, 1000);
      });`;
    const holder = spawn(process.execPath, ['-e', holderScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
      const lock = new WorkspaceLock(folder);
      assert.equal(lock.inspect().state, 'held', 'the task keeps the lock held');
      const refused = await lock.adopt({ kind: 'vscode', label: 'window 2' }, (t) => t.name === 'window 2');
      assert.equal(refused.ok, false);
      const r = await lock.adopt({ kind: 'vscode', label: 'window 1 (reloaded)' }, (t) => t.pid === task.pid);
      assert.equal(r.ok, true);
      const handle = (r as { handle: LockHandle }).handle;
      assert.deepEqual(handle.record.tasks.map((t) => t.pid), [task.pid]);
      assert.equal(handle.record.pid, process.pid);
      await handle.release();
    } finally {
      task.kill('SIGKILL');
      holder.kill('SIGKILL');
    }
  });
});
