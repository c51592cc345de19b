import * as vscode from 'vscode';
import { l10n } from 'vscode';
import { applicableActions, type ActionId, type FolderStatus } from '../model/status';
import type { FolderGuard } from '../tasks/guard';
import type { Guards } from '../tasks/guards';
import { STATUS_COMMAND } from './statusBar';
import { holderName, holderWords, reclaimText, statusNote } from './lockWords';
import { takeOverAsked } from './takeOver';
import { guardTask } from './guardTask';
import { trustedFor } from './trust';

export const COMMANDS: Record<ActionId, string> = {
  start: 'taskLock.startTasks',
  stop: 'taskLock.stopTasks',
  takeOver: 'taskLock.takeOver',
  reclaim: 'taskLock.reclaim',
  showHolder: 'taskLock.showHolder',
  guard: 'taskLock.guardTask',
  showLog: 'taskLock.showLog',
};

function actionTitle(a: ActionId): string {
  switch (a) {
    case 'start':
      return l10n.t('Start Guarded Tasks');
    case 'stop':
      return l10n.t('Stop Guarded Tasks and Release');
    case 'takeOver':
      return l10n.t('Take Over');
    case 'reclaim':
      return l10n.t('Reclaim Stale Lock');
    case 'showHolder':
      return l10n.t('Show Lock Holder');
    case 'guard':
      return l10n.t('Guard a Task…');
    case 'showLog':
      return l10n.t('Show Log');
  }
}

/** What an action of the status bar's menu does, in a few words ("stops watch in … and runs it here"). */
function actionDetail(a: ActionId, folders: readonly FolderStatus[]): string {
  const follower = folders.find((f) => f.phase === 'follower');
  const tasks = (f: FolderStatus | undefined): string => (f ? [...new Set((f.holder?.tasks.length ? f.holder.tasks.map((x) => x.name) : f.tasks))].join(', ') : '');
  switch (a) {
    case 'start':
      return l10n.t('takes the lock and starts what is not running yet');
    case 'stop':
      return l10n.t('stops {0} here and frees the lock; no window starts it', folders.filter((f) => f.phase === 'holder').flatMap((f) => f.running).join(', '));
    case 'takeOver':
      return follower?.holder?.orphanedSince !== undefined
        ? l10n.t('stops {0}, which runs without its window, and runs it here', tasks(follower))
        : l10n.t('stops {0} in {1} and runs it here', tasks(follower), holderName(follower?.holder, l10n));
    case 'reclaim':
      return l10n.t('removes the lock its dead holder left');
    case 'showHolder':
      return l10n.t('who holds the lock, since when, which processes');
    case 'guard':
      return l10n.t('choose which tasks only one window may run');
    case 'showLog':
      return l10n.t('what Task Lock did and why');
  }
}

/** The folder a command acts on: the only guarded one, the one given, or the user's pick among those that fit. */
async function pickFolder(guards: Guards, fits: (g: FolderGuard) => boolean, arg?: unknown): Promise<FolderGuard | undefined> {
  const all = guards.list();
  if (typeof arg === 'string') {
    return all.find((g) => g.folder.uri.fsPath === arg || g.folder.name === arg);
  }
  const candidates = all.filter(fits);
  if (candidates.length <= 1) {
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(all.length === 0 ? l10n.t('Task Lock: no folder guards any task (set taskLock.tasks).') : l10n.t('Task Lock: that does not apply to any folder now.'));
    }
    return candidates[0];
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((g) => ({ label: g.folder.name, description: g.folder.uri.fsPath, guard: g })),
    { placeHolder: l10n.t('Which folder?') },
  );
  return picked?.guard;
}

