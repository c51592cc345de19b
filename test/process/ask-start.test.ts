import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WorkspaceLock, askHolderToStart } from '../../src/lock';
import { cleanup, tempFolder } from '../support/fixtures';

// A follower asks the holder, over the holder's real channel (a Unix socket), to start tasks that run nowhere.

after(async () => {
  assert.deepEqual(await cleanup(), [], 'processes were left running');
});

describe('asking the holder to start a task (#10 D4)', () => {
  it('a holder that starts tasks on request answers with what runs now', async () => {
    const folder = tempFolder();
    const r = await new WorkspaceLock(folder).tryAcquire({ kind: 'vscode', label: 'window A' });
    assert.ok(r.ok);
    const asked: string[][] = [];
    r.handle.onStartRequest((req) => {
      asked.push(req.names);
      req.answer(req.names.filter((n) => n !== 'unknown'));
    });
    const a = await askHolderToStart(new WorkspaceLock(folder), { kind: 'vscode', label: 'window B' }, ['serve', 'unknown'], 5_000);
    await r.handle.release();
    assert.deepEqual(asked, [['serve', 'unknown']]);
    assert.deepEqual(a, { ok: true, started: ['serve'] });
  });

  it('a holder that does not start tasks (a task-lock run: no listener) says so', async () => {
    const folder = tempFolder();
    const r = await new WorkspaceLock(folder).tryAcquire({ kind: 'cli', label: 'npm run dev' });
    assert.ok(r.ok);
    const a = await askHolderToStart(new WorkspaceLock(folder), { kind: 'vscode', label: 'window B' }, ['serve'], 5_000);
    await r.handle.release();
    assert.equal(a.ok, false);
    assert.match(a.ok ? '' : a.reason, /does not start tasks on request/);
  });

  it('a refusal carries its reason; a free lock has nobody to ask', async () => {
    const folder = tempFolder();
    const r = await new WorkspaceLock(folder).tryAcquire({ kind: 'vscode', label: 'window A' });
    assert.ok(r.ok);
    r.handle.onStartRequest((req) => req.answer([], 'serve is not guarded here'));
    const refused = await askHolderToStart(new WorkspaceLock(folder), { kind: 'vscode', label: 'window B' }, ['serve'], 5_000);
    await r.handle.release();
    assert.deepEqual(refused, { ok: false, reason: 'serve is not guarded here' });
    const nobody = await askHolderToStart(new WorkspaceLock(folder), { kind: 'vscode', label: 'window B' }, ['serve'], 5_000);
    assert.equal(nobody.ok, false);
  });
});
