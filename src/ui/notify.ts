import * as vscode from 'vscode';
import type { FolderGuard } from '../tasks/guard';
import { holderName, type HolderSummary } from './status';

const t = (message: string, ...args: Array<string | number>): string => vscode.l10n.t(message, ...args);

/** Time of day for a holder's ISO `since`; the full date only when it is not today. */
export function sinceText(iso: string | undefined, now = new Date()): string {
  if (!iso) {
    return '?';
  }
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  return d.toDateString() === now.toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

/** The notification for a guarded task that was stopped because another holder runs it. */
export function notifyIntruder(guard: FolderGuard, task: string, holder: HolderSummary): void {
  const where = holder.pid !== undefined ? `${holderName(holder, t)} (pid ${holder.pid})` : holderName(holder, t);
  const msg = t('“{0}” is already running in {1} since {2}. It was stopped here.', task, where, sinceText(holder.since));
  const takeOver = t('Take Over');
  const show = t('Show Holder');
  void vscode.window.showWarningMessage(msg, takeOver, show).then((a) => {
    if (a === takeOver) {
      void guard.takeOver();
    } else if (a === show) {
      void vscode.commands.executeCommand('taskLock.showHolder', guard.folder.uri.fsPath);
    }
  });
}
