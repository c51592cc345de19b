// "Task Lock: Guard a Task…": choose the folder's guarded tasks from the tasks it has, instead of editing
// `taskLock.tasks` by hand. The folder's setting is written; the guards follow the change as for any edit.
import * as vscode from 'vscode';
import { l10n } from 'vscode';
import { shownLabel } from '../tasks/catalog';

/** The folder's own tasks (tasks.json and providers), by the label Run Task shows, without repeats. */
async function labelsOf(folder: vscode.WorkspaceFolder): Promise<string[]> {
  const all = await vscode.tasks.fetchTasks();
  const own = all.filter((task) => typeof task.scope === 'object' && task.scope.uri.toString() === folder.uri.toString());
  return [...new Set(own.map(shownLabel))].sort((a, b) => a.localeCompare(b));
}

export async function guardTask(): Promise<void> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 0) {
    void vscode.window.showInformationMessage(l10n.t('Task Lock: open a folder first; Task Lock guards the tasks of a workspace folder.'));
    return;
  }
  const folder = folders.length === 1 ? folders[0] : await vscode.window.showWorkspaceFolderPick({ placeHolder: l10n.t('Guard the tasks of which folder?') });
  if (!folder) {
    return;
  }
  const config = vscode.workspace.getConfiguration('taskLock', folder.uri);
  const raw = config.get<unknown>('tasks');
  const guarded = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string') : [];
  const labels = await labelsOf(folder);
  // A guarded label that matches no task stays listed (picked), so that saving does not drop it unseen.
  const items: Array<vscode.QuickPickItem & { label: string }> = [
    ...labels.map((label) => ({ label, picked: guarded.includes(label) })),
    ...guarded.filter((g) => !labels.includes(g)).map((label) => ({ label, picked: true, description: l10n.t('no task has this label now') })),
  ];
  if (items.length === 0) {
    void vscode.window.showInformationMessage(l10n.t('Task Lock: {0} has no tasks (tasks.json or a task provider) to guard.', folder.name));
    return;
  }
  const picked = await vscode.window.showQuickPick(items, {
    canPickMany: true,
    title: l10n.t('Guard a Task: {0}', folder.name),
    placeHolder: l10n.t('The tasks only one window at a time may run for this folder'),
  });
  if (!picked) {
    return;
  }
  const next = picked.map((p) => p.label);
  // The folder's own setting (its .vscode/settings.json): the lock is the folder's, whatever window opens it.
  await config.update('tasks', next, vscode.ConfigurationTarget.WorkspaceFolder);
}
