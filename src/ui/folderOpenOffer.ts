// The one offer Task Lock makes unasked: a task that VS Code starts whenever its folder opens runs in two
// windows, unguarded. Once per folder and window; "Don't Ask Again" holds for every folder.
import * as vscode from 'vscode';
import { l10n } from 'vscode';

const NEVER = 'taskLock.folderOpenOffer.never';
let memento: vscode.Memento | undefined;

/** Where "Don't Ask Again" is kept (the extension's global state). */
export function keepOffersIn(m: vscode.Memento): void {
  memento = m;
}

export function offerGuardFolderOpen(folder: vscode.WorkspaceFolder, task: string): void {
  if (memento?.get<boolean>(NEVER) === true) {
    return;
  }
  const guard = l10n.t('Guard Folder-Open Tasks');
  const never = l10n.t('Don\'t Ask Again');
  void vscode.window
    .showInformationMessage(
      l10n.t('Task Lock: “{0}” starts whenever {1} opens, and another window runs it too. Run the tasks that start when the folder opens in one window at a time?', task, folder.name),
      guard,
      never,
    )
    .then(async (a) => {
      if (a === guard) {
        // The folder's setting: every window on the folder follows it, and the copies beyond one are stopped.
        await vscode.workspace.getConfiguration('taskLock', folder.uri).update('guardFolderOpenTasks', true, vscode.ConfigurationTarget.WorkspaceFolder);
      } else if (a === never) {
        await memento?.update(NEVER, true);
      }
    });
}