/** Every command of the extension, registered in one place. */
export function registerCommands(guards: Guards, log: vscode.LogOutputChannel): vscode.Disposable[] {
  const showHolder = async (arg?: unknown): Promise<void> => {
    const g = await pickFolder(guards, (x) => x.status().phase !== 'free', arg);
    if (!g) {
      return;
    }
    const s = g.status();
    const text =
      s.phase === 'holder'
        ? l10n.t('{0}: this window holds the lock and runs {1}.', s.name, s.running.join(', ') || l10n.t('nothing yet'))
        : s.phase === 'free'
          ? l10n.t('{0}: the lock is free.', s.name)
          : s.phase === 'error'
            ? l10n.t('{0}: {1}', s.name, statusNote(s, l10n) ?? '')
            : s.phase === 'stale'
              ? l10n.t('{0}: held by {1} — stale: {2}.', s.name, holderWords(s.holder, new Date(), l10n), statusNote(s, l10n) ?? '')
              : l10n.t('{0}: held by {1}.', s.name, holderWords(s.holder, new Date(), l10n));
    const takeOver = l10n.t('Take Over');
    const actions = s.phase === 'follower' || s.phase === 'stale' ? [takeOver] : [];
    const a = await vscode.window.showInformationMessage(text, ...actions);
    if (a === takeOver) {
      await takeOverAsked(g);
    }
  };
  const handlers: Record<ActionId, (arg?: unknown) => Promise<void>> = {
    start: async (arg) => {
      if (!trustedFor('start')) {
        return;
      }
      const g = await pickFolder(guards, (x) => x.status().phase !== 'error', arg);
      if (g && !(await g.startGuarded('command Start Guarded Tasks'))) {
        const s = g.status();
        const takeOver = l10n.t('Take Over');
        const showLog = l10n.t('Show Log');
        // The message points to the way on, and carries it.
        const a =
          s.phase === 'follower'
            ? await vscode.window.showWarningMessage(l10n.t('Task Lock: {0} runs in {1}. Take Over moves it here.', s.tasks.join(', '), holderName(s.holder, l10n)), takeOver)
            : await vscode.window.showWarningMessage(l10n.t('Task Lock: could not start the guarded tasks; the log says why.'), showLog);
        if (a === takeOver) {
          await takeOverAsked(g);
        } else if (a === showLog) {
          log.show(true);
        }
      }
    },
    stop: async (arg) => {
      const g = await pickFolder(guards, (x) => x.isHolder, arg);
      await g?.stopAndRelease('command Stop Guarded Tasks and Release');
    },
    takeOver: async (arg) => {
      const all = guards.list();
      if (typeof arg !== 'string' && all.length > 0 && all.every((x) => x.isHolder)) {
        // From a keybinding in the holder: say what is true, not that the command does not apply.
        void vscode.window.showInformationMessage(l10n.t('Task Lock: this window already runs {0}.', all.flatMap((x) => x.status().running).join(', ') || l10n.t('the guarded tasks')));
        return;
      }
      if (!trustedFor('takeOver')) {
        return;
      }
      const g = await pickFolder(guards, (x) => !x.isHolder && x.status().phase !== 'error', arg);
      if (g) {
        await takeOverAsked(g);
      }
    },
    reclaim: async (arg) => {
      const g = await pickFolder(guards, (x) => x.status().phase === 'stale', arg);
      if (g) {
        void vscode.window.showInformationMessage(reclaimText(await g.reclaim(), new Date(), l10n));
      }
    },
    showHolder,
    guard: () => guardTask(),
    showLog: () => {
      log.show(true);
      return Promise.resolve();
    },
  };
  const disposables = (Object.keys(handlers) as ActionId[]).map((id) => vscode.commands.registerCommand(COMMANDS[id], handlers[id]));
  disposables.push(
    vscode.commands.registerCommand(STATUS_COMMAND, async () => {
      const now = guards.status();
      const actions = applicableActions(now);
      const picked = await vscode.window.showQuickPick(
        actions.map((a) => ({ label: actionTitle(a), description: actionDetail(a, now), id: a })),
        { placeHolder: l10n.t('Task Lock') },
      );
      if (picked) {
        await handlers[picked.id]();
      }
    }),
  );
  return disposables;
}
