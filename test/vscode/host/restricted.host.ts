import * as assert from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator } from 'playwright-core';
import { Harness } from '../../harness/harness';
import type { EditorWindow } from '../../harness/window';
import { removeLockDirSockets } from '../../support/fixtures';
import { sleep, waitFor } from '../../support/wait';
import { cli, slowEditor, status, ticks } from './guarded';

// Task Lock in Restricted Mode: Workspace Trust on and the folder not trusted (the harness' `untrusted` server,
// where every window opens as after "No, I don't trust the authors"). VS Code runs no task there, and listing
// tasks asks the user to trust the folder, so Task Lock starts nothing, lists nothing, shows the lock's state,
// and says what to do when asked to start. Each describe opens one window and follows one story, in order (see
// tasklock.host.ts).

/** The lock directory the folder's own settings name: a restricted setting, ignored until the folder is trusted. */
const WORKSPACE_LOCK_DIR = path.join('.vscode', 'workspace-lock');

/**
 * The text of a modal dialog over the window (VS Code's "Do you trust the authors…?" when something lists or
 * runs tasks), which it then cancels so that the next steps can use the window; undefined when there is none.
 */
async function dialogShown(win: EditorWindow): Promise<string | undefined> {
  const box = win.page.locator('.monaco-dialog-box');
  if ((await box.count()) === 0) {
    return undefined;
  }
  const text = (await box.first().textContent()) ?? '';
  await box.first().getByRole('button', { name: 'Cancel' }).click({ timeout: 5_000 }).catch(() => undefined);
  return text;
}

async function assertNoDialog(win: EditorWindow, when: string): Promise<void> {
  const text = await dialogShown(win);
  assert.strictEqual(text, undefined, `a dialog showed ${when}: ${text ?? ''}`);
}

/** The Workspace Trust editor's Trust button (not its Trust Parent). */
function trustButton(win: EditorWindow): Locator {
  return win.page.getByRole('button', { name: 'Trust', exact: true }).first();
}

/** What an earlier `it` of the same story found; undefined when that step failed. */
function earlier<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new Error(`needs ${what}, which an earlier step did not get`);
  }
  return value;
}

