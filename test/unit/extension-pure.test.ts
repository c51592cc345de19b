import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { aliasesOf, guardedLabel, missingTasks, owningFolder } from '../../src/model/match';
import { DEFAULT_SETTINGS, lockSettingsDiffer, readSettings } from '../../src/model/settings';
import { applicableActions, windowName, type FolderStatus } from '../../src/model/status';
import { clockTime, escapeMarkdown, l10nFrom, renderStatus, sinceWords } from '../../src/ui/statusText';

/** The clock every rendering here is worded against: times are an input, so the suite passes on any date and in any zone. */
const NOW = new Date(2026, 10, 28, 10, 54, 30);

function read(values: Record<string, unknown>) {
  return readSettings((k) => values[k], '/ws', path.posix.isAbsolute, path.posix.join);
}

describe('settings', () => {
  it('defaults when nothing is set', () => {
    const r = read({});
    assert.deepEqual(r.settings, DEFAULT_SETTINGS);
    assert.deepEqual(r.warnings, []);
  });

  it('takes valid values; trims, dedupes and drops blank labels; resolves a relative lock directory', () => {
    const r = read({ tasks: [' watch ', 'watch', '', 'serve'], autoStart: false, failover: false, guardFolderOpenTasks: true, staleSeconds: 2, onConflict: 'terminateOldest', orphanGraceSeconds: 0, lockDirectory: 'locks' });
    assert.deepEqual(r.settings, { tasks: ['watch', 'serve'], autoStart: false, failover: false, guardFolderOpenTasks: true, staleSeconds: 2, onConflict: 'terminateOldest', orphanGraceSeconds: 0, lockDirectory: '/ws/locks' });
    assert.deepEqual(r.warnings, []);
  });

  it('warns once per invalid setting, naming it, and uses the default', () => {
    const r = read({ tasks: 'watch', autoStart: 'yes', failover: 1, guardFolderOpenTasks: 'on', staleSeconds: 1, onConflict: 'newest', orphanGraceSeconds: -1, lockDirectory: 42 });
    assert.deepEqual(r.settings, DEFAULT_SETTINGS);
    assert.deepEqual(
      r.warnings.map((w) => w.setting),
      ['taskLock.tasks', 'taskLock.autoStart', 'taskLock.failover', 'taskLock.guardFolderOpenTasks', 'taskLock.staleSeconds', 'taskLock.onConflict', 'taskLock.orphanGraceSeconds', 'taskLock.lockDirectory'],
    );
    for (const bad of [NaN, Infinity, -5, '10', 86_401, 5_000_000]) {
      assert.equal(read({ staleSeconds: bad }).settings.staleSeconds, 10);
    }
    assert.equal(read({ tasks: ['a', 3] }).warnings[0].setting, 'taskLock.tasks');
  });

  it('an empty lock directory means the default; an absolute one is kept', () => {
    assert.equal(read({ lockDirectory: '  ' }).settings.lockDirectory, undefined);
    assert.equal(read({ lockDirectory: '/net/locks' }).settings.lockDirectory, '/net/locks');
  });

  it('only the lock settings need a new lock', () => {
    assert.equal(lockSettingsDiffer(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, tasks: ['x'], autoStart: false }), false);
    assert.equal(lockSettingsDiffer(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, staleSeconds: 3 }), true);
    assert.equal(lockSettingsDiffer(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, lockDirectory: '/x' }), true);
  });
});

