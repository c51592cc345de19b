// A pseudo-locale made by @vscode/l10n-dev (generate-pseudo) from the committed bundle turns every letter of a
// translated message into a look-alike: whatever is still plain English in what the status bar and the
// engine's news render was not looked up in the bundle. statusText.ts and lockWords.ts take vscode.l10n as
// a parameter, so this runs without an editor.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FolderStatus, HolderSummary } from '../../src/model/status';
import { gateLineText, holderWords, lockErrorText, reclaimText, staleText, takeOverFailureText } from '../../src/ui/lockWords';
import { l10nFrom, renderStatus, type L10n } from '../../src/ui/statusText';

const root = path.resolve(__dirname, '../../..');
const l10nDev = path.join(root, 'node_modules/@vscode/l10n-dev/dist/cli.js');

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

describe('a pseudo-locale (l10n-dev generate-pseudo) reaches every visible word', () => {
  let dir = '';
  let pseudo: L10n = l10nFrom((m) => m);
  before(() => {
    // The committed bundle (l10n.test.ts checks that it is fresh), pseudo-localized as a translator's would be.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'task-lock-pseudo-'));
    // generate-pseudo writes beside its input: a copy, not the committed file.
    fs.copyFileSync(path.join(root, 'l10n/bundle.l10n.json'), path.join(dir, 'bundle.l10n.json'));
    execFileSync(process.execPath, [l10nDev, 'generate-pseudo', path.join(dir, 'bundle.l10n.json')], { cwd: root, stdio: 'pipe' });
    const table = readJson(path.join(dir, 'bundle.l10n.qps-ploc.json')) as Record<string, string>;
    pseudo = l10nFrom((m) => table[m] ?? m);
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** What is left in English: letters outside the «data» (labels, names, hosts) and the $(icons). */
  function english(text: string): string[] {
    return text
      .replace(/«[^»]*»/g, ' ')
      .replace(/\$\([a-z-]+\)/g, ' ')
      .split(/\s+/)
      .filter((w) => /[A-Za-z]/.test(w.replace(/\\/g, '')));
  }

  const since = new Date(Date.now() - 5 * 60_000).toISOString();
  const holder: HolderSummary = { kind: 'vscode', label: '«code window 10:00:00 (ws)»', pid: 41, hostname: '«host»', since, tasks: [{ name: '«watch»', pid: 42 }], description: '«engine words»' };
  const cli: HolderSummary = { ...holder, kind: 'cli', label: '«npm run watch»' };
  const orphan: HolderSummary = { ...holder, orphanedSince: since };
  const unknown: HolderSummary = { kind: 'unknown', label: '«engine words»', tasks: [], unknown: 'corrupt', unknownDetail: '«the holder record has no pid»', description: '«engine words»' };
  const base = { folder: '/«ws»', name: '«ws»', tasks: ['«watch»'], running: [], window: '«this window»' };
  const statuses: FolderStatus[] = [
    { ...base, phase: 'holder', running: ['«watch»'], holder },
    { ...base, phase: 'follower', holder },
    { ...base, phase: 'follower', holder: { ...holder, tasks: [] } },
    { ...base, phase: 'follower', holder: cli },
    { ...base, phase: 'follower', holder: orphan },
    { ...base, phase: 'follower', holder: { ...cli, orphanedSince: since } },
    { ...base, phase: 'follower', holder: unknown },
    { ...base, phase: 'free' },
    { ...base, phase: 'stale', holder, stale: { kind: 'holder-exited', pid: 41, tasks: 1 }, message: '«engine words»' },
    { ...base, phase: 'stale', holder, stale: { kind: 'no-heartbeat', host: '«host»', otherPidNamespace: true, stillMs: 11_000 }, message: '«engine words»' },
    { ...base, phase: 'stale', holder: unknown, stale: { kind: 'unknown-holder', unknown: 'no-record', quietMs: 12_000 }, message: '«engine words»' },
    { ...base, phase: 'error', error: { code: 'home-unsafe', problem: 'open-to-others', path: '«/home»', detail: '777', message: '«engine words»' }, message: '«engine words»' },
  ];

  it('renderStatus: the item, its tooltip and its accessible label, in every state and in a multi-root sum', () => {
    const views = [...statuses.map((s) => renderStatus([s], new Date(), pseudo)), renderStatus(statuses, new Date(), pseudo)];
    const left = views.flatMap((v) => [v.text, v.tooltip, v.ariaLabel]).flatMap(english);
    assert.deepEqual(left, []);
  });

  it('the engine\'s news as words: stale causes, lock errors, reclaim outcomes, Take Over failures, holders, a gated task\'s lines', () => {
    const texts: string[] = [];
    for (const cause of [
      { kind: 'holder-exited', pid: 1, tasks: 0 },
      { kind: 'holder-exited', pid: 1, tasks: 2 },
      { kind: 'no-heartbeat', host: '«h»', otherPidNamespace: false, stillMs: 1 },
      { kind: 'unknown-holder', unknown: 'earlier-lock', quietMs: 1 },
      { kind: 'unknown-holder', unknown: 'corrupt', quietMs: 1 },
    ] as const) {
      texts.push(staleText(cause, pseudo));
    }
    const errors = [
      { code: 'folder-missing', path: '«p»' },
      { code: 'folder-not-directory', path: '«p»' },
      { code: 'io', problem: 'folder-unreadable', path: '«p»', detail: '«EACCES»' },
      { code: 'io', problem: 'cannot-read', path: '«p»', detail: '«EIO»' },
      { code: 'io', problem: 'cannot-take', path: '«p»', detail: '«EIO»' },
      { code: 'io', problem: 'cannot-record', path: '«p»', detail: '«EIO»' },
      { code: 'io', problem: 'cannot-check', path: '«p»', detail: '«EIO»' },
      { code: 'io', problem: 'already-held' },
      { code: 'home-unusable', problem: 'in-the-way', path: '«p»' },
      { code: 'home-unusable', problem: 'not-writable', path: '«p»', detail: '«EROFS»' },
      { code: 'home-unusable', path: '«p»', detail: '«EIO»' },
      { code: 'home-unsafe', problem: 'not-yours', path: '«p»', detail: '«root (uid 0)»' },
      { code: 'home-unsafe', problem: 'open-to-others', path: '«p»', detail: '777' },
      { code: 'reclaim-failed', path: '«p»', detail: '«EIO»' },
      { code: 'reclaim-failed', problem: 'foreign-files', path: '«p»', detail: '«ENOTEMPTY»' },
      { code: 'held' },
      { code: 'timeout' },
      { code: 'handoff-no-answer', problem: 'no-answer', detail: '15' },
      { code: 'handoff-no-answer', problem: 'channel-closed' },
      { code: 'handoff-refused', detail: '«its own words»' },
      { code: 'not-same-host' },
      { code: undefined },
    ] as const;
    for (const e of errors) {
      // Without a code, the engine's message is all there is: it is quoted, as a technical detail.
      const message = e.code === undefined ? '«a technical detail»' : '«engine words»';
      texts.push(lockErrorText({ ...e, message }, pseudo, holder));
      texts.push(takeOverFailureText({ error: { ...e, message }, holder, holderDead: false, orphan: false }, pseudo));
      texts.push(takeOverFailureText({ error: { ...e, message }, holder: cli, holderDead: true, orphan: false }, pseudo));
    }
    texts.push(takeOverFailureText({ error: { code: undefined, message: '«engine words»' }, holder: orphan, holderDead: false, orphan: true }, pseudo));
    for (const r of [{ result: 'reclaimed' }, { result: 'nothing' }, { result: 'alive', holder }, { result: 'error', error: { code: 'reclaim-failed', path: '«p»', detail: '«EIO»', message: '«engine words»' } }] as const) {
      texts.push(reclaimText(r, new Date(), pseudo));
    }
    for (const h of [holder, cli, orphan, unknown, undefined]) {
      texts.push(holderWords(h, new Date(), pseudo));
    }
    for (const line of [{ kind: 'refused', holder }, { kind: 'not-recorded', detail: '«EIO»' }, { kind: 'spawn-failed', detail: '«spawn npm ENOENT»' }] as const) {
      texts.push(gateLineText('«watch»', line, new Date(), pseudo));
    }
    assert.deepEqual(texts.flatMap(english), []);
    assert.deepEqual(texts.filter((t) => t.includes('engine words')), [], 'the engine\'s English is not shown where its facts are known');
  });
});
