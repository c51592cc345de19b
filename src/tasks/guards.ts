import * as path from 'node:path';
import * as vscode from 'vscode';
import { processStart, twinProcesses } from '../lock';
import { owningFolder } from '../model/match';
import { atStartup } from '../model/policy';
import { lockSettingsDiffer, readSettings, type Settings } from '../model/settings';
import { windowName, type FolderStatus } from '../model/status';
import type { GuardEvents } from './events';
import { GATED_TYPE, gatedPid, registerGatedTasks } from './gatedTask';
import { taskId, terminalsOf } from './catalog';
import { FolderGuard, type GuardHost } from './guard';
import { terminalPid } from './running';
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
    this.host = { log, holderLabel, trusted: () => vscode.workspace.isTrusted, events, pidOf: (e) => this.pidOf(e), mark };
    this.subscriptions.push(
      registerGatedTasks((t) => this.guardOf(t), log, events.gateLine, mark),
      vscode.tasks.onDidStartTask((e) => this.guardOf(e.execution.task)?.onTaskStarted(e.execution)),
      vscode.tasks.onDidStartTaskProcess((e) => {
        // A CustomExecution reports -1: its process (if any) is recorded by the gate itself.
        if (e.processId !== undefined && e.processId > 0) {
          this.processStarted(e.execution, e.processId);
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

  /** Every task's process id, guarded or not: a label guarded later must record a copy already running. */
  private readonly pids = new WeakMap<vscode.TaskExecution, number>();

  /** The process id the editor reported for an execution, guarded or not (its event may be long past). */
  private pidOf(e: vscode.TaskExecution): number | undefined {
    const scope = e.task.scope;
    const folder = typeof scope === 'object' ? scope.uri.fsPath : (vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '');
    // A `taskLock` task's execution reports no pid: its gate knows it.
    return this.pids.get(e) ?? (e.task.definition.type === GATED_TYPE ? gatedPid(e.task.name, folder) : undefined);
  }

  /** A task's process started (its event, or at activation its terminal): recorded if guarded, else looked at for twins. */
  private processStarted(exec: vscode.TaskExecution, pid: number): void {
    this.pids.set(exec, pid);
    const g = this.guardOf(exec.task);
    if (g) {
      g.onTaskProcessStarted(exec, pid);
    } else {
      this.lookForTwin(exec.task, pid);
    }
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
   * At activation: a task VS Code started before this extension was active (a folder-open task: VS Code runs it
   * before onStartupFinished) may have had its process event already, with nobody listening, and no other comes.
   * On a busy machine that happens: the holder then recorded no task, so nothing kept the lock held for it once
   * the window was gone. Its terminal (named after the task) gives its pid: the event is handled as it would have
   * been, if the pid is one live process that no other execution is known by.
   */
  private replayMissedProcessStarts(): void {
    for (const e of vscode.tasks.taskExecutions) {
      if (this.pids.has(e) || e.task.definition.type === GATED_TYPE) {
        continue;
      }
      // A terminal tells its pid as its process event is sent: one that has not told yet, its event is still to come.
      void Promise.all(terminalsOf(e.task).map(terminalPid)).then((found) => {
        const others = new Set(vscode.tasks.taskExecutions.filter((x) => x !== e).map((x) => this.pidOf(x)));
        const live = [...new Set(found)].filter((p): p is number => p !== undefined && !others.has(p) && processStart(p) !== null);
        // Its own event, if it came meanwhile, said it first-hand.
        if (live.length === 1 && !this.pids.has(e)) {
          this.log.info(`${e.task.name} started before this extension was active: its terminal runs pid ${live[0]}`);
          this.processStarted(e, live[0]);
        }
      });
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
      this.replayMissedProcessStarts();
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

