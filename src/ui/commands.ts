import * as vscode from 'vscode';
import { applicableActions, type ActionId } from '../model/status';
import type { ReclaimOutcome } from '../tasks/events';
import type { FolderGuard } from '../tasks/guard';
import type { Guards } from '../tasks/guards';
import { t } from './l10n';
import { STATUS_COMMAND } from './statusBar';
import { holderName } from './statusText';
import { takeOverAsked } from './takeOver';
import { trustedFor } from './trust';

export const COMMANDS: Record<ActionId, string> = {
  start: 'taskLock.startTasks',
  stop: 'taskLock.stopTasks',
  takeOver: 'taskLock.takeOver',
  reclaim: 'taskLock.reclaim',
  showHolder: 'taskLock.showHolder',
  showLog: 'taskLock.showLog',
};

function actionTitle(a: ActionId): string {
  switch (a) {
    case 'start':
      return t('Start Guarded Tasks');
    case 'stop':
      return t('Stop Guarded Tasks and Release');
    case 'takeOver':
      return t('Take Over');
    case 'reclaim':
      return t('Reclaim Stale Lock');
    case 'showHolder':
      return t('Show Lock Holder');
    case 'showLog':
      return t('Show Log');
  }
}

function reclaimText(r: ReclaimOutcome): string {
  switch (r.result) {
    case 'reclaimed':
      return t('removed the stale lock');
    case 'nothing':
      return t('there was no stale lock');
    case 'alive':
      return t('the holder is alive: {0}', r.holder);
    case 'error':
      return r.message;
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
      void vscode.window.showInformationMessage(all.length === 0 ? t('Task Lock: no folder guards any task (set taskLock.tasks).') : t('Task Lock: that does not apply to any folder now.'));
    }
    return candidates[0];
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((g) => ({ label: g.folder.name, description: g.folder.uri.fsPath, guard: g })),
    { placeHolder: t('Which folder?') },
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
        ? t('{0}: this window holds the lock and runs {1}.', s.name, s.running.join(', ') || t('nothing yet'))
        : s.phase === 'free'
          ? t('{0}: the lock is free.', s.name)
          : s.phase === 'error'
            ? t('{0}: {1}', s.name, s.message ?? '')
            : t('{0}: held by {1}{2}.', s.name, s.holder?.description ?? holderName(undefined, t), s.phase === 'stale' ? ` — ${t('stale: {0}', s.message ?? '')}` : '');
    const takeOver = t('Take Over');
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
        const takeOver = t('Take Over');
        const showLog = t('Show Log');
        // The message points to the way on, and carries it.
        const a =
          s.phase === 'follower'
            ? await vscode.window.showWarningMessage(t('Task Lock: {0} runs in {1}. Take Over moves it here.', s.tasks.join(', '), holderName(s.holder, t)), takeOver)
            : await vscode.window.showWarningMessage(t('Task Lock: could not start the guarded tasks; the log says why.'), showLog);
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
        void vscode.window.showInformationMessage(t('Task Lock: this window already runs {0}.', all.flatMap((x) => x.status().running).join(', ') || t('the guarded tasks')));
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
        void vscode.window.showInformationMessage(t('Task Lock: {0}', reclaimText(await g.reclaim())));
      }
    },
    showHolder,
    showLog: () => {
      log.show(true);
      return Promise.resolve();
    },
  };
  const disposables = (Object.keys(handlers) as ActionId[]).map((id) => vscode.commands.registerCommand(COMMANDS[id], handlers[id]));
  disposables.push(
    vscode.commands.registerCommand(STATUS_COMMAND, async () => {
      const actions = applicableActions(guards.status());
      const picked = await vscode.window.showQuickPick(
        actions.map((a) => ({ label: actionTitle(a), id: a })),
        { placeHolder: t('Task Lock') },
      );
      if (picked) {
        await handlers[picked.id]();
      }
    }),
  );
  return disposables;
}