describe('task matching', () => {
  const guarded = [
    { folder: '/a', tasks: ['watch'] },
    { folder: '/b', tasks: ['watch', 'serve'] },
  ];
  it('a folder task belongs to its folder only when that folder guards its label', () => {
    assert.equal(owningFolder({ name: 'watch', folder: '/b' }, guarded), '/b');
    assert.equal(owningFolder({ name: 'serve', folder: '/a' }, guarded), undefined);
    assert.equal(owningFolder({ name: 'watch', folder: '/c' }, guarded), undefined);
  });
  it('a workspace-wide task belongs to the first folder guarding its label', () => {
    assert.equal(owningFolder({ name: 'serve', folder: undefined }, guarded), '/b');
    assert.equal(owningFolder({ name: 'lint', folder: undefined }, guarded), undefined);
  });
  it('a provider\'s task is guarded by the label users see ("npm: watch") and by its bare name', () => {
    const npmWatch = { name: 'watch', folder: '/a', aliases: aliasesOf('watch', 'npm', 'npm') };
    assert.deepEqual(npmWatch.aliases, ['npm: watch']);
    assert.equal(owningFolder(npmWatch, [{ folder: '/a', tasks: ['npm: watch'] }]), '/a');
    assert.equal(guardedLabel(npmWatch, ['npm: watch']), 'npm: watch');
    assert.equal(guardedLabel(npmWatch, ['watch']), 'watch');
    assert.equal(guardedLabel(npmWatch, ['npm: serve']), undefined);
  });
  it('tasks.json tasks get no prefixed label, except a provider type\'s ("type": "npm" is shown as "npm: watch")', () => {
    assert.deepEqual(aliasesOf('watch', 'Workspace', 'shell'), []);
    assert.deepEqual(aliasesOf('watch', 'Workspace', 'process'), []);
    assert.deepEqual(aliasesOf('watch', 'Workspace', 'npm'), ['npm: watch']);
  });
  it('missing tasks keep the configured order', () => {
    assert.deepEqual(missingTasks(['a', 'b', 'c'], ['b']), ['a', 'c']);
  });
});

const holder = { kind: 'vscode' as const, label: 'Code — app', pid: 42, hostname: 'box', since: '2026-11-26T10:00:00.000Z', tasks: [{ name: 'watch', pid: 43 }], description: 'vscode “Code — app” (pid 42)' };

function folder(over: Partial<FolderStatus>): FolderStatus {
  return { folder: '/ws/app', name: 'app', phase: 'free', tasks: ['watch'], running: [], ...over };
}

describe('window names (#8 item 2)', () => {
  it('two windows of one app on one workspace get different names, from the time each opened', () => {
    const a = windowName('code-server', 'demo-1', new Date(2026, 10, 28, 10, 42, 3));
    const b = windowName('code-server', 'demo-1', new Date(2026, 10, 28, 10, 44, 10));
    assert.equal(a, 'code-server window 10:42:03 (demo-1)');
    assert.notEqual(a, b);
    assert.equal(windowName('Code', undefined, new Date(2026, 10, 28, 9, 5, 0)), 'Code window 09:05:00');
  });

  it('the tooltip names this window, in every state', () => {
    for (const phase of ['holder', 'follower', 'free'] as const) {
      const v = renderStatus([folder({ phase, holder, window: 'Code window 10:44:10 (app)' })], NOW);
      assert.match(v.tooltip, /This window: Code window 10:44:10 \\\(app\\\)/);
    }
  });
});

