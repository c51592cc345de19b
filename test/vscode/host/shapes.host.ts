import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Harness } from '../../harness/harness';
import { listProcesses } from '../../harness/procs';
import type { EditorWindow } from '../../harness/window';
import { sleep, waitFor } from '../../support/wait';
import { slowEditor, status, ticks } from './guarded';

// The task shapes of issue #10 in the real editor, on the `guarded` fixture (`watch` runs tick.js). Each
// describe follows one story in order; the truth is the process table and `task-lock status`.

/** The folder's serve.js processes (a second guarded task). */
function serves(folder: string): number[] {
  return listProcesses()
    .filter((p) => path.basename(p.cmdline.split(' ')[0]) === 'node' && p.cmdline.includes(path.join(folder, 'serve.js')))
    .map((p) => p.pid);
}

/** The folder's node processes running `script` (a file of the fixture), wherever they were started. */
function running(folder: string, script: string): number[] {
  return listProcesses()
    .filter((p) => path.basename(p.cmdline.split(' ')[0]) === 'node' && p.cmdline.includes(path.join(folder, script)))
    .map((p) => p.pid);
}

/**
 * Looks at the process table every `everyMs` until stopped, to catch a copy that lives only for a moment:
 * `most()` is the highest count of each script's processes seen at one look so far.
 */
