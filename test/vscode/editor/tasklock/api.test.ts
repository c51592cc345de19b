import * as assert from 'node:assert';
import * as vscode from 'vscode';
import type { TaskLockApi } from '../../../../src/extension';
import { sleep, waitFor } from '../../../support/wait';
import { extensionId, slowWindow, workspaceFolder } from '../util';

// Runs inside a window on the `guarded` fixture: the extension's API and the running task, seen from inside.

describe('Task Lock API in a window', () => {
  let api: TaskLockApi;

  before(async () => {
    const ext = vscode.extensions.getExtension<TaskLockApi>(extensionId());
    assert.ok(ext);
    api = await ext.activate();
    await api.ready;
  });

  it('reports the activation time', () => {
    assert.ok(api.activationMs >= 0);
    console.log(`[task-lock-figure] activation ${api.activationMs.toFixed(2)} ms`);
  });

  it('the window takes the lock and its state says it runs watch', async () => {
    const folder = workspaceFolder();
    const s = await waitFor('this window to hold the lock and run watch', () => api.state().find((f) => f.folder === folder && f.phase === 'holder' && f.running.includes('watch')), { ...slowWindow, timeoutMs: 60_000 });
    assert.deepStrictEqual(s.tasks, ['watch']);
    assert.strictEqual(s.holder?.kind, 'vscode');
    assert.strictEqual(s.holder?.pid, process.pid);
    await waitFor('the watch execution', () => vscode.tasks.taskExecutions.some((e) => e.task.name === 'watch'), slowWindow);
  });

  it('Stop Guarded Tasks and Release stops the task and frees the lock; onDidChange tells', async () => {
    const freed = new Promise<void>((resolve) => {
      const sub = api.onDidChange((all) => {
        if (all.some((f) => f.phase === 'free')) {
          sub.dispose();
          resolve();
        }
      });
    });
    await vscode.commands.executeCommand('taskLock.stopTasks');
    await freed;
    await waitFor('the watch execution to end', () => !vscode.tasks.taskExecutions.some((e) => e.task.name === 'watch'), { ...slowWindow, timeoutMs: 10_000 });
    // Released on purpose: nothing starts it again by itself. A restart that does not come has no event to wait
    // for, so this sleep stays: it gives a wrong restart (a reaction to the freed lock) time to show.
    await sleep(1500);
    assert.strictEqual(api.state()[0].phase, 'free');
  });

  it('Start Guarded Tasks takes the lock before it starts the task', async () => {
    await vscode.commands.executeCommand('taskLock.startTasks');
    const s = await waitFor('the task to run again', () => api.state().find((f) => f.phase === 'holder' && f.running.includes('watch')), { ...slowWindow, timeoutMs: 60_000 });
    assert.strictEqual(s.holder?.pid, process.pid);
  });
});