describe('status bar rendering', () => {
  it('follower: names what the holder really runs, not every guarded label (#10 D4)', () => {
    const v = renderStatus([folder({ phase: 'follower', tasks: ['watch', 'serve'], holder })], NOW);
    assert.equal(v.text, '$(eye) watch runs in Code — app');
    const idle = renderStatus([folder({ phase: 'follower', tasks: ['watch', 'serve'], holder: { ...holder, tasks: [] } })], NOW);
    assert.equal(idle.text, '$(eye) Code — app holds the lock');
  });

  it('follower of an orphan: says the task runs without its window (or its CLI), since when, and what will happen', () => {
    const orphanedSince = new Date(2026, 10, 28, 10, 42, 0).toISOString();
    const v = renderStatus([folder({ phase: 'follower', holder: { ...holder, orphanedSince } })], NOW);
    assert.equal(v.text, '$(debug-disconnect) watch runs without a window since 10:42');
    assert.match(v.tooltip, /Its window is gone since .*orphanGraceSeconds/);
    const cli = renderStatus([folder({ phase: 'follower', holder: { ...holder, kind: 'cli', orphanedSince } })], NOW);
    assert.match(cli.text, /watch runs without its task-lock run since/);
    assert.match(cli.tooltip, /Take Over stops it \(after asking\)/);
  });

  it('times for people: local time of day and how long ago; the date when it is not today', () => {
    const now = new Date(2026, 10, 28, 10, 54, 30);
    assert.equal(sinceWords(new Date(2026, 10, 28, 10, 42, 3).toISOString(), now), '10:42 (12 min ago)');
    assert.equal(sinceWords(new Date(2026, 10, 28, 10, 54, 0).toISOString(), now), '10:54 (just now)');
    assert.equal(sinceWords(new Date(2026, 10, 27, 7, 5, 0).toISOString(), now), '2026-11-27 07:05 (27 h ago)');
    assert.equal(clockTime('not a time', now), 'not a time');
  });

  it('a follower\'s tooltip keeps the last start it stopped, after its notification is gone (#8 item 3)', () => {
    const at = new Date(2026, 10, 28, 10, 42, 0).toISOString();
    const v = renderStatus([folder({ phase: 'follower', holder, lastStop: { task: 'watch', holder: 'Code — app', at, notStarted: false } })], NOW);
    assert.match(v.tooltip, /Stopped here at 10:42: watch \(the lock is Code — app's\)/);
    const nextDay = renderStatus([folder({ phase: 'follower', holder, lastStop: { task: 'watch', holder: 'Code — app', at, notStarted: false } })], new Date(2026, 10, 29, 9, 0, 0));
    assert.match(nextDay.tooltip, /Stopped here at 2026\\-11\\-28 10:42: watch/, 'a stop of another day than now names its date');
    const holderView = renderStatus([folder({ phase: 'holder', running: ['watch'], holder, lastStop: { task: 'watch', holder: 'Code — app', at, notStarted: true } })], NOW);
    assert.doesNotMatch(holderView.tooltip, /here at/, 'a holder shows no old stop');
  });

  it('a guarded label that matches no task: a warning background, and the tooltip names it (#10 D1)', () => {
    const v = renderStatus([folder({ unknownLabels: ['wach'] })], NOW);
    assert.equal(v.background, 'warning');
    assert.match(v.tooltip, /No task of this folder has the label “wach”/);
    assert.equal(renderStatus([folder({})], NOW).background, undefined);
  });

  it('hidden without guarded folders', () => {
    assert.equal(renderStatus([], NOW).visible, false);
  });

  it('Restricted Mode: the same state, and the tooltip says that this window starts nothing until trusted', () => {
    for (const phase of ['free', 'follower', 'stale'] as const) {
      const trusted = renderStatus([folder({ phase, holder })], NOW);
      const restricted = renderStatus([folder({ phase, holder })], NOW, undefined, true);
      assert.equal(restricted.text, trusted.text);
      assert.equal(restricted.background, trusted.background);
      assert.doesNotMatch(trusted.tooltip, /Restricted Mode/);
      assert.match(restricted.tooltip, /Restricted Mode: this window starts no guarded task until you trust the workspace\.\n\nClick for actions\.$/);
    }
  });

  it('holder: names the running tasks', () => {
    const v = renderStatus([folder({ phase: 'holder', running: ['watch'], holder })], NOW);
    assert.equal(v.text, '$(lock) this window runs watch');
    assert.equal(v.background, undefined);
    assert.match(v.ariaLabel, /this window runs watch/);
  });

  it('follower: names the holder; the tooltip gives app, pid, host, since and tasks', () => {
    const v = renderStatus([folder({ phase: 'follower', holder })], NOW);
    assert.equal(v.text, '$(eye) watch runs in Code — app');
    assert.match(v.tooltip, /Code — app/);
    assert.match(v.tooltip, /pid 42 on box/);
    // Local time for people, not ISO (the log keeps ISO).
    assert.ok(v.tooltip.includes(`Since: ${escapeMarkdown(clockTime('2026-11-26T10:00:00.000Z', NOW))}`), v.tooltip);
    assert.match(v.tooltip, /watch \\\(pid 43\\\)/);
  });

  it('a CLI holder is named as such', () => {
    const v = renderStatus([folder({ phase: 'follower', holder: { ...holder, kind: 'cli', label: 'npm run watch' } })], NOW);
    assert.equal(v.text, '$(eye) watch runs in task-lock run “npm run watch”');
  });

  it('free, stale (warning) and error (error background); no "Task Lock:" prefix in any state (#8 item 3)', () => {
    assert.equal(renderStatus([folder({})], NOW).text, '$(unlock) watch: lock free');
    assert.equal(renderStatus([folder({ phase: 'stale', holder })], NOW).text, '$(warning) watch: stale lock');
    for (const phase of ['holder', 'follower', 'free', 'stale', 'error'] as const) {
      assert.doesNotMatch(renderStatus([folder({ phase, holder, running: ['watch'] })], NOW).text, /Task Lock/);
    }
    const stale = renderStatus([folder({ phase: 'stale', holder, message: 'holder pid 42 has exited', stale: { kind: 'holder-exited', pid: 42, tasks: 0 } })], NOW);
    assert.equal(stale.background, 'warning');
    assert.match(stale.tooltip, /holder pid 42 has exited/);
    const error = renderStatus([folder({ phase: 'error', message: 'Cannot read the lock in /h: EIO', error: { code: 'io', problem: 'cannot-read', path: '/h', detail: 'EIO', message: 'Cannot read the lock in /h: EIO' } })], NOW);
    assert.equal(error.background, 'error');
    // Worded from the engine's facts (a translation's words), the path and the error kept as they are.
    assert.ok(error.tooltip.includes(escapeMarkdown('The lock in /h cannot be read (EIO).')), error.tooltip);
  });

  it('multi-root: sums the folders up, worst background wins', () => {
    const v = renderStatus([folder({ phase: 'holder', running: ['watch'] }), folder({ name: 'b', phase: 'follower', holder }), folder({ name: 'c', phase: 'stale', holder })], NOW);
    assert.equal(v.text, '$(warning) 1 folder here · 1 folder elsewhere · 1 folder stale');
    assert.equal(v.background, 'warning');
    assert.equal(v.tooltip.split('---').length, 3);
  });

  it('a compound task (#10 D2): the holder names the dependencies that run; the tooltip says what the label depends on', () => {
    const v = renderStatus([folder({ phase: 'holder', tasks: ['dev'], running: ['watch', 'serve'], dependsOn: { dev: ['watch', 'serve'] }, holder })], NOW);
    assert.equal(v.text, '$(lock) this window runs watch, serve');
    assert.match(v.tooltip, /Guarded tasks: dev\n- dev depends on watch, serve: guarded with it/);
  });

  it('uses the translation function it is given', () => {
    const v = renderStatus([folder({})], NOW, l10nFrom((m) => `<${m}>`));
    assert.equal(v.text, '$(unlock) <watch: lock free>');
  });

  it('escapes Markdown in labels', () => {
    assert.equal(escapeMarkdown('a*b_[c]'), 'a\\*b\\_\\[c\\]');
  });
});

describe('status bar actions', () => {
  it('offers what applies now', () => {
    assert.deepEqual(applicableActions([folder({ phase: 'holder', running: ['watch'] })]), ['stop', 'showHolder', 'guard', 'showLog']);
    assert.deepEqual(applicableActions([folder({ phase: 'follower', holder })]), ['takeOver', 'showHolder', 'guard', 'showLog']);
    assert.deepEqual(applicableActions([folder({ phase: 'stale', holder })]), ['reclaim', 'showHolder', 'guard', 'showLog']);
    assert.deepEqual(applicableActions([folder({})]), ['start', 'guard', 'showLog']);
  });

  it('Start where a guarded label does not run here, a compound task counting as running while its dependencies do (#10 D2)', () => {
    const compound = { phase: 'holder' as const, tasks: ['dev', 'lint'], running: ['watch', 'serve'] };
    assert.deepEqual(applicableActions([folder({ ...compound, missing: ['lint'] })]), ['start', 'stop', 'showHolder', 'guard', 'showLog']);
    assert.deepEqual(applicableActions([folder({ ...compound, tasks: ['dev'], missing: [] })]), ['stop', 'showHolder', 'guard', 'showLog']);
  });
});