function sampleMost(folder: string, scripts: readonly string[], everyMs: number): { most: () => Record<string, number>; stop: () => void } {
  const most: Record<string, number> = Object.fromEntries(scripts.map((s) => [s, 0]));
  const look = (): void => {
    for (const s of scripts) {
      most[s] = Math.max(most[s], running(folder, s).length);
    }
  };
  const timer = setInterval(look, everyMs);
  return {
    most: () => {
      look();
      return { ...most };
    },
    stop: () => clearInterval(timer),
  };
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

describe('Task Lock: task shapes', function () {
  let h: Harness | undefined;
  const folders: string[] = [];
  before(async () => {
    h = await Harness.start('task shapes');
  });
  after(async () => {
    for (const f of folders) {
      killAll(ticks(f));
    }
    await h?.stop();
  });

  function harness(): Harness {
    if (h === undefined) {
      throw new Error('needs a running harness, which did not start');
    }
    return h;
  }

  describe('an npm script guarded by the label Run Task shows, "npm: watch" (#10 D1)', function () {
    let folder = '';
    let windows: EditorWindow[] = [];
    before(async () => {
      folder = harness().workspace('npm');
      folders.push(folder);
      windows = await harness().openWindows(2, { folder });
    });
    after(async () => {
      killAll(ticks(folder));
      for (const w of windows) {
        await w.close();
      }
    });

    it('one window starts it by itself and records it; the other starts none', async () => {
      const tick = await waitFor(
        'one npm watch, recorded by a window holding the lock',
        () => {
          const t = ticks(folder);
          const s = status(folder);
          // The recorded pid is npm's (the task's process); tick.js runs under it.
          return t.length === 1 && s.state === 'held' && s.holder?.kind === 'vscode' && (s.holder.tasks.length ?? 0) > 0 ? t[0] : undefined;
        },
        slowEditor,
      );
      await sleep(3_000);
      assert.deepStrictEqual(ticks(folder), [tick], 'a second copy started');
    });

    it('a start of "npm: watch" in the other window is stopped, naming the holder', async () => {
      const holderPid = status(folder).holder?.pid;
      const follower = windows.find((w) => w.extensionHostPid !== holderPid);
      assert.ok(follower, 'a window that does not hold the lock');
      await follower.runTask('npm: watch');
      await follower.waitForText(/is already running in/);
      await sleep(2_000);
      assert.strictEqual(ticks(folder).length, 1);
    });
  });

  describe('the task-lock command in the window\'s terminals (#11 item 3)', function () {
    let folder = '';
    let win: EditorWindow | undefined;
    before(async () => {
      folder = harness().workspace('guarded');
      folders.push(folder);
      const tasksFile = path.join(folder, '.vscode', 'tasks.json');
      const tasks = JSON.parse(fs.readFileSync(tasksFile, 'utf8')) as { tasks: Array<Record<string, unknown>> };
      tasks.tasks.push({ label: 'cli-version', type: 'shell', command: 'command -v task-lock > cli-version.txt && task-lock --version >> cli-version.txt', problemMatcher: [] });
      fs.writeFileSync(tasksFile, JSON.stringify(tasks, null, 2));
      win = await harness().openWindow({ folder });
    });
    after(async () => {
      await win?.close();
    });

    it('a task runs `task-lock --version` with no install step, and gets the bundled CLI\'s version', async () => {
      assert.ok(win);
      // Once the extension runs (its status bar says so): a terminal opened before it started keeps its
      // environment (VS Code would relaunch it, restarting whatever runs there).
      await win.waitForStatus(/this window runs watch/, 60_000);
      const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
      // Global storage is named by the extension's ID (publisher.name), which follows package.json.
      const launcher = path.join(harness().tempDir, 'user-data', 'User', 'globalStorage', `${pkg.publisher}.${pkg.name}`, 'bin', 'task-lock');
      await win.runTask('cli-version');
      const out = path.join(folder, 'cli-version.txt');
      const text = await waitFor('the task to write the version', () => (fs.existsSync(out) && fs.readFileSync(out, 'utf8').trim().split('\n').length >= 2 ? fs.readFileSync(out, 'utf8') : undefined), slowEditor);
      // The extension's launcher, not some other task-lock on PATH (an npm link, say).
      assert.deepStrictEqual(text.trim().split('\n'), [launcher, pkg.version]);
    });
  });

  describe('a guarded label that matches no task', function () {
    let win: EditorWindow | undefined;
    before(async () => {
      const folder = harness().workspace('guarded');
      folders.push(folder);
      fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'taskLock.tasks': ['wach'], 'taskLock.staleSeconds': 2 }));
      win = await harness().openWindow({ folder });
    });
    after(async () => {
      await win?.close();
    });

    it('says so, naming the labels that exist', async () => {
      assert.ok(win);
      const text = await win.waitForText(/no task labelled “wach”/);
      assert.match(text, /watch/);
    });

    it('and its status item keeps a warning after the notification is gone (#10 D1)', async () => {
      assert.ok(win);
      // VS Code marks a status item with the warning background by this class.
      await win.page.locator('.statusbar-item.warning-kind').filter({ hasText: /wach/ }).first().waitFor({ state: 'visible', timeout: 30_000 });
    });
  });

  describe('a label added while a window holds the lock (#10 D4)', function () {
    let folder = '';
    let windows: EditorWindow[] = [];
    before(async () => {
      folder = harness().workspace('guarded');
      folders.push(folder);
      const tasksFile = path.join(folder, '.vscode', 'tasks.json');
      const tasks = JSON.parse(fs.readFileSync(tasksFile, 'utf8')) as { tasks: Array<Record<string, unknown>> };
      // A second background task, told apart from watch's tick.js by its script.
      fs.copyFileSync(path.join(folder, 'tick.js'), path.join(folder, 'serve.js'));
      tasks.tasks.push({ ...tasks.tasks[0], label: 'serve', args: ['${workspaceFolder}/serve.js'] });
      fs.writeFileSync(tasksFile, JSON.stringify(tasks, null, 2));
      windows = await harness().openWindows(2, { folder });
    });
    after(async () => {
      killAll(ticks(folder));
      killAll(serves(folder));
      for (const w of windows) {
        await w.close();
      }
    });

    it('the holder starts it, records it, and the follower shows what the holder runs', async () => {
      await waitFor('watch to run in one window', () => ticks(folder).length === 1 && status(folder).state === 'held', slowEditor);
      const holderPid = status(folder).holder?.pid;
      const follower = windows.find((w) => w.extensionHostPid !== holderPid);
      assert.ok(follower, 'a follower');
      await follower.waitForStatus(/^\S* ?watch runs in/);
      fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'taskLock.tasks': ['watch', 'serve'], 'taskLock.staleSeconds': 2 }));
      await waitFor(
        'serve to run once, recorded by the holder',
        () => serves(folder).length === 1 && (status(folder).holder?.tasks ?? []).some((x) => x.name === 'serve' && x.pid === serves(folder)[0]),
        slowEditor,
      );
      await follower.waitForStatus(/watch, serve runs in/);
      assert.strictEqual(ticks(folder).length, 1);
    });

    it('a label removed again: its task runs on, unguarded, and the holder no longer claims it (#10, smaller)', async () => {
      const serve = serves(folder);
      assert.strictEqual(serve.length, 1, 'needs serve from the step before');
      fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'taskLock.tasks': ['watch'], 'taskLock.staleSeconds': 2 }));
      await waitFor('the record to list watch only', () => (status(folder).holder?.tasks ?? []).map((x) => x.name).join() === 'watch', slowEditor);
      const holder = windows.find((w) => w.extensionHostPid === status(folder).holder?.pid);
      assert.ok(holder, 'the holder window');
      await holder.waitForStatus(/this window runs watch$/);
      assert.deepStrictEqual(serves(folder), serve, 'serve still runs');
    });
  });

  describe('a guarded compound task: dev dependsOn the background tasks watch and serve (#10 D2)', function () {
    let folder = '';
    let windows: EditorWindow[] = [];
    let sampler: ReturnType<typeof sampleMost> | undefined;
    const once = { 'watch.js': 1, 'serve.js': 1 };
    before(async () => {
      folder = harness().workspace('compound');
      folders.push(folder);
      // From before the first window: a second copy of either, even for a moment, is what the issue saw.
      sampler = sampleMost(folder, ['watch.js', 'serve.js'], 20);
      windows = await harness().openWindows(2, { folder });
    });
    after(async () => {
      sampler?.stop();
      killAll([...running(folder, 'watch.js'), ...running(folder, 'serve.js')]);
      for (const w of windows) {
        await w.close();
      }
    });

    /** What recorded() saw last, for a failure's message. */
    let seen = '';
    function recorded(): { watch: number; serve: number } | undefined {
      const [watch, serve] = [running(folder, 'watch.js'), running(folder, 'serve.js')];
      const s = status(folder);
      const pids = (s.holder?.tasks ?? []).map((x) => x.pid);
      seen = `watch ${JSON.stringify(watch)}, serve ${JSON.stringify(serve)}, lock ${s.state}${s.holder ? ` recording ${JSON.stringify(s.holder.tasks)}` : ''}`;
      return s.state === 'held' && s.holder?.kind === 'vscode' && watch.length === 1 && serve.length === 1 && pids.includes(watch[0]) && pids.includes(serve[0]) ? { watch: watch[0], serve: serve[0] } : undefined;
    }

    it('one window runs watch and serve once each, and the lock stays held with their processes recorded after dev ended', async () => {
      const first = await waitFor('watch and serve to run once each, recorded in the lock by a window', recorded, slowEditor).catch((err: unknown) => {
        throw new Error(`${String(err)}; last seen: ${seen}`);
      });
      // dev ends as soon as both say they are ready (about a second): the lock must outlive it, and the other
      // window must start nothing. A negative: a fixed period.
      await sleep(5_000);
      assert.deepStrictEqual(recorded(), first, `the lock no longer records the same watch and serve: ${seen}`);
      assert.deepStrictEqual(sampler?.most(), once, 'a second copy ran at one moment');
      const s = status(folder);
      const holder = windows.find((w) => w.extensionHostPid === s.holder?.pid);
      const follower = windows.find((w) => w.extensionHostPid !== s.holder?.pid);
      assert.ok(holder && follower, 'a window that holds the lock and one that does not');
      // Both say what runs: the dependencies, not the compound task that ended.
      await holder.waitForStatus(/this window runs (watch, serve|serve, watch)$/);
      await follower.waitForStatus(/(watch, serve|serve, watch) runs in/);
    });

    it('a start of watch in the follower is stopped, naming the holder', async () => {
      const first = recorded();
      assert.ok(first, 'needs watch and serve recorded from the step before');
      const follower = windows.find((w) => w.extensionHostPid !== status(folder).holder?.pid);
      assert.ok(follower, 'a window that does not hold the lock');
      await follower.runTask('watch');
      await follower.waitForText(/“watch” is already running in/);
      // The stopped copy has no event to wait for once gone: a fixed period.
      await sleep(2_000);
      assert.deepStrictEqual(recorded(), first, `the holder's watch and serve, alone, recorded: ${seen}`);
    });

    it('a start of dev itself in the follower: its dependencies are stopped there', async () => {
      const first = recorded();
      assert.ok(first, 'needs watch and serve recorded from the steps before');
      const follower = windows.find((w) => w.extensionHostPid !== status(folder).holder?.pid);
      assert.ok(follower, 'a window that does not hold the lock');
      await follower.runTask('dev');
      // serve's notification is new (watch's may still show from the step before).
      await follower.waitForText(/“serve” is already running in/);
      await sleep(2_000);
      assert.deepStrictEqual(recorded(), first, `the holder's watch and serve, alone, recorded: ${seen}`);
    });

    it('tasks.json changed while they run: serve taken out of dev\'s tree runs on, unguarded; put back, it is recorded again', async () => {
      const first = recorded();
      assert.ok(first, 'needs watch and serve recorded from the steps before');
      const tasksFile = path.join(folder, '.vscode', 'tasks.json');
      const text = fs.readFileSync(tasksFile, 'utf8');
      const both = '"dependsOn": ["watch", "serve"]';
      assert.ok(text.includes(both), 'the fixture\'s dev depends on watch and serve');
      fs.writeFileSync(tasksFile, text.replace(both, '"dependsOn": ["watch"]'));
      await waitFor('the record to list watch alone', () => (status(folder).holder?.tasks ?? []).map((x) => x.pid).join() === String(first.watch), slowEditor);
      assert.deepStrictEqual(running(folder, 'serve.js'), [first.serve], 'serve runs on');
      fs.writeFileSync(tasksFile, text);
      await waitFor('serve to be recorded again', recorded, slowEditor);
      assert.deepStrictEqual(recorded(), first);
    });

    it('tasks.json changed so that dev depends on nothing: watch and serve run on, unguarded, and the lock is let go; put back, the window running them takes it and records them', async () => {
      const first = recorded();
      assert.ok(first, 'needs watch and serve recorded from the steps before');
      const holderPid = status(folder).holder?.pid;
      const tasksFile = path.join(folder, '.vscode', 'tasks.json');
      const text = fs.readFileSync(tasksFile, 'utf8');
      // With autoStart the holder tries to start dev again; a dev without command and dependencies is no task
      // to VS Code, so nothing starts and the lock is let go (autoStart off lets it go at once: policy tests).
      fs.writeFileSync(tasksFile, text.replace('"dependsOn": ["watch", "serve"]', '"dependsOn": []'));
      try {
        await waitFor(
          'the lock to be let go while watch and serve run on',
          () => status(folder).state === 'free' && running(folder, 'watch.js').join() === String(first.watch) && running(folder, 'serve.js').join() === String(first.serve),
          slowEditor,
        );
      } finally {
        fs.writeFileSync(tasksFile, text);
      }
      await waitFor('watch and serve recorded again', recorded, slowEditor);
      assert.strictEqual(status(folder).holder?.pid, holderPid, 'the window that runs them holds the lock');
    });

    it('a plain task that depends on watch (#10 D3, as it stands): in the follower watch is stopped and the task does not run; in the holder it runs, served by the running watch', async () => {
      const first = recorded();
      assert.ok(first, 'needs watch and serve recorded from the steps before');
      const ran = path.join(folder, 'check.ran');
      const holderPid = status(folder).holder?.pid;
      const holder = windows.find((w) => w.extensionHostPid === holderPid);
      const follower = windows.find((w) => w.extensionHostPid !== holderPid);
      assert.ok(holder && follower, 'a window that holds the lock and one that does not');
      await follower.runTask('check');
      // Nothing announces that check will not run: a fixed period.
      await sleep(4_000);
      assert.strictEqual(fs.existsSync(ran), false, 'check ran in the follower');
      assert.deepStrictEqual(recorded(), first, `the holder's watch and serve, alone, recorded: ${seen}`);
      await holder.runTask('check');
      await waitFor('check to run in the holder', () => fs.existsSync(ran), slowEditor);
      assert.deepStrictEqual(recorded(), first, `the holder's watch and serve, alone, recorded: ${seen}`);
    });

    it('the holder\'s extension host killed: the recorded watch and serve keep the lock; never a second copy', async () => {
      const first = recorded();
      assert.ok(first, 'needs watch and serve recorded from the steps before');
      const holder = windows.find((w) => w.extensionHostPid === status(folder).holder?.pid);
      assert.ok(holder, 'the holder window');
      await holder.killExtensionHost();
      // Past staleSeconds (2 s) and the failover's checks: a negative, so a fixed period.
      await sleep(6_000);
      assert.deepStrictEqual([running(folder, 'watch.js'), running(folder, 'serve.js')], [[first.watch], [first.serve]]);
      assert.strictEqual(status(folder).state, 'held');
      assert.deepStrictEqual(sampler?.most(), once, 'a second copy ran at one moment');
    });
  });

  describe('a guarded task that runs nowhere, started in a follower (#10 D4)', function () {
    let folder = '';
    let windows: EditorWindow[] = [];
    before(async () => {
      folder = harness().workspace('guarded');
      folders.push(folder);
      const tasksFile = path.join(folder, '.vscode', 'tasks.json');
      const tasks = JSON.parse(fs.readFileSync(tasksFile, 'utf8')) as { tasks: Array<Record<string, unknown>> };
      fs.copyFileSync(path.join(folder, 'tick.js'), path.join(folder, 'serve.js'));
      tasks.tasks.push({ ...tasks.tasks[0], label: 'serve', args: ['${workspaceFolder}/serve.js'] });
      fs.writeFileSync(tasksFile, JSON.stringify(tasks, null, 2));
      fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'taskLock.tasks': ['watch', 'serve'], 'taskLock.staleSeconds': 2 }));
      windows = await harness().openWindows(2, { folder });
    });
    after(async () => {
      killAll(ticks(folder));
      killAll(serves(folder));
      for (const w of windows) {
        await w.close();
      }
    });

    it('the holder is asked to start it: it runs once, in the holder, and the follower says so', async () => {
      await waitFor('watch and serve to run once each', () => ticks(folder).length === 1 && serves(folder).length === 1 && status(folder).state === 'held', slowEditor);
      const holderPid = status(folder).holder?.pid;
      const follower = windows.find((w) => w.extensionHostPid !== holderPid);
      assert.ok(follower, 'a follower');
      // The holder's user stops serve (its process ends): it runs nowhere now, and the record says so.
      killAll(serves(folder));
      await waitFor('the record to list watch only', () => (status(folder).holder?.tasks ?? []).map((x) => x.name).join() === 'watch', slowEditor);
      await follower.runTask('serve');
      const serve = await waitFor('serve to run once, in the holder, recorded', () => {
        const s = status(folder);
        const pids = serves(folder);
        return s.holder?.pid === holderPid && pids.length === 1 && (s.holder?.tasks ?? []).some((x) => x.name === 'serve' && x.pid === pids[0]) ? pids[0] : undefined;
      }, slowEditor);
      await follower.waitForText(/runs now in/);
      await sleep(2_000);
      assert.deepStrictEqual(serves(folder), [serve], 'serve runs once, the holder\'s copy');
      assert.strictEqual(ticks(folder).length, 1);
    });
  });

  describe('a task that depends on a guarded `taskLock` task, run in a follower (#10 D3)', function () {
    let folder = '';
    let windows: EditorWindow[] = [];
    before(async () => {
      folder = harness().workspace('gated');
      folders.push(folder);
      const tasksFile = path.join(folder, '.vscode', 'tasks.json');
      const tasks = JSON.parse(fs.readFileSync(tasksFile, 'utf8')) as { tasks: Array<Record<string, unknown>> };
      // A plain task that needs the watcher, as a preLaunchTask chain would: it notes that it ran.
      tasks.tasks.push({ label: 'app', type: 'process', command: 'node', args: ['-e', "require('fs').appendFileSync('app-ran', 'ran\\n')"], dependsOn: ['watch'], problemMatcher: [] });
      fs.writeFileSync(tasksFile, JSON.stringify(tasks, null, 2));
      windows = await harness().openWindows(2, { folder });
    });
    after(async () => {
      killAll(ticks(folder));
      for (const w of windows) {
        await w.close();
      }
    });

    it('the dependent task runs there, served by the holder\'s watch; no second watch', async () => {
      await waitFor('watch to run in one window', () => ticks(folder).length === 1 && status(folder).state === 'held', slowEditor);
      const tick = ticks(folder)[0];
      const follower = windows.find((w) => w.extensionHostPid !== status(folder).holder?.pid);
      assert.ok(follower, 'a follower');
      await follower.runTask('app');
      await waitFor('app to run in the follower', () => fs.existsSync(path.join(folder, 'app-ran')), slowEditor);
      await sleep(1_000);
      assert.deepStrictEqual(ticks(folder), [tick], 'the holder\'s watch, alone');
    });
  });

  for (const fixture of ['guarded', 'gated']) {
    describe(`a label guarded while its task runs in two windows (#10 D5, the ${fixture} fixture)`, function () {
      let folder = '';
      let windows: EditorWindow[] = [];
      let survivor: number | undefined;
      before(async () => {
        folder = harness().workspace(fixture);
        folders.push(folder);
        fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'taskLock.tasks': [], 'taskLock.staleSeconds': 2 }));
        windows = await harness().openWindows(2, { folder });
        for (const w of windows) {
          await w.runTask('watch');
        }
        await waitFor('watch to run in both windows, unguarded', () => ticks(folder).length === 2, slowEditor);
        fs.writeFileSync(path.join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'taskLock.tasks': ['watch'], 'taskLock.staleSeconds': 2 }));
      });
      after(async () => {
        killAll(ticks(folder));
        for (const w of windows) {
          await w.close();
        }
      });

      it('one copy is left, and the holder records it in the lock', async () => {
        survivor = await waitFor(
          'one copy, recorded by the window holding the lock',
          () => {
            const t = ticks(folder);
            const s = status(folder);
            return t.length === 1 && s.state === 'held' && s.holder?.tasks.some((x) => x.pid === t[0]) ? t[0] : undefined;
          },
          slowEditor,
        );
      });

      it('the stopped copy\'s window names the real holder', async () => {
        const holderPid = status(folder).holder?.pid;
        const loser = windows.find((w) => w.extensionHostPid !== holderPid);
        assert.ok(loser, 'a window that does not hold the lock');
        const text = await loser.waitForText(/is already running in/);
        assert.doesNotMatch(text, /no holder record|since \?/);
      });

      // A terminal task outlives its extension host and keeps the lock; a `taskLock` task is its extension
      // host's child and ends with it, and the other window fails over. Either way: never two.
      const outlives = fixture === 'guarded';
      it(`the holder's extension host killed: ${outlives ? 'its recorded copy keeps the lock' : 'its copy ends, the other window fails over'}, and never two copies`, async () => {
        const copy = survivor;
        assert.ok(copy !== undefined, 'needs the copy left in the first step');
        const holderPid = status(folder).holder?.pid;
        const holder = windows.find((w) => w.extensionHostPid === holderPid);
        assert.ok(holder, 'the holder window');
        let most = 0;
        const sampling = setInterval(() => (most = Math.max(most, ticks(folder).length)), 50);
        try {
          await holder.killExtensionHost();
          // Past staleSeconds (2 s) and the failover's checks: a negative, so a fixed period.
          await sleep(6_000);
        } finally {
          clearInterval(sampling);
        }
        assert.ok(most <= 1, `${most} copies at once`);
        if (outlives) {
          assert.deepStrictEqual(ticks(folder), [copy]);
        } else {
          await waitFor('the other window to run the one copy', () => ticks(folder).length === 1 && status(folder).state === 'held', slowEditor);
        }
      });
    });
  }
});
