import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { WorkspaceLock } from '../../src/lock';
import { cleanup, ownPid, start, tempFolder } from '../support/fixtures';
import { pidAlive, waitFor } from '../support/wait';

const EXITER = path.resolve(__dirname, '../support/exiter.js');
after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

async function holdThenEnd(folder: string, how: 'exit' | 'SIGTERM' | 'SIGINT', withTask: boolean): Promise<number> {
  const p = start(process.execPath, [EXITER, folder, how === 'exit' ? 'exit' : 'wait', withTask ? 'task' : 'none']);
  const line = await waitFor('the holder to hold', () => /held (\d+)/.exec(p.out())?.[1]);
  const taskPid = Number(line);
  if (taskPid > 0) {
    ownPid(taskPid);
  }
  if (how !== 'exit') {
    p.kill(how);
  }
  await p.exited;
  return taskPid;
}

describe('what a holder’s exit leaves', () => {
  for (const how of ['exit', 'SIGTERM', 'SIGINT'] as const) {
    it(`leaves the lock to tasks that still run after a ${how === 'exit' ? 'normal exit' : how}`, async () => {
      const folder = tempFolder();
      const taskPid = await holdThenEnd(folder, how, true);
      const lock = new WorkspaceLock(folder);
      const s = lock.inspect();
      assert.equal(s.state, 'held', 'the task keeps the lock');
      assert.deepEqual(s.state === 'held' ? s.holder.record?.tasks.map((t) => t.pid) : [], [taskPid]);
      process.kill(taskPid, 'SIGKILL');
      await waitFor('the task to end', () => !pidAlive(taskPid));
      assert.equal(lock.inspect().state, 'stale');
      const r = await lock.tryAcquire({ kind: 'cli', label: 'next' });
      assert.equal(r.ok, true);
      await (r as { handle: { release(): Promise<void> } }).handle.release();
    });

    it(`frees the lock on a ${how === 'exit' ? 'normal exit' : how} without running tasks`, async () => {
      const folder = tempFolder();
      await holdThenEnd(folder, how, false);
      assert.equal(new WorkspaceLock(folder).inspect().state, 'free');
    });
  }
});
