// Which tasks are guarded. Pure (no vscode, lint-enforced): tasks arrive as plain data so unit tests need no editor.

/** A task as the matcher sees it: its label and, when it belongs to one, its workspace folder's path. */
export interface TaskId {
  name: string;
  folder: string | undefined;
}

/**
 * The folder whose guard owns this task, or undefined. A task scoped to a folder belongs to that folder only;
 * a workspace-wide task (a .code-workspace task or a provider's global task) belongs to the first folder
 * that guards its label, so that one lock still decides.
 */
export function owningFolder(task: TaskId, guarded: ReadonlyArray<{ folder: string; tasks: readonly string[] }>): string | undefined {
  if (task.folder !== undefined) {
    const g = guarded.find((x) => x.folder === task.folder);
    return g?.tasks.includes(task.name) ? g.folder : undefined;
  }
  return guarded.find((x) => x.tasks.includes(task.name))?.folder;
}

/** The guarded labels that are not running yet, in the configured order. */
export function missingTasks(guarded: readonly string[], running: Iterable<string>): string[] {
  const r = new Set(running);
  return guarded.filter((t) => !r.has(t));
}
