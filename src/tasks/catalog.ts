// The workspace's tasks as VS Code lists them, fetched once ahead of need (listing them takes a good part of
// a failover's time in a follower; tasks.json changes drop the list, see Guards), and starting them by label.
import * as vscode from 'vscode';
import { errorMessage } from '../lock';
import { aliasesOf, guardedLabel, type TaskId } from '../model/match';
import type { FolderLog } from './running';

/** A task as model/match.ts sees it: its label and its folder's URI (none for a workspace-wide task). */
export function taskId(task: vscode.Task): TaskId {
  const scope = task.scope;
  const type = typeof task.definition.type === 'string' ? task.definition.type : undefined;
  return {
    name: task.name,
    folder: typeof scope === 'object' && scope !== null && 'uri' in scope ? scope.uri.toString() : undefined,
    aliases: aliasesOf(task.name, task.source, type),
    definition: task.definition,
  };
}

/** The label Run Task shows for a task: a provider's tasks carry the provider's name. */
export function shownLabel(task: vscode.Task): string {
  return task.source && task.source !== 'Workspace' ? `${task.source}: ${task.name}` : task.name;
}

/**
 * The terminals VS Code names after a task: its label (a provider's with its name, `npm: watch`), `label (folder)`
 * in a multi-root workspace, `Task - label` in older versions. The extension API links no terminal to a task.
 */
export function terminalsOf(task: vscode.Task): vscode.Terminal[] {
  const folder = typeof task.scope === 'object' ? task.scope.name : undefined;
  const labels = [...new Set([task.name, shownLabel(task)])];
  const names = labels.flatMap((l) => (folder === undefined ? [l] : [l, `${l} (${folder})`]));
  return vscode.window.terminals.filter((t) => names.some((n) => t.name === n || t.name.endsWith(` - ${n}`)));
}

/** The configured labels that match none of `all` (`fits` narrows to the folder's own tasks). */
export function unmatched(all: readonly vscode.Task[], labels: readonly string[], fits: (t: vscode.Task) => boolean): string[] {
  return labels.filter((l) => findTask(all, l, fits) === undefined);
}

/** The label a configured entry matches (`fits` narrows to the folder's own tasks), tasks.json's first. */
function findTask(all: readonly vscode.Task[], label: string, fits: (t: vscode.Task) => boolean): vscode.Task | undefined {
  const candidates = all.filter((t) => fits(t) && guardedLabel(taskId(t), [label]) !== undefined);
  return candidates.find((t) => t.name === label && t.source === 'Workspace') ?? candidates.find((t) => t.name === label) ?? candidates[0];
}

export class TaskCatalog {
  private cache: Promise<vscode.Task[]> | undefined;

  constructor(
    private readonly log: FolderLog,
    /** The folder's URI as a string, as taskId() gives it. */
    private readonly folderKey: string,
    /** Whether the workspace is trusted now: in Restricted Mode, listing tasks makes VS Code ask for trust. */
    private readonly trusted: () => boolean,
  ) {}

  list(): Promise<vscode.Task[]> {
    this.cache ??= Promise.resolve(vscode.tasks.fetchTasks()).catch((err: unknown) => {
      this.log.error(`cannot list tasks: ${errorMessage(err)}`);
      this.cache = undefined;
      return [];
    });
    return this.cache;
  }

  forget(): void {
    this.cache = undefined;
  }

  private readonly mentioned = new Set<string>();

  /** The labels not mentioned before: an unknown label is said once per guard, not at every start. */
  private firstMention(labels: readonly string[]): string[] {
    const fresh = labels.filter((l) => !this.mentioned.has(l));
    fresh.forEach((l) => this.mentioned.add(l));
    return fresh;
  }

  /** The configured labels that match no task `fits` accepts, and the labels of those it does accept. */
  async unknown(labels: readonly string[], fits: (t: vscode.Task) => boolean): Promise<{ labels: string[]; shown: string[] }> {
    if (!this.trusted()) {
      // Listing them would pop up VS Code's "Do you trust the authors…?" by itself, and list none after a no.
      return { labels: [], shown: [] };
    }
    const all = await this.list();
    return { labels: this.firstMention(unmatched(all, labels, fits)), shown: this.shownOf(all) };
  }

  /** What Run Task would show of this folder's tasks (and the workspace's), for messages. */
  private shownOf(all: readonly vscode.Task[]): string[] {
    return [...new Set(all.filter((t) => typeof t.scope !== 'object' || taskId(t).folder === this.folderKey).map(shownLabel))];
  }

  /**
   * Starts the tasks among `names` that `fits` accepts, looking them up once more when one is missing from the
   * cached list (a provider that came late). `started` hears of each right after its own start, before the
   * next one begins: a task that ends at once must not be recorded after its end. The rest is logged.
   */
  async start(
    names: readonly string[],
    fits: (t: vscode.Task) => boolean,
    why: string,
    started: (name: string, exec: vscode.TaskExecution) => void,
    notFound: (names: string[], shown: string[]) => void,
  ): Promise<void> {
    let all = await this.list();
    if (names.some((name) => findTask(all, name, fits) === undefined)) {
      this.forget();
      all = await this.list();
    }
    const missing = unmatched(all, names, fits);
    if (missing.length > 0) {
      const shown = this.shownOf(all);
      this.log.warn(`no task labelled ${missing.map((n) => `“${n}”`).join(', ')} (taskLock.tasks); found: ${shown.join(', ') || 'none'}`);
      const fresh = this.firstMention(missing);
      if (fresh.length > 0) {
        notFound(fresh, shown);
      }
    }
    for (const name of names) {
      const task = findTask(all, name, fits);
      if (!task) {
        continue;
      }
      try {
        started(name, await vscode.tasks.executeTask(task));
        this.log.info(`started ${name} (${why})`);
      } catch (err) {
        this.log.error(`cannot start ${name}: ${errorMessage(err)}`);
      }
    }
  }
}
