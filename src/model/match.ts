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
  /** Its definition (`type` and the provider's identifying properties), for a dependsOn given as an object. */
  definition?: Readonly<Record<string, unknown>>;
}

/**
 * A task as `dependsOn` names it: a label ("watch", "npm: watch"), or a task identifier, an object with the
 * task's `type` and its identifying properties (`{ "type": "npm", "script": "watch" }`).
 */
export type TaskRef = string | TaskIdentifier;
export interface TaskIdentifier {
  readonly type: string;
  readonly [property: string]: unknown;
}

/**
 * Each guarded label's dependsOn tree: every task it starts, directly or through its dependencies, itself
 * left out (model/compound.ts reads them from tasks.json). A label without dependencies may be absent.
 */
export type Trees = ReadonlyMap<string, readonly TaskRef[]>;

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

/** JSON values compared by content: a task identifier's properties come from tasks.json. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return false;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** True when `ref` names the task: by a label users see for it, or by every property of its identifier. */
export function refMatches(ref: TaskRef, task: TaskId): boolean {
  if (typeof ref === 'string') {
    return guardedLabel(task, [ref]) !== undefined;
  }
  const d = task.definition;
  return d !== undefined && Object.keys(ref).every((k) => sameValue(d[k], ref[k]));
}

/** How a task identifier reads in messages and the record: "npm: watch" for `{ "type": "npm", "script": "watch" }`. */
export function refLabel(ref: TaskRef): string {
  if (typeof ref === 'string') {
    return ref;
  }
  const name = Object.entries(ref).find(([k, v]) => k !== 'type' && typeof v === 'string');
  return name ? `${ref.type}: ${String(name[1])}` : ref.type;
}

/** The configured labels whose task this is, or whose dependsOn tree holds it. */
export function rootsOf(task: TaskId, guarded: readonly string[], trees?: Trees): string[] {
  return guarded.filter((g) => guardedLabel(task, [g]) !== undefined || (trees?.get(g) ?? []).some((r) => refMatches(r, task)));
}

/**
 * The label a guarded task goes by (in the record, the status bar, messages): the configured label that
 * names it, else the dependsOn entry that does; undefined when it is not guarded.
 */
export function labelIn(task: TaskId, guarded: readonly string[], trees?: Trees): string | undefined {
  const direct = guardedLabel(task, guarded);
  if (direct !== undefined) {
    return direct;
  }
  for (const g of guarded) {
    const ref = (trees?.get(g) ?? []).find((r) => refMatches(r, task));
    if (ref !== undefined) {
      return typeof ref === 'string' ? ref : (task.aliases?.[0] ?? task.name);
    }
  }
  return undefined;
}

/**
 * The folder whose guard owns this task, or undefined. A task scoped to a folder belongs to that folder only;
 * a workspace-wide task (a .code-workspace task or a provider's global task) belongs to the first folder
 * that guards its label, so that one lock still decides. A folder guards the tasks of its guarded labels'
 * dependsOn trees (`trees`) as it guards those labels.
 */
export function owningFolder(task: TaskId, guarded: ReadonlyArray<{ folder: string; tasks: readonly string[]; trees?: Trees }>): string | undefined {
  if (task.folder !== undefined) {
    const g = guarded.find((x) => x.folder === task.folder);
    return g && rootsOf(task, g.tasks, g.trees).length > 0 ? g.folder : undefined;
  }
  return guarded.find((x) => rootsOf(task, x.tasks, x.trees).length > 0)?.folder;
}

/**
 * The guarded labels that are not running yet, in the configured order. `running`: the guarded labels of
 * what runs (rootsOf each task), so a compound task runs while any task of its tree does.
 */
export function missingTasks(guarded: readonly string[], running: Iterable<string>): string[] {
  const r = new Set(running);
  return guarded.filter((t) => !r.has(t));
}
