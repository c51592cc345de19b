// What a folder's guard guards: the labels of taskLock.tasks and, for a compound task, every task of its
// dependsOn tree. VS Code's Task API does not show dependsOn, so the trees come from the task declarations
// the editor has parsed (tasks.json is the `tasks` configuration: comments and trailing commas are its
// parser's business), re-read when they change. The decisions are model/match.ts's and model/compound.ts's.
import * as vscode from 'vscode';
import { folderOpenLabels, treesDiffer, treesOf } from '../model/compound';
import { labelIn, missingTasks, owningFolder, refLabel, rootsOf, type Trees } from '../model/match';
import { taskId } from './catalog';

/**
 * The tasks declared for a folder, the folder's own first: its `.vscode/tasks.json`, then a `.code-workspace`
 * file's tasks, then the user's tasks (a folder's dependsOn may name those).
 */
export function declaredTasks(folder: vscode.WorkspaceFolder): unknown[] {
  const i = vscode.workspace.getConfiguration('tasks', folder.uri).inspect<unknown>('tasks');
  return [i?.workspaceFolderValue, i?.workspaceValue, i?.globalValue].flatMap((l) => (Array.isArray(l) ? (l as unknown[]) : []));
}

/** The labels of the folder's own tasks (its tasks.json) that run when the folder opens. */
export function folderOpenTasks(folder: vscode.WorkspaceFolder): string[] {
  try {
    const i = vscode.workspace.getConfiguration('tasks', folder.uri).inspect<unknown>('tasks');
    // A window on the folder alone reads its tasks.json at the workspace level too.
    const own = i?.workspaceFolderValue ?? (vscode.workspace.workspaceFile === undefined ? i?.workspaceValue : undefined);
    return folderOpenLabels(Array.isArray(own) ? (own as unknown[]) : []);
  } catch {
    return [];
  }
}

export class GuardedTasks {
  private trees: Trees = new Map();
  private labels: readonly string[] = [];

  constructor(private readonly folder: vscode.WorkspaceFolder) {}

  /** Reads the folder's task declarations for `labels` (taskLock.tasks) again; true when what is guarded changed. */
  update(labels: readonly string[]): boolean {
    let trees: Trees;
    try {
      trees = treesOf(declaredTasks(this.folder), labels);
    } catch {
      // A configuration that cannot be read guards the labels alone rather than nothing.
      trees = new Map();
    }
    const changed = treesDiffer(this.trees, trees) || labels.join('\n') !== this.labels.join('\n');
    this.trees = trees;
    this.labels = [...labels];
    return changed;
  }

  /** For model/match.ts's owningFolder: this folder, its labels and their trees. */
  get entry(): { folder: string; tasks: readonly string[]; trees: Trees } {
    return { folder: this.folder.uri.toString(), tasks: this.labels, trees: this.trees };
  }

  /** True when this folder guards the task: a guarded label's, or a task of its dependsOn tree, and not another folder's. */
  owns(task: vscode.Task): boolean {
    const e = this.entry;
    return owningFolder(taskId(task), [e]) === e.folder;
  }

  /** The label a guarded task goes by in the record and messages: its guarded label, or its dependsOn entry's. */
  labelOf(task: vscode.Task): string {
    return labelIn(taskId(task), this.labels, this.trees) ?? task.name;
  }

  /** The guarded labels none of whose tasks runs among `running` (a compound runs while any of its tree does). */
  missing(running: readonly vscode.Task[]): string[] {
    return missingTasks(
      this.labels,
      running.flatMap((t) => rootsOf(taskId(t), this.labels, this.trees)),
    );
  }

  /** What each compound label depends on, as the status' tooltip names it. */
  dependencies(): Record<string, string[]> {
    return Object.fromEntries([...this.trees].map(([label, refs]) => [label, refs.map(refLabel)]));
  }

  /** One line for the log: what is guarded. */
  describe(): string {
    return this.labels.map((l) => (this.trees.has(l) ? `${l} (with ${(this.trees.get(l) ?? []).map(refLabel).join(', ')})` : l)).join(', ');
  }
}
