// Take Over as the user starts it, from any command or notification: one confirmation when it would stop a
// gone holder's tasks, and progress while it waits. In Restricted Mode it only says why it cannot.
import * as vscode from 'vscode';
import { l10n } from 'vscode';
import type { FolderGuard } from '../tasks/guard';
import { clockTime, holderName, taskPids } from './lockWords';
import { trustedFor } from './trust';

export async function takeOverAsked(guard: FolderGuard): Promise<void> {
  if (!trustedFor('takeOver')) {
    return;
  }
  const h = guard.status().holder;
  if (h?.orphanedSince !== undefined) {
    const tasks = taskPids(h.tasks, l10n);
    const since = clockTime(h.orphanedSince, new Date());
    const stop = l10n.t('Stop It and Take Over');
    const detail =
      h.kind === 'cli'
        ? l10n.t('{0} was started by {1}, which ended at {2}; the command runs on. Take Over stops it (SIGTERM, then SIGKILL after 3 s) and runs the guarded tasks here.', tasks, holderName(h, l10n), since)
        : l10n.t('{0} runs on since its window ({1}) went at {2}. Take Over stops it (SIGTERM, then SIGKILL after 3 s) and runs the guarded tasks here.', tasks, holderName(h, l10n), since);
    const a = await vscode.window.showWarningMessage(l10n.t('Task Lock: stop {0} and run it here?', h.tasks.map((x) => x.name).join(', ')), { modal: true, detail }, stop);
    if (a !== stop) {
      return;
    }
  }
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: l10n.t('Task Lock: taking over {0}…', guard.folder.name) }, () => guard.moves.takeOver());
}
