// The workspace's tasks as VS Code lists them, fetched once ahead of need (listing them takes a good part of
// a failover's time in a follower; tasks.json changes drop the list, see Guards), and starting them by label.
import * as vscode from 'vscode';
import { errorMessage } from '../lock';
import type { TaskId } from '../model/match';
import type { FolderLog } from './running';

/** A task as model/match.ts sees it: its label and its folder's URI (none for a workspace-wide task). */
export function taskId(task: vscode.Task): TaskId {
  const scope = task.scope;
  return { name: task.name, folder: typeof scope === 'object' && scope !== null && 'uri' in scope ? scope.uri.toString() : undefined };
}

export class TaskCatalog {
  private cache: Promise<vscode.Task[]> | undefined;

  constructor(private readonly log: FolderLog) {}

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

  /**
   * Starts the tasks among `names` that `fits` accepts, looking them up once more when one is missing from the
   * cached list (a provider that came late). `started` hears of each right after its own start, before the
   * next one begins: a task that ends at once must not be recorded after its end. The rest is logged.
   */
  async start(names: readonly string[], fits: (t: vscode.Task) => boolean, why: string, started: (name: string, exec: vscode.TaskExecution) => void): Promise<void> {
    let all = await this.list();
    if (names.some((name) => !all.some((t) => t.name === name && fits(t)))) {
      this.forget();
      all = await this.list();
    }
    for (const name of names) {
      const task = all.find((t) => t.name === name && fits(t));
      if (!task) {
        this.log.warn(`no task labelled “${name}” (taskLock.tasks); found: ${all.map((t) => t.name).join(', ') || 'none'}`);
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
