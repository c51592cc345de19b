// Restricted Mode (an untrusted workspace): VS Code runs no task there, and lists none without asking the user
// to trust the workspace. Task Lock shows the lock's state but starts nothing; the commands that would start
// the guarded tasks say why, with the way to trust the workspace.
import * as vscode from 'vscode';
import { l10n } from 'vscode';

/** VS Code's Manage Workspace Trust (the Restricted Mode banner's "Manage"): the editor with its Trust button. */
export const MANAGE_TRUST_COMMAND = 'workbench.trust.manage';

/**
 * True in a trusted workspace. In Restricted Mode: false, after a warning that says why `action` cannot be
 * done here, with a button that opens the Workspace Trust editor.
 */
export function trustedFor(action: 'start' | 'takeOver'): boolean {
  if (vscode.workspace.isTrusted) {
    return true;
  }
  const manage = l10n.t('Manage Workspace Trust');
  const msg =
    action === 'start'
      ? l10n.t('Task Lock: the guarded tasks start only in a trusted workspace, and this one is in Restricted Mode. Trust it to start them.')
      : l10n.t('Task Lock: Take Over runs the guarded tasks here, which needs a trusted workspace, and this one is in Restricted Mode: they keep running where they are. Trust it to take them over.');
  void vscode.window.showWarningMessage(msg, manage).then((a) => {
    if (a === manage) {
      void vscode.commands.executeCommand(MANAGE_TRUST_COMMAND);
    }
  });
  return false;
}