function killTicks(folder: string): void {
  for (const pid of ticks(folder)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

/** A copy of the `guarded` fixture whose own settings name a lock directory (WORKSPACE_LOCK_DIR). */
function guardedFolder(h: Harness): string {
  const folder = h.workspace('guarded');
  fs.writeFileSync(
    path.join(folder, '.vscode', 'settings.json'),
    JSON.stringify({ 'taskLock.tasks': ['watch'], 'taskLock.staleSeconds': 2, 'taskLock.lockDirectory': WORKSPACE_LOCK_DIR }),
  );
  return folder;
}

/** A `task-lock run` of the folder's tick.js, in the default lock home or in `lockDir`. */
function startRun(folder: string, lockDir?: string): ChildProcess {
  const where = lockDir === undefined ? [] : [`--lock-dir=${lockDir}`];
  return spawn(process.execPath, [cli, 'run', '--folder', folder, ...where, '--label', 'cli watch', '--', process.execPath, path.join(folder, 'tick.js')], { stdio: 'ignore' });
}

describe('Task Lock in Restricted Mode (an untrusted folder)', function () {
  let h: Harness | undefined;
  before(async () => {
    h = await Harness.start('restricted mode', { workspaceTrust: 'untrusted' });
  });
  after(async () => {
    await h?.stop();
  });

  function harness(): Harness {
    return earlier(h, 'a running harness');
  }

  describe('one window, from opening the folder to trusting it', function () {
    let folder = '';
    let lockDir = '';
    let win: EditorWindow | undefined;
    let run: ChildProcess | undefined;
    let runTick: number | undefined;
    before(async () => {
      folder = guardedFolder(harness());
      lockDir = path.join(folder, WORKSPACE_LOCK_DIR);
      // The harness waits until the window shows Restricted Mode.
      win = await harness().openWindow({ folder });
    });
    after(async () => {
      run?.kill('SIGKILL');
      killTicks(folder);
      await win?.close();
      // The harness removes the default lock homes' sockets; the folder's own lock directory is this test's.
      removeLockDirSockets(lockDir);
    });

    function window(): EditorWindow {
      return earlier(win, 'the window');
    }

    it('opens with no dialog asking to trust the folder (Task Lock lists no task there)', async () => {
      await window().waitForStatus(/: lock free/, slowEditor.timeoutMs);
      // Nothing announces that a dialog will not come: this period covers the window's first look at its tasks.
      await sleep(3_000);
      await assertNoDialog(window(), 'on opening the folder');
    });

    it('starts nothing by itself (taskLock.autoStart): the lock stays free and no task runs', () => {
      assert.deepStrictEqual(ticks(folder), []);
      assert.strictEqual(status(folder).state, 'free');
    });

    it('ignores the folder\'s taskLock.lockDirectory: it shows the `task-lock run` that holds the default lock', async () => {
      run = startRun(folder);
      runTick = await waitFor('the run to hold the lock', () => (status(folder).state === 'held' && ticks(folder).length === 1 ? ticks(folder)[0] : undefined), slowEditor);
      await window().waitForStatus(/watch runs in task-lock run/, slowEditor.timeoutMs);
      assert.ok(!fs.existsSync(lockDir), `${lockDir} must not be made while the folder is untrusted`);
    });

    it('Take Over says the workspace must be trusted; the run keeps the lock and its command', async () => {
      const tick = earlier(runTick, 'the run\'s command');
      await window().runCommand('Task Lock: Take Over');
      await window().waitForText(/trusted workspace/);
      // A handover would stop the run's command within a second or two: nothing announces that it will not.
      await sleep(2_000);
      assert.deepStrictEqual(ticks(folder), [tick]);
      assert.strictEqual(status(folder).holder?.kind, 'cli');
      await assertNoDialog(window(), 'after Take Over');
    });

    it('when the run ends, it starts nothing (no failover) and shows the lock free', async () => {
      earlier(run, 'the run').kill('SIGTERM');
      await window().waitForStatus(/: lock free/, slowEditor.timeoutMs);
      // A failover would start the task within a second or two: nothing announces that it will not.
      await sleep(3_000);
      assert.deepStrictEqual(ticks(folder), []);
      assert.strictEqual(status(folder).state, 'free');
      await assertNoDialog(window(), 'after the run ended');
    });

    it('Start Guarded Tasks says the workspace must be trusted, and starts nothing', async () => {
      await window().runCommand('Task Lock: Start Guarded Tasks');
      await window().waitForText(/trusted workspace/);
      // A start would take the lock at once and spawn the task within a second or two.
      await sleep(2_000);
      assert.deepStrictEqual(ticks(folder), []);
      assert.strictEqual(status(folder).state, 'free');
      assert.ok(!fs.existsSync(lockDir), `${lockDir} must not be made while the folder is untrusted`);
      await assertNoDialog(window(), 'after Start Guarded Tasks');
    });

    it('the message\'s button opens the Workspace Trust editor', async () => {
      await window().runCommand('Task Lock: Start Guarded Tasks');
      await window().clickButton('Manage Workspace Trust');
      // The Workspace Trust editor ("You are in Restricted Mode") with its Trust button.
      await trustButton(window()).waitFor({ state: 'visible', timeout: 30_000 });
    });

    it('once the folder is trusted there, the guarded task starts, once, under the folder\'s taskLock.lockDirectory', async () => {
      const w = window();
      await trustButton(w).click();
      const tick = await waitFor(
        'the window to take the lock in the folder\'s lock directory and start watch',
        () => {
          const s = status(folder, lockDir);
          const t = ticks(folder);
          return s.state === 'held' && s.holder?.pid === w.extensionHostPid && t.length === 1 && s.holder.tasks.some((x) => x.pid === t[0]) ? t[0] : undefined;
        },
        slowEditor,
      );
      await w.waitForStatus(/this window runs watch/);
      assert.strictEqual(status(folder).state, 'free', 'the default lock is not used once the folder\'s own lock directory applies');
      // A second copy would spawn within a second or two: nothing announces that none will.
      await sleep(2_000);
      assert.deepStrictEqual(ticks(folder), [tick], 'one copy');
    });
  });

  describe('a taskLock.lockDirectory in the user\'s own settings', function () {
    let folder = '';
    let userDir = '';
    let win: EditorWindow | undefined;
    let run: ChildProcess | undefined;
    before(async () => {
      folder = guardedFolder(harness());
      userDir = path.join(harness().tempDir, 'user-lock');
      // Read by the windows opened from now on.
      harness().updateUserSettings({ 'taskLock.lockDirectory': userDir });
      run = startRun(folder, userDir);
      await waitFor('the run to hold the lock in the user\'s lock directory', () => status(folder, userDir).state === 'held' && ticks(folder).length === 1, slowEditor);
      win = await harness().openWindow({ folder });
    });
    after(async () => {
      run?.kill('SIGKILL');
      killTicks(folder);
      await win?.close();
      removeLockDirSockets(userDir);
      h?.updateUserSettings({ 'taskLock.lockDirectory': undefined });
    });

    it('applies in Restricted Mode (the folder\'s own is ignored): the window shows the run that holds the lock there', async () => {
      await earlier(win, 'the window').waitForStatus(/watch runs in task-lock run/, slowEditor.timeoutMs);
      assert.ok(!fs.existsSync(path.join(folder, WORKSPACE_LOCK_DIR)), 'the folder\'s own lock directory must not be made while it is untrusted');
    });
  });
});
