import * as assert from 'node:assert';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EditorWindow, Harness } from '../../harness/harness';
import { say } from '../../harness/log';
import { editorTestModule, repoRoot } from '../../harness/paths';
import { sleep, waitFor } from '../../support/wait';
import { cli, slowEditor, status, ticks } from './guarded';

// Task Lock in the real editor: windows on one folder of the `guarded` fixture, whose `watch` task runs
// `tick.js`. The truth is read where a user would find it: the process table and `task-lock status`.

/** The window whose extension host holds the folder's lock, once exactly one tick process runs for it. */
async function holderWindow(folder: string, windows: EditorWindow[], what: string, timeoutMs = 60_000): Promise<{ win: EditorWindow; tick: number }> {
  return waitFor(
    what,
    () => {
      const s = status(folder);
      const t = ticks(folder);
      const win = windows.find((w) => w.extensionHostPid === s.holder?.pid);
      return s.state === 'held' && win && t.length === 1 && s.holder?.tasks.some((x) => x.pid === t[0]) ? { win, tick: t[0] } : undefined;
    },
    { ...slowEditor, timeoutMs },
  );
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

async function textIn(win: EditorWindow, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const loc = win.page.getByText(pattern).first();
  await loc.waitFor({ state: 'visible', timeout: timeoutMs });
  return (await loc.textContent()) ?? '';
}

describe('Task Lock in the real editor', function () {
  let h: Harness | undefined;
  let folders: string[] = [];
  const figures: string[] = [];
  before(async () => {
    h = await Harness.start('task lock');
  });
  afterEach(() => {
    for (const f of folders) {
      killTicks(f);
    }
    folders = [];
  });
  after(async () => {
    if (figures.length > 0) {
      say(`Task Lock figures:\n${figures.map((f) => `    ${f}`).join('\n')}`);
    }
    await h?.stop();
  });

  function workspace(): string {
    const f = (h as Harness).workspace('guarded');
    folders.push(f);
    return f;
  }

  it('one window: the guarded task starts by itself and the window holds the lock', async () => {
    const harness = h as Harness;
    const folder = workspace();
    const win = await harness.openWindow({ folder });
    const { tick } = await holderWindow(folder, [win], 'the window to take the lock and start watch');
    assert.strictEqual(status(folder).holder?.kind, 'vscode');
    await textIn(win, /this window runs watch/);
    await sleep(2_000);
    assert.deepStrictEqual(ticks(folder), [tick]);
    await win.close();
  });

  it('inside the window: the API names the holder; Stop releases and nothing restarts; Start takes the lock first', async () => {
    const harness = h as Harness;
    const folder = workspace();
    const [r] = await harness.runWindows(1, { folder, testModule: editorTestModule('tasklock/index.js') });
    assert.strictEqual(r.exitCode, 0, r.failures.join('\n'));
    assert.strictEqual(r.passed, 4);
    const fig = r.log.find((l) => l.includes('[task-lock-figure]'));
    if (fig !== undefined) {
      figures.push(fig.slice(fig.indexOf('[task-lock-figure]') + 19));
    }
  });

  it('two windows: the task runs once; a start in the follower is stopped; Take Over moves it; the holder killed: the follower starts it', async () => {
    const harness = h as Harness;
    const folder = workspace();
    const windows = await harness.openWindows(2, { folder });
    const first = await holderWindow(folder, windows, 'one window to run watch');
    const holder = first.win;
    const follower = windows.find((w) => w !== holder) as EditorWindow;
    await sleep(3_000);
    assert.deepStrictEqual(ticks(folder), [first.tick], 'the task must run exactly once');
    await textIn(follower, /watch runs in/);
    if (process.env.TASK_LOCK_SCREENSHOTS === '1') {
      // For the README: `TASK_LOCK_SCREENSHOTS=1 npm run test:vscode -- tasklock` refreshes them.
      await textIn(holder, /this window runs watch/);
      await holder.screenshot(path.join(repoRoot, 'media', 'screenshot-holder.png'));
      await follower.screenshot(path.join(repoRoot, 'media', 'screenshot-follower.png'));
    }

    // A manual start in the follower: terminated, with a notification naming the holder.
    await follower.runTask('watch');
    await textIn(follower, /is already running in/);
    await sleep(2_000);
    assert.deepStrictEqual(ticks(folder), [first.tick], 'the holder\'s task keeps running, alone');
    assert.strictEqual(status(folder).holder?.pid, holder.extensionHostPid);

    // Take Over: the holder stops its task and hands over; the follower starts it.
    await follower.runCommand('Task Lock: Take Over');
    // From the click on the command (typing it in the palette is not counted).
    const t0 = Date.now();
    await waitFor('a new task process after Take Over', () => ticks(folder).some((p) => p !== first.tick), { timeoutMs: 60_000, everyMs: 5 });
    figures.push(`Take Over → task running in the new window: ${Date.now() - t0} ms (including the old task's stop)`);
    const moved = await waitFor('Take Over to move watch to the follower', () => {
      const s = status(folder);
      const t = ticks(folder);
      return s.holder?.pid === follower.extensionHostPid && t.length === 1 && t[0] !== first.tick ? t[0] : undefined;
    }, slowEditor);
    await sleep(1_000);
    assert.deepStrictEqual(ticks(folder), [moved]);

    // The new holder's extension host and task die with SIGKILL: the other window fails over.
    const t1 = Date.now();
    process.kill(follower.extensionHostPid, 'SIGKILL');
    process.kill(moved, 'SIGKILL');
    // The process table alone, polled fast, times the failover; the lock is checked right after.
    await waitFor('a new task process', () => ticks(folder).some((p) => p !== moved), { timeoutMs: 60_000, everyMs: 5 });
    figures.push(`holder's extension host and task killed → the other window's task process running: ${Date.now() - t1} ms`);
    await follower.killExtensionHost();
    const after = await holderWindow(folder, [holder], 'failover to the first window');
    assert.notStrictEqual(after.tick, moved);
    await sleep(2_000);
    assert.deepStrictEqual(ticks(folder), [after.tick]);
    for (const w of windows) {
      await w.close();
    }
  });

  it('the holder\'s extension host killed while its task lives: nobody starts a second copy, even after staleSeconds', async () => {
    const harness = h as Harness;
    const folder = workspace();
    const windows = await harness.openWindows(2, { folder });
    const first = await holderWindow(folder, windows, 'one window to run watch');
    const other = windows.find((w) => w !== first.win) as EditorWindow;
    await first.win.killExtensionHost();
    // taskLock.staleSeconds is 2 in the fixture.
    await sleep(5_000);
    assert.deepStrictEqual(ticks(folder), [first.tick], 'still one copy, the orphaned one');
    assert.strictEqual(status(folder).state, 'held');
    // When that task ends too, failover applies.
    const t0 = Date.now();
    process.kill(first.tick, 'SIGKILL');
    await waitFor('a new task process', () => ticks(folder).some((p) => p !== first.tick), { timeoutMs: 60_000, everyMs: 5 });
    figures.push(`orphaned task killed → the other window's task process running: ${Date.now() - t0} ms`);
    // By the process table rather than by window: under load the harness has once mapped a window to a wrong pid.
    const after = await waitFor('failover once the orphaned task ended', () => {
      const s = status(folder);
      const t = ticks(folder);
      return s.state === 'held' && s.holder?.pid !== first.win.extensionHostPid && t.length === 1 && s.holder?.tasks.some((x) => x.pid === t[0]) ? t[0] : undefined;
    }, slowEditor);
    assert.notStrictEqual(after, first.tick);
    void other;
    for (const w of windows) {
      await w.close();
    }
  });

  it('a `task-lock run` holding the folder: the window starts nothing and names it; when it ends, the window fails over', async () => {
    const harness = h as Harness;
    const folder = workspace();
    const child: ChildProcess = spawn(process.execPath, [cli, 'run', '--folder', folder, '--label', 'cli watch', '--', process.execPath, path.join(folder, 'tick.js')], { stdio: 'ignore' });
    try {
      const cliTick = await waitFor('the CLI to hold the lock', () => (status(folder).state === 'held' && ticks(folder).length === 1 ? ticks(folder)[0] : undefined), slowEditor);
      const win = await harness.openWindow({ folder });
      await textIn(win, /runs in task-lock run/);
      await sleep(2_000);
      assert.deepStrictEqual(ticks(folder), [cliTick]);
      assert.strictEqual(status(folder).holder?.kind, 'cli');
      child.kill('SIGTERM');
      const after = await holderWindow(folder, [win], 'the window to fail over after the CLI ended');
      assert.notStrictEqual(after.tick, cliTick);
      await win.close();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a `taskLock` task (CustomExecution): in a follower its process never starts', async () => {
    const harness = h as Harness;
    const folder = (h as Harness).workspace('gated');
    folders.push(folder);
    const windows = await harness.openWindows(2, { folder });
    const first = await holderWindow(folder, windows, 'one window to run the gated watch');
    const follower = windows.find((w) => w !== first.win) as EditorWindow;
    await textIn(follower, /watch runs in/);
    let most = 0;
    let watching = true;
    const sampler = (async () => {
      while (watching) {
        most = Math.max(most, ticks(folder).length);
        await sleep(2);
      }
    })();
    await follower.runTask('watch');
    await textIn(follower, /is already running in/);
    await sleep(3_000);
    watching = false;
    await sampler;
    assert.strictEqual(most, 1, 'a second process existed, even briefly');
    assert.deepStrictEqual(ticks(folder), [first.tick]);
    for (const w of windows) {
      await w.close();
    }
  });

  it('the lock removed underneath the holder (reclaim --force): the holder stops its task and says so', async () => {
    const harness = h as Harness;
    const folder = workspace();
    const win = await harness.openWindow({ folder });
    await holderWindow(folder, [win], 'the window to run watch');
    execFileSync(process.execPath, [cli, 'reclaim', '--folder', folder, '--force'], { encoding: 'utf8' });
    await textIn(win, /taken or removed underneath/);
    await waitFor('the compromised holder to stop its task', () => ticks(folder).length === 0, slowEditor);
    await win.close();
  });

  it('`runOn: folderOpen` in two windows: the follower\'s copy is stopped, one keeps running', async () => {
    const harness = h as Harness;
    const folder = workspace();
    const tasksFile = path.join(folder, '.vscode', 'tasks.json');
    const tasks = JSON.parse(fs.readFileSync(tasksFile, 'utf8')) as { tasks: Array<Record<string, unknown>> };
    tasks.tasks[0].runOptions = { runOn: 'folderOpen' };
    fs.writeFileSync(tasksFile, JSON.stringify(tasks, null, 2));
    fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'taskLock.tasks': ['watch'], 'taskLock.staleSeconds': 2, 'task.allowAutomaticTasks': 'on' }));
    let most = 0;
    let watching = true;
    const sampler = (async () => {
      while (watching) {
        most = Math.max(most, ticks(folder).length);
        await sleep(5);
      }
    })();
    const windows = await harness.openWindows(2, { folder });
    const first = await holderWindow(folder, windows, 'one window to run watch');
    const follower = windows.find((w) => w !== first.win) as EditorWindow;
    await textIn(follower, /watch runs in/);
    await sleep(4_000);
    watching = false;
    await sampler;
    figures.push(`runOn folderOpen in a second window: at most ${most} copies at once before the stop`);
    assert.deepStrictEqual(ticks(folder), [first.tick]);
    for (const w of windows) {
      await w.close();
    }
  });

  it('an invalid setting: one warning naming it, the default is used, the task still runs', async () => {
    const harness = h as Harness;
    const folder = workspace();
    fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'taskLock.tasks': ['watch'], 'taskLock.staleSeconds': 'soon', 'taskLock.failover': 3 }));
    const win = await harness.openWindow({ folder });
    await textIn(win, /taskLock\.staleSeconds/);
    await textIn(win, /taskLock\.failover/);
    await holderWindow(folder, [win], 'the window to run watch despite the invalid settings');
    await win.close();
  });
});

