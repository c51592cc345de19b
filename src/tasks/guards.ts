import * as path from 'node:path';
import * as vscode from 'vscode';
import { processStart, twinProcesses } from '../lock';
import { owningFolder } from '../model/match';
import { atStartup } from '../model/policy';
import { lockSettingsDiffer, readSettings, type Settings } from '../model/settings';
import { windowName, type FolderStatus } from '../model/status';
import type { GuardEvents } from './events';
import { GATED_TYPE, gatedPid, registerGatedTasks } from './gatedTask';
import { taskId } from './catalog';
import { FolderGuard, type GuardHost } from './guard';
import { folderOpenTasks } from './scope';

/** How long after an unguarded folder-open task's start its copy in another window is looked for. */
const TWIN_LOOK_MS = 3_000;

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
    mark: string,
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
    this.host = { log, holderLabel, trusted: () => vscode.workspace.isTrusted, events, pidOf, mark };
    this.subscriptions.push(
      registerGatedTasks((t) => this.guardOf(t), log, events.gateLine, mark),
      vscode.tasks.onDidStartTask((e) => this.guardOf(e.execution.task)?.onTaskStarted(e.execution)),
      vscode.tasks.onDidStartTaskProcess((e) => {
        // A CustomExecution reports -1: its process (if any) is recorded by the gate itself.
        if (e.processId !== undefined && e.processId > 0) {
          pids.set(e.execution, e.processId);
          const g = this.guardOf(e.execution.task);
          if (g) {
            g.onTaskProcessStarted(e.execution, e.processId);
          } else {
            this.lookForTwin(e.execution.task, e.processId);
          }
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
            g.tasksChanged();
          }
          // A task's runOn changed: with guardFolderOpenTasks, what is guarded changed.
          if ((vscode.workspace.workspaceFolders ?? []).some((f) => vscode.workspace.getConfiguration('taskLock', f.uri).get('guardFolderOpenTasks') === true)) {
            void this.refresh();
          }
        }
        if (e.affectsConfiguration('taskLock')) {
          log.info('settings changed: applying them');
          void this.refresh();
        }
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.refresh()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        log.info('the workspace is trusted now: reading its settings again and starting what may start');
        // Its restricted settings (taskLock.lockDirectory) apply from now on: a folder may move to another lock.
        void this.refresh().then(() => this.trustGranted());
      }),
    );
  }

  /** Folders whose unguarded folder-open task was already found running twice in this window's session. */
  private readonly offered = new Set<string>();

  /**
   * An unguarded task that VS Code starts whenever its folder opens: a second window starts its own copy too (the
   * ports collide). Found running twice, by command line and folder, the user is offered to guard such tasks.
   */
  private lookForTwin(task: vscode.Task, pid: number): void {
    const folder = typeof task.scope === 'object' ? vscode.workspace.getWorkspaceFolder(task.scope.uri) : undefined;
    if (!folder || this.offered.has(folder.uri.toString()) || !folderOpenTasks(folder).includes(task.name)) {
      return;
    }
    if (vscode.workspace.getConfiguration('taskLock', folder.uri).get('guardFolderOpenTasks') === true) {
      return;
    }
    // The other window's copy may start a moment after this one: look once it had the time to.
    setTimeout(() => {
      const twins = twinProcesses(pid);
      if (twins.length === 0 || processStart(pid) === null || this.offered.has(folder.uri.toString())) {
        return;
      }
      this.offered.add(folder.uri.toString());
      this.log.info(`[${folder.name}] ${task.name} starts when the folder opens, unguarded, and runs twice (pid ${pid} here, ${twins.join(', ')} elsewhere)`);
      this.events.folderOpenTwice(folder, task.name);
    }, TWIN_LOOK_MS).unref();
  }

  /**
   * At activation: a folder-open task starts before the extension does (onStartupFinished), so its process event
   * may be gone by now. Its terminal (named after the task) gives its pid.
   */
  private lookForTwinsRunning(): void {
    for (const e of vscode.tasks.taskExecutions) {
      if (this.guardOf(e.task) !== undefined) {
        continue;
      }
      for (const term of vscode.window.terminals.filter((t) => t.name === e.task.name || t.name.endsWith(` - ${e.task.name}`))) {
        void term.processId.then((pid) => pid !== undefined && this.lookForTwin(e.task, pid));
      }
    }
  }

  list(): FolderGuard[] {
    return [...this.guards.values()];
  }

  status(): FolderStatus[] {
    return this.list().map((g) => g.status());
  }

  /** Trusted now: each folder does what a window opening on its lock would do; a follower checks its labels. */
  private trustGranted(): void {
    for (const g of this.guards.values()) {
      const next = atStartup({ isHolder: g.isHolder, state: g.lockState, runningHere: g.status().running.length, autoStart: g.settings.autoStart, trusted: this.host.trusted() });
      if (next === 'start') {
        void g.startGuarded('workspace trust granted');
      } else if (!g.isHolder) {
        g.checkLabels();
      }
    }
  }

  /** The guard of the folder that owns the task (model/match.ts decides), if any. */
  private guardOf(task: vscode.Task): FolderGuard | undefined {
    const key = owningFolder(taskId(task), this.list().map((g) => g.guarded.entry));
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
    if (read.settings.guardFolderOpenTasks) {
      // Guarded without being named: what VS Code starts in every window that opens the folder.
      read.settings.tasks = [...new Set([...read.settings.tasks, ...folderOpenTasks(folder)])];
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
    if (!this.started) {
      this.lookForTwinsRunning();
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

