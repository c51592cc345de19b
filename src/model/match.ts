// Which tasks are guarded. Pure (no vscode, lint-enforced): tasks arrive as plain data so unit tests need no editor.

/** A task as the matcher sees it: its label and, when it belongs to one, its workspace folder's path. */
export interface TaskId {
  name: string;
  folder: string | undefined;
  /**
   * The other labels users see for it: a provider's task is shown (in Run Task, in `preLaunchTask`) as
   * "npm: watch" while its name is "watch".
   */
  aliases?: readonly string[];
}

/** The configured label that guards this task, if any: its name, or a label users see for it. */
export function guardedLabel(task: TaskId, guarded: readonly string[]): string | undefined {
  return guarded.find((g) => g === task.name || (task.aliases ?? []).includes(g));
}

/** The labels users see for a task of `source` (its provider) and `type` (its definition's). */
export function aliasesOf(name: string, source: string | undefined, type: string | undefined): string[] {
  const out = new Set<string>();
  // Tasks from tasks.json report the source "Workspace"; shell and process tasks are shown by label alone.
  for (const prefix of [source, type]) {
    if (prefix && prefix !== 'Workspace' && prefix !== 'shell' && prefix !== 'process') {
      out.add(`${prefix}: ${name}`);
    }
  }
  return [...out];
}

/**
 * The folder whose guard owns this task, or undefined. A task scoped to a folder belongs to that folder only;
 * a workspace-wide task (a .code-workspace task or a provider's global task) belongs to the first folder
 * that guards its label, so that one lock still decides.
 */
export function owningFolder(task: TaskId, guarded: ReadonlyArray<{ folder: string; tasks: readonly string[] }>): string | undefined {
  if (task.folder !== undefined) {
    const g = guarded.find((x) => x.folder === task.folder);
    return g && guardedLabel(task, g.tasks) !== undefined ? g.folder : undefined;
  }
  return guarded.find((x) => guardedLabel(task, x.tasks) !== undefined)?.folder;
}

/** The guarded labels that are not running yet, in the configured order. */
export function missingTasks(guarded: readonly string[], running: Iterable<string>): string[] {
  const r = new Set(running);
  return guarded.filter((t) => !r.has(t));
}