describe('Task Lock: a window whose extension host restarts', function () {
  let h: Harness | undefined;
  let folder = '';
  before(async () => {
    // Installed, not a development extension: a development window closes when its extension host dies.
    h = await Harness.start('task lock restart', { installExtension: true });
  });
  after(async () => {
    killTicks(folder);
    await h?.stop();
  });

  it('re-adopts the lock its running task keeps; the other window starts no second copy', async () => {
    const harness = h as Harness;
    folder = harness.workspace('guarded');
    const windows = await harness.openWindows(2, { folder, extensionPath: null });
    const first = await holderWindow(folder, windows, 'one window to run watch');
    const other = windows.find((w) => w !== first.win) as EditorWindow;
    await first.win.killExtensionHost();
    await first.win.page.getByRole('button', { name: /Restart/ }).first().click({ timeout: 60_000 });
    const known = new Set(windows.map((w) => w.extensionHostPid));
    const adopted = await waitFor('the restarted extension host to re-adopt the lock', () => {
      const s = status(folder);
      const pid = s.holder?.pid;
      return s.state === 'held' && pid !== undefined && !known.has(pid) && harness.extensionHostPids().includes(pid) ? pid : undefined;
    }, slowEditor);
    assert.deepStrictEqual(ticks(folder), [first.tick], 'the same task process, alone');
    assert.ok(status(folder).holder?.tasks.some((t) => t.pid === first.tick), 'the task stays recorded');
    await sleep(3_000);
    assert.deepStrictEqual(ticks(folder), [first.tick]);
    process.kill(adopted, 'SIGKILL');
    for (const w of windows) {
      await w.close();
    }
    void other;
  });
});
