// Compound tasks: the dependsOn tree of a guarded label, from the tasks as tasks.json declares them. VS Code's
// Task API does not show dependsOn, so the guard reads the declarations (parsed by the editor: the `tasks`
// configuration) and this resolves them. Pure (no vscode, lint-enforced).
import { refMatches, type TaskRef, type Trees } from './match';

/** At most this many tasks in one tree: a bound for a generated or broken file, not one users meet. */
export const MAX_TREE = 256;

type Entry = Readonly<Record<string, unknown>>;

function isEntry(x: unknown): x is Entry {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isRef(x: unknown): x is TaskRef {
  return (typeof x === 'string' && x.trim() !== '') || (isEntry(x) && typeof x.type === 'string');
}

/** What a `dependsOn` value names: one reference or a list of them (labels, task identifiers); the rest is skipped. */
export function refsOf(dependsOn: unknown): TaskRef[] {
  const items: unknown[] = Array.isArray(dependsOn) ? dependsOn : [dependsOn];
  return items.filter(isRef);
}

/** A declared task's label: `label`, or the `taskName` of tasks.json's version 0.1.0. */
function labelOf(e: Entry): string | undefined {
  return typeof e.label === 'string' ? e.label : typeof e.taskName === 'string' ? e.taskName : undefined;
}

/** A JSON value with its objects' keys sorted, so that one object written in two orders has one key. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) {
    return v.map(canonical);
  }
  if (isEntry(v)) {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  }
  return v;
}

/** One key per reference, for the cycle guard. */
function keyOf(ref: TaskRef): string {
  return typeof ref === 'string' ? `label:${ref}` : `id:${JSON.stringify(canonical(ref))}`;
}

/**
 * The declared task a reference names, as VS Code resolves it: by label, or by every property of an
 * identifier; the first one wins (pass the folder's tasks before the workspace's and the user's).
 */
function find(entries: readonly Entry[], ref: TaskRef): Entry | undefined {
  return entries.find((e) => (typeof ref === 'string' ? labelOf(e) === ref : refMatches(ref, { name: '', folder: undefined, definition: e })));
}

/**
 * The dependsOn tree of `root` among the declared tasks `entries` (tasks.json's `tasks`, the folder's first):
 * every task it starts, directly or through its dependencies, each once, in the order first met, `root` left
 * out. A reference that names no declared task (a provider's, such as "npm: watch") is a leaf. A cycle ends
 * where it closes (VS Code refuses to run it anyway), and a tree stops at MAX_TREE tasks.
 */
export function dependencyTree(entries: readonly unknown[], root: string): TaskRef[] {
  const declared = entries.filter(isEntry);
  const seen = new Set<string>([keyOf(root)]);
  const out: TaskRef[] = [];
  const queue: TaskRef[] = [root];
  for (let ref = queue.shift(); ref !== undefined && out.length < MAX_TREE; ref = queue.shift()) {
    for (const dep of refsOf(find(declared, ref)?.dependsOn)) {
      const key = keyOf(dep);
      if (!seen.has(key) && out.length < MAX_TREE) {
        seen.add(key);
        out.push(dep);
        queue.push(dep);
      }
    }
  }
  return out;
}

/** The trees of the guarded labels that have dependencies (the others are left out). */
export function treesOf(entries: readonly unknown[], guarded: readonly string[]): Map<string, TaskRef[]> {
  const trees = new Map<string, TaskRef[]>();
  for (const g of guarded) {
    const tree = dependencyTree(entries, g);
    if (tree.length > 0) {
      trees.set(g, tree);
    }
  }
  return trees;
}

/** True when two sets of trees differ (a tasks.json change that matters to the guard). */
export function treesDiffer(a: Trees, b: Trees): boolean {
  const flat = (t: Trees): string => JSON.stringify([...t.entries()].map(([k, v]) => [k, v.map(keyOf)]).sort());
  return flat(a) !== flat(b);
}

/**
 * The labels of the declared tasks that VS Code starts when the folder opens (`"runOptions": { "runOn":
 * "folderOpen" }`), in every window that opens it: what `taskLock.guardFolderOpenTasks` guards.
 */
export function folderOpenLabels(entries: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (!isEntry(e) || !isEntry(e.runOptions) || e.runOptions.runOn !== 'folderOpen') {
      continue;
    }
    const label = labelOf(e);
    if (label !== undefined && label.trim() !== '' && !out.includes(label)) {
      out.push(label);
    }
  }
  return out;
}
