import * as path from 'node:path';
import * as vscode from 'vscode';
import { owningFolder } from '../model/match';
import { lockSettingsDiffer, readSettings, type Settings } from '../model/settings';
import { windowName, type FolderStatus } from '../model/status';
import type { GuardEvents } from './events';
import { GATED_TYPE, gatedPid, registerGatedTasks } from './gatedTask';
import { taskId } from './catalog';
import { FolderGuard, type GuardHost } from './guard';

/**
 * Every guarded folder of this window: one guard (one lock) per folder whose `taskLock.tasks` is not empty.
 * Routes the editor's task events to the folder that guards the task, and applies settings changes live.
 */
export class Guards implements vscode.Disposable {
  private readonly guards = new Map<string, FolderGuard>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly warned = new Set<string>();
  private readonly host: GuardHost;

  constructor(
    readonly log: vscode.LogOutputChannel,
    private readonly events: GuardEvents,
  ) {
    const holderLabel = windowName(vscode.env.appName, vscode.workspace.name, new Date());
    // Every task's process id, guarded or not: a label guarded later must record a copy already running.
    const pids = new WeakMap<vscode.TaskExecution, number>();
    const pidOf = (e: vscode.TaskExecution): number | undefined => {
      const scope = e.task.scope;
      const folder = typeof scope === 'object' ? scope.uri.fsPath : (vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '');
      // A `taskLock` task's execution reports no pid: its gate knows it.
      return pids.get(e) ?? (e.task.definition.type === GATED_TYPE ? gatedPid(e.task.name, folder) : undefined);
    };
    this.host = { log, holderLabel, trusted: () => vscode.workspace.isTrusted, events, pidOf };
    this.subscriptions.push(
      registerGatedTasks((t) => this.guardOf(t), log, events.gateLine),
      vscode.tasks.onDidStartTask((e) => this.guardOf(e.execution.task)?.onTaskStarted(e.execution)),
      vscode.tasks.onDidStartTaskProcess((e) => {
        // A CustomExecution reports -1: its process (if any) is recorded by the gate itself.
        if (e.processId !== undefined && e.processId > 0) {
          pids.set(e.execution, e.processId);
          this.guardOf(e.execution.task)?.onTaskProcessStarted(e.execution, e.processId);
        }
      }),
      vscode.tasks.onDidEndTask((e) => {
        for (const g of this.guards.values()) {
          g.onTaskEnded(e.execution);
        }
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('tasks')) {
          for (const g of this.guards.values()) {
            g.forgetTasks();
          }
        }
        if (e.affectsConfiguration('taskLock')) {
          log.info('settings changed: applying them');
          void this.refresh();
        }
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.refresh()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        log.info('the workspace is trusted now: starting what may start');
        for (const g of this.guards.values()) {
          if (g.settings.autoStart && g.lockState.state === 'free') {
            void g.startGuarded('workspace trust granted');
          }
        }
      }),
    );
  }

  list(): FolderGuard[] {
    return [...this.guards.values()];
  }

  status(): FolderStatus[] {
    return this.list().map((g) => g.status());
  }

  /** The guard of the folder that owns the task (model/match.ts decides), if any. */
  private guardOf(task: vscode.Task): FolderGuard | undefined {
    const key = owningFolder(taskId(task), this.list().map((g) => ({ folder: g.folder.uri.toString(), tasks: g.settings.tasks })));
    return key === undefined ? undefined : this.guards.get(key);
  }

  private settingsOf(folder: vscode.WorkspaceFolder): Settings {
    const c = vscode.workspace.getConfiguration('taskLock', folder.uri);
    const read = readSettings((k) => c.get(k), folder.uri.fsPath, path.isAbsolute, path.join);
    for (const w of read.warnings) {
      const key = `${folder.uri.toString()}|${w.setting}|${w.problem}`;
      if (!this.warned.has(key)) {
        this.warned.add(key);
        this.log.warn(`[${folder.name}] the setting ${w.setting} is invalid (${w.problem}): using its default`);
        this.events.settingInvalid(folder.name, w.setting, w.problem);
      }
    }
    return read.settings;
  }

  private refreshing: Promise<void> = Promise.resolve();

  /**
   * Builds, updates or removes guards to match the folders and settings now. Settings, folder and trust
   * changes may come in bursts: each refresh runs after the one before.
   */
  refresh(): Promise<void> {
    const next = this.refreshing.then(() => this.doRefresh());
    this.refreshing = next.catch(() => undefined);
    return next;
  }

  /** Whether the first refresh (the window's startup) is done: later guards come from a settings or folder change. */
  private started = false;

  private async doRefresh(): Promise<void> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    const seen = new Set<string>();
    const inits: Array<Promise<void>> = [];
    for (const folder of folders) {
      const key = folder.uri.toString();
      const s = this.settingsOf(folder);
      const old = this.guards.get(key);
      if (s.tasks.length === 0) {
        if (old) {
          this.log.info(`[${folder.name}] no guarded tasks any more: letting go of the lock`);
          this.guards.delete(key);
          await old.letGo();
        }
        continue;
      }
      seen.add(key);
      if (old && !lockSettingsDiffer(old.settings, s)) {
        old.settings = s;
        old.takeInRunning();
        continue;
      }
      if (old) {
        this.log.info(`[${folder.name}] the lock's settings changed: using a new lock`);
        await old.letGo();
      }
      const g = new FolderGuard(folder, s, this.host);
      this.guards.set(key, g);
      inits.push(g.init(this.started ? 'after a settings change' : 'at startup').catch((err: unknown) => this.log.error(`[${folder.name}] ${String(err)}`)));
    }
    for (const [key, g] of this.guards) {
      if (!seen.has(key)) {
        this.guards.delete(key);
        await g.letGo();
      }
    }
    this.started = true;
    this.events.changed();
    await Promise.all(inits);
  }

  async shutdown(): Promise<void> {
    for (const d of this.subscriptions) {
      d.dispose();
    }
    await Promise.all(this.list().map((g) => g.shutdown()));
    this.guards.clear();
  }

  dispose(): void {
    void this.shutdown();
  }
}

