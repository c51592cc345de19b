import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { WorkspaceLock, isAlive, orphanOf, processStart } from '../../src/lock';
import { cleanup, ownPid, start, tempFolder } from '../support/fixtures';
import { waitFor } from '../support/wait';

// An orphan: a window's extension host gone (its page closed) while the terminal host runs its task on. Here a
// real holder process records a real task, started as the terminal host starts one (a shell leading its own
// session, with a child), and is then killed.

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

const ENGINE = path.resolve(__dirname, '../../src/lock');

interface Orphan {
  folder: string;
  token: string;
  shell: number;
  child: number;
}

/**
 * A holder of kind vscode with one recorded task (a shell and its child), killed: its task runs on. The task carries
 * its mark in its environment, as a window's task terminals do (MARK_VAR); `unmarked`: it was started without.
 */
async function orphan(stubborn = false, childOnly = false, unmarked = false): Promise<Orphan> {
  const folder = tempFolder();
  const pids = path.join(tempFolder(), 'pids');
  // A stubborn task ignores SIGTERM, shell and child alike, as a hung server may.
  const trap = stubborn ? "trap '' TERM; " : '';
  const ready = path.join(path.dirname(pids), 'ready');
  // The child says when it runs its program (its SIGTERM handler set): a signal before that would find none.
  const childJs = `${stubborn || childOnly ? "process.on('SIGTERM', () => {}); " : ''}require('fs').writeFileSync('${ready}', ''); setInterval(() => {}, 1000)`;
  const script = `
const { MARK_VAR, WorkspaceLock, processStart } = require(${JSON.stringify(ENGINE)});
const { spawn } = require('node:child_process');
(async () => {
  const r = await new WorkspaceLock(${JSON.stringify(folder)}).tryAcquire({ kind: 'vscode', label: 'window A' });
  const task = spawn('sh', ['-c', ${JSON.stringify(`${trap}"${process.execPath}" -e "${childJs}" & echo $! > "${pids}"; wait`)}], { detached: true, stdio: 'ignore', env: { ...process.env, ${unmarked ? '' : "[MARK_VAR]: 'a1'.repeat(16)"} } });
  r.handle.setTasks([{ name: 'watch', pid: task.pid, start: processStart(task.pid), mark: 'a1'.repeat(16) }]);
  console.log(JSON.stringify({ token: r.handle.record.token, shell: task.pid }));
  setInterval(() => {}, 1000);
})();`;
  const holder = start(process.execPath, ['-e', script]);
  const told = JSON.parse(await waitFor('the holder to record its task', () => holder.out().trim() || undefined)) as { token: string; shell: number };
  ownPid(told.shell);
  const child = Number(await waitFor('the task\'s child to start', () => (fs.existsSync(pids) ? fs.readFileSync(pids, 'utf8').trim() : '') || undefined));
  ownPid(child);
  await waitFor('the task\'s child to be ready', () => fs.existsSync(ready));
  holder.kill('SIGKILL');
  await holder.exited;
  return { folder, token: told.token, shell: told.shell, child };
}

const running = (pid: number): boolean => processStart(pid) !== null;

describe('an orphan: a holder gone while its task runs', () => {
  it('is seen as one: held, with the time its holder went', async () => {
    const o = await orphan();
    const s = new WorkspaceLock(o.folder).inspect();
    assert.equal(s.state, 'held', 'the task keeps the lock');
    assert.equal(orphanOf(s)?.token, o.token);
    const since = s.state === 'held' ? s.holder.orphanedSinceMs : undefined;
    assert.ok(since !== undefined && Math.abs(Date.now() - since) < 10_000, `orphaned since ${since}`);
    process.kill(-o.shell, 'SIGKILL');
  });

  it('takeFromOrphan stops the task, its child too (the process group), and takes the lock', async () => {
    const o = await orphan();
    const lock = new WorkspaceLock(o.folder);
    const r = await lock.takeFromOrphan({ kind: 'vscode', label: 'window B' }, o.token);
    assert.ok(r?.ok, 'the lock was not taken');
    assert.equal(running(o.shell), false, 'the task\'s shell still runs');
    assert.equal(running(o.child), false, 'the task\'s child still runs: a second copy would run beside it');
    assert.equal(lock.inspect(r.handle.record.token).state, 'mine');
    await r.handle.release();
  });

  it('a task that ignores SIGTERM is killed', async () => {
    const o = await orphan(true);
    const r = await new WorkspaceLock(o.folder).takeFromOrphan({ kind: 'vscode', label: 'window B' }, o.token);
    assert.ok(r?.ok);
    assert.equal(running(o.shell) || running(o.child), false);
    await r.handle.release();
  });

  it('a child that ignores SIGTERM is waited for and killed, though its shell (the recorded pid) ended at once', async () => {
    const o = await orphan(false, true);
    const r = await new WorkspaceLock(o.folder).takeFromOrphan({ kind: 'vscode', label: 'window B' }, o.token);
    const childLeft = running(o.child);
    if (r?.ok) {
      await r.handle.release();
    }
    assert.equal(childLeft, false, 'the lock was taken while the old task\'s child still ran: a second copy would start beside it');
    assert.ok(r?.ok, 'the lock was not taken');
  });

  it('a task without its mark in its environment is not stopped by itself, nor the lock taken (#16 item 3)', async () => {
    const o = await orphan(false, false, true);
    const r = await new WorkspaceLock(o.folder).takeFromOrphan({ kind: 'vscode', label: 'window B' }, o.token);
    assert.equal(r?.ok, false);
    assert.ok(running(o.shell) && running(o.child), 'a task that does not prove to be the record\'s was stopped');
    process.kill(-o.shell, 'SIGKILL');
  });

  it('another orphan than the one named (its token) is left alone', async () => {
    const o = await orphan();
    const r = await new WorkspaceLock(o.folder).takeFromOrphan({ kind: 'vscode', label: 'window B' }, 'some-other-token');
    assert.equal(r?.ok, false);
    assert.ok(running(o.shell) && running(o.child), 'a task was stopped on the word of an old record');
    process.kill(-o.shell, 'SIGKILL');
  });

  it('of several windows trying at once, exactly one takes the lock', async () => {
    const o = await orphan();
    const tries = await Promise.all([1, 2, 3].map((i) => new WorkspaceLock(o.folder).takeFromOrphan({ kind: 'vscode', label: `window ${i}` }, o.token, false)));
    const took = tries.filter((r) => r?.ok);
    assert.equal(took.length, 1, 'more than one window took the lock');
    assert.equal(isAlive({ pid: o.child, start: null }), false);
    for (const r of took) {
      if (r?.ok) {
        await r.handle.release();
      }
    }
  });
});
