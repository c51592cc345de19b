// Every notification the guards cause: they emit plain events (src/tasks/events.ts), this chooses the words
// and the buttons.
import * as vscode from 'vscode';
import { l10n } from 'vscode';
import { CONFLICT_POLICIES, MAX_ORPHAN_GRACE_SECONDS, MAX_STALE_SECONDS, MIN_STALE_SECONDS, type SettingProblem } from '../model/settings';
import type { HolderSummary } from '../model/status';
import type { GuardEvents } from '../tasks/events';
import type { FolderGuard } from '../tasks/guard';
import { takeOverAsked } from './takeOver';
import { offerGuardFolderOpen } from './folderOpenOffer';
import { gateLineText, holderRef, sinceWords, takeOverFailureText } from './lockWords';

function problemText(p: SettingProblem): string {
  switch (p) {
    case 'not-a-label-list':
      return l10n.t('must be a list of task labels');
    case 'not-a-boolean':
      return l10n.t('must be true or false');
    case 'stale-out-of-range':
      return l10n.t('must be a number from {0} to {1}', MIN_STALE_SECONDS, MAX_STALE_SECONDS);
    case 'grace-out-of-range':
      return l10n.t('must be a number from {0} to {1}', 0, MAX_ORPHAN_GRACE_SECONDS);
    case 'not-a-conflict-policy':
      return l10n.t('must be one of {0}', CONFLICT_POLICIES.join(', '));
    case 'not-a-path':
      return l10n.t('must be a path');
  }
}

/** The notification for a guarded task that was stopped because another holder runs it (taskLock.onConflict). */
function intruderStopped(guard: FolderGuard, task: string, holder: HolderSummary, how: { notStarted: boolean; then: 'offer-take-over' | 'taking-over' | 'started-in-holder' | 'nothing' }): void {
  const where = holderRef(holder, l10n);
  const runsThere = holder.kind === 'unknown' || holder.tasks.length === 0 || holder.tasks.some((x) => x.name === task);
  // In a multi-root window the label alone does not say which folder's task it was.
  const label = (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? l10n.t('{0} ({1})', task, guard.folder.name) : task;
  const since = holder.since === undefined ? '?' : sinceWords(holder.since, new Date(), l10n);
  if (how.then === 'started-in-holder') {
    const show = l10n.t('Show Holder');
    void vscode.window
      .showInformationMessage(
        how.notStarted
          ? l10n.t('Task Lock: “{0}” runs now in {1}, which holds the lock of this folder: it started it there at this window\'s request (it did not start here).', label, where)
          : l10n.t('Task Lock: “{0}” runs now in {1}, which holds the lock of this folder: it started it there at this window\'s request (it was stopped here).', label, where),
        show,
      )
      .then((a) => a === show && void vscode.commands.executeCommand('taskLock.showHolder', guard.folder.uri.fsPath));
    return;
  }
  if (how.then === 'taking-over') {
    void vscode.window.showInformationMessage(l10n.t('Task Lock: “{0}” was started here while {1} ran it: taking it over (it stops there, then starts here).', label, where));
    return;
  }
  // Never claim it runs where it does not (#10 D4): the holder may run other guarded tasks only.
  const msg = !runsThere
    ? l10n.t('“{0}” is guarded, and {1} holds the lock of this folder (it runs {2}). It {3} here: Take Over runs the guarded tasks here.', label, where, holder.tasks.map((x) => x.name).join(', '), how.notStarted ? l10n.t('did not start') : l10n.t('was stopped'))
    : how.notStarted
      ? l10n.t('“{0}” is already running in {1} since {2}. It did not start here.', label, where, since)
      : l10n.t('“{0}” is already running in {1} since {2}. It was stopped here.', label, where, since);
  const takeOver = l10n.t('Take Over');
  const show = l10n.t('Show Holder');
  const buttons = how.then === 'offer-take-over' ? [takeOver, show] : [show];
  void vscode.window.showWarningMessage(msg, ...buttons).then((a) => {
    if (a === takeOver) {
      void takeOverAsked(guard);
    } else if (a === show) {
      void vscode.commands.executeCommand('taskLock.showHolder', guard.folder.uri.fsPath);
    }
  });
}

/** What the guards say to the user; `changed` (the status bar) is the caller's. */
export const notifications: Omit<GuardEvents, 'changed'> = {
  intruderStopped,
  folderOpenTwice: offerGuardFolderOpen,
  handedOver: (_guard, tasks, to) => {
    const whom = to.kind === 'cli' ? l10n.t('task-lock run “{0}”', to.label) : to.label;
    void vscode.window.showInformationMessage(l10n.t('Task Lock: handed {0} over to {1}.', tasks.join(', '), whom));
  },
  compromised: (guard) => {
    // The window takes nothing back by itself (policy's lostHere): the way on is the user's, and the message carries it.
    const start = l10n.t('Start Guarded Tasks');
    void vscode.window
      .showWarningMessage(l10n.t('Task Lock: the lock of {0} was taken or removed underneath this window; its guarded tasks were stopped.', guard.folder.name), start)
      .then((a) => a === start && void vscode.commands.executeCommand('taskLock.startTasks', guard.folder.uri.fsPath));
  },
  stopFailed: () => {
    void vscode.window.showWarningMessage(l10n.t('Task Lock: the guarded tasks did not stop; this window keeps the lock.'));
  },
  takeOverFailed: (guard, f) => {
    const text = takeOverFailureText(f, l10n);
    if (f.holderDead) {
      const force = l10n.t('Reclaim and Take Over');
      void vscode.window.showWarningMessage(text, force).then((a) => {
        if (a === force) {
          void guard.moves.forceTakeOver();
        }
      });
      return;
    }
    // Say what happened and offer the next step: the log tells the whole story of the attempt.
    const showLog = l10n.t('Show Log');
    void vscode.window
      .showWarningMessage(text, showLog)
      .then((a) => a === showLog && void vscode.commands.executeCommand('taskLock.showLog'));
  },
  settingInvalid: (folder, setting, problem) => {
    // Say what happens meanwhile: a bad task list means nothing is guarded there, not a silent stop.
    const msg =
      setting === 'taskLock.tasks'
        ? l10n.t('Task Lock: the setting {0} {1}; until it is fixed, nothing is guarded in {2}.', setting, problemText(problem), folder)
        : l10n.t('Task Lock: the setting {0} {1}; {2} uses its default meanwhile.', setting, problemText(problem), folder);
    const open = l10n.t('Open Settings');
    void vscode.window.showWarningMessage(msg, open).then((a) => {
      if (a === open) {
        void vscode.commands.executeCommand('workbench.action.openSettings', setting);
      }
    });
  },
  labelsUnknown: (guard, labels, shown) => {
    const open = l10n.t('Open Settings');
    const msg = l10n.t(
      'Task Lock: no task labelled {0} in {1} (taskLock.tasks), so nothing is guarded under that name. Tasks there: {2}.',
      labels.map((l) => `“${l}”`).join(', '),
      guard.folder.name,
      shown.length > 0 ? shown.join(', ') : l10n.t('none'),
    );
    void vscode.window.showWarningMessage(msg, open).then((a) => {
      if (a === open) {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'taskLock.tasks');
      }
    });
  },
  gateLine: (task, line) => gateLineText(task, line, new Date(), l10n),
};
