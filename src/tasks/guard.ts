// One workspace folder's lock in this window and its lifecycle: taking, holding, handing over, failing over.
// The decisions come from model/policy.ts, the task table from running.ts; the words from src/ui, through
// the events this class emits.
import * as vscode from 'vscode';
import { HolderView, LockHandle, LockState, describeState, errorMessage, isAlive } from '../lock';
import { afterGuardChange, atStartup, onTaskStart, stopsEarlyCopies } from '../model/policy';
import type { Settings } from '../model/settings';
import { folderStatus, summarize, type FolderStatus } from '../model/status';
import { TaskCatalog } from './catalog';
import type { GuardEvents, ReclaimOutcome } from './events';
import { Failover } from './failover';
import { Moves } from './moves';
import { FolderLock } from './folderLock';
import { FolderLog, RunningTasks, STOP_WAIT_MS, endOf, terminalPids } from './running';
import { GATED_TYPE } from './gatedTask';
import { GuardGate } from './guardGate';
import { GuardedTasks } from './scope';

/** What a folder's guard needs from the rest of the extension. */
export interface GuardHost {
  readonly log: vscode.LogOutputChannel;
  /** How this window names itself in the holder record: the app and the window. */
  readonly holderLabel: string;
  trusted(): boolean;
  readonly events: GuardEvents;
  /** The process id the editor reported for an execution, guarded or not (its event may be long past). */
  pidOf(exec: vscode.TaskExecution): number | undefined;
  /** This window's mark: the value of MARK_VAR in its task terminals' environment (see terminalMark). */
  readonly mark: string;
}

/**
 * One workspace folder's lock and its guarded tasks in this window. Lock operations run one at a time
 * (`serial`); the termination of an intruder does not wait for them, to keep its run as short as possible.
 */
export class FolderGuard implements vscode.Disposable {
  private readonly log: FolderLog;
  private readonly running: RunningTasks;
  private readonly catalog: TaskCatalog;
  private readonly failover: Failover;
  private readonly lock: FolderLock;
  /** Take Over, orphans, onConflict, handoff and start requests. */
  readonly moves: Moves;
  /** The guarded labels and their compound tasks' dependsOn trees. */
  readonly guarded: GuardedTasks;
  /** What the `taskLock` task type's pre-spawn gate asks of this folder. */
  readonly gate: GuardGate;
  private adopted: vscode.Disposable | undefined;
  private unknownLabels: string[] = [];

  constructor(
    readonly folder: vscode.WorkspaceFolder,
    public settings: Settings,
    private readonly host: GuardHost,
  ) {
    const prefix = `[${folder.name}] `;
    const log: FolderLog = { info: (m) => host.log.info(prefix + m), warn: (m) => host.log.warn(prefix + m), error: (m) => host.log.error(prefix + m) };
    this.log = log;
    this.running = new RunningTasks(log, host.mark);
    this.catalog = new TaskCatalog(log, folder.uri.toString(), () => host.trusted());
    this.guarded = new GuardedTasks(folder);
    this.guarded.update(settings.tasks);
    this.failover = new Failover(log);
    this.lock = new FolderLock(folder.uri.fsPath, { staleMs: settings.staleSeconds * 1000, lockDirectory: settings.lockDirectory }, {
      log,
      holderLabel: host.holderLabel,
      onHeld: (h) => {
        this.failover.held();
        h.onCompromised((err) => this.onCompromised(h, err));
        h.onHandoffRequest((req) => void this.moves.onHandoff(h, req));
        h.onStartRequest((req) => void this.moves.onStartRequest(h, req));
        this.running.syncTo(h);
      },
      changed: () => host.events.changed(),
    });
    this.moves = new Moves({
      guard: this,
      lock: this.lock,
      log,
      events: host.events,
      label: host.holderLabel,
      start: (why) => this.acquireAndStart(why),
      startNames: (names, why) => this.startNames(names, why),
      running: this.running,
      settings: () => this.settings,
      trusted: () => host.trusted(),
    });
    this.gate = new GuardGate(this, this.lock, this.running);
  }

  get isHolder(): boolean {
    return this.lock.isHolder;
  }

  get lockState(): LockState {
    return this.lock.current;
  }

  status(): FolderStatus {
    const base = { folder: this.folder.uri.fsPath, name: this.folder.name, tasks: [...this.settings.tasks], running: this.running.names() };
    return { ...folderStatus(base, this.lock.heldView, this.lock.current), window: this.host.holderLabel, missing: this.missing(), dependsOn: this.guarded.dependencies(), lastStop: this.moves.lastStop, unknownLabels: this.unknownLabels };
  }

  /** Looks at the lock once, re-adopts it after an extension host restart, starts tasks when it may, then watches. */
  async init(when = 'at startup'): Promise<void> {
    if (!this.lock.lock) {
      this.host.events.changed();
      return;
    }
    for (const e of vscode.tasks.taskExecutions) {
      if (this.owns(e.task)) {
        this.running.add(e, this.guarded.labelOf(e.task), this.host.pidOf(e));
      }
    }
    const first = this.lock.look();
    this.log.info(`state ${when}: ${describeState(first)}; guarded: ${this.guarded.describe()}; running here: ${this.running.names().join(', ') || 'none'}`);
    await this.lock.serial(async () => {
      try {
        await this.tryReadopt();
      } catch (err) {
        this.log.error(`could not re-adopt the lock: ${errorMessage(err)}`);
      }
      const next = atStartup({ isHolder: this.isHolder, state: this.lock.current, runningHere: this.running.size, autoStart: this.settings.autoStart, trusted: this.host.trusted() });
      if (next === 'claim-running') {
        await this.lock.tryAcquire('tasks already running in this window');
      } else if (next === 'start') {
        await this.acquireAndStart('startup (taskLock.autoStart)');
      }
    });
    if (this.lock.isClosed) {
      return;
    }
    const now = this.lock.current;
    if ((now.state === 'held' || now.state === 'mine') && stopsEarlyCopies({ isHolder: this.isHolder, runningHere: this.running.size, state: now, isAlive })) {
      for (const exec of this.running.executions()) {
        this.running.delete(exec);
        this.stopIntruder(exec, now.holder);
      }
    }
    this.lock.watch((e) => this.onWatch(e.state, e.cause));
    if (!this.isHolder) {
      this.checkLabels();
    }
    this.host.events.changed();
  }

  /** A follower starts nothing, but a label that matches no task must not go unnoticed there either. */
  checkLabels(): void {
    void this.catalog.unknown(this.settings.tasks, (t) => this.owns(t)).then((r) => this.noteUnknown(r.labels, r.shown));
  }

  /** After an extension host restart: re-adopt the lock our terminals' tasks keep, then follow them. */
  private async tryReadopt(): Promise<void> {
    const h = await this.lock.readopt(terminalPids);
    if (!h || this.running.size > 0) {
      return;
    }
    this.adopted = this.running.followAdopted(
      h,
      () => this.lock.held === h,
      () =>
        void this.lock.serial(async () => {
          if (this.lock.held === h && this.running.size === 0) {
            this.log.info('the adopted tasks ended: releasing the lock');
            await this.lock.release();
          }
        }),
    );
  }

  private onWatch(state: LockState, cause: string): void {
    if (this.lock.isClosed) {
      return;
    }
    const prev = this.lock.saw(state);
    // A lock a moment old whose taker is still writing its record (every handoff and failover passes there) is
    // not news: the record follows at once, and names the holder.
    const unnamedYet = state.state === 'held' && state.holder.record === undefined && state.holder.unknown === 'no-record' && state.holder.heartbeatAgeMs < 1_000;
    if (!unnamedYet && (describeState(prev) !== describeState(state) || cause.startsWith('holder-'))) {
      this.log.info(`lock ${describeState(state)} (${cause})`);
    }
    if (!this.isHolder) {
      this.considerFailover(state, cause);
    }
    this.host.events.changed();
  }

  private considerFailover(state: LockState, cause: string): void {
    // Read before the decision: a decision made forgets the holder.
    const prev = this.failover.previous;
    const d = this.failover.observe(state, cause, this.settings, this.host.trusted(), () => {
      if (!this.isHolder && this.lock.lock && !this.lock.isClosed) {
        this.onWatch(this.lock.lock.inspect(), 'timer');
      }
    });
    if (d.action === 'take-orphan') {
      void this.lock.serial(() => this.moves.fromOrphan(d.token, 'its window is gone and taskLock.orphanGraceSeconds is over', false));
    } else if (d.action === 'take') {
      void this.lock.serial(async () => {
        if (!this.isHolder && !this.lock.isClosed) {
          this.log.info(`failover: ${prev ? `the holder ${prev.kind} ${prev.label} (pid ${prev.pid}) is gone` : 'the lock is stale'}`);
          await (d.start ? this.acquireAndStart('failover') : this.lock.tryAcquire('failover (taskLock.autoStart is off: starting nothing)'));
        }
      });
    }
  }

  /** Starts the guarded tasks not running yet; the lock is taken first. */
  async startGuarded(why: string): Promise<boolean> {
    return this.lock.serial(() => this.acquireAndStart(why));
  }

  private async acquireAndStart(why: string): Promise<boolean> {
    if (!this.host.trusted()) {
      // VS Code runs no task in Restricted Mode (it would ask the user to trust the workspace): no lock for nothing.
      this.log.info(`not starting the guarded tasks (${why}): the workspace is not trusted`);
      return false;
    }
    if (!(await this.lock.tryAcquire(why))) {
      return false;
    }
    const missing = this.missing();
    if (missing.length === 0) {
      this.log.info('every guarded task runs already');
      return true;
    }
    await this.startNames(missing, why);
    if (this.running.size === 0) {
      this.log.info('no guarded task could be started: releasing the lock');
      await this.lock.release();
      return false;
    }
    this.host.events.changed();
    return true;
  }

  /** Starts these guarded labels here (the caller holds the lock). */
  private async startNames(names: string[], why: string): Promise<void> {
    const started = (name: string, exec: vscode.TaskExecution): void => this.running.add(exec, name);
    await this.catalog.start(names, (t) => this.owns(t), why, started, (labels, shown) => this.noteUnknown(labels, shown));
  }

  /** Guarded labels that match no task: told, and kept in the status (a warning on the status item). */
  private noteUnknown(labels: string[], shown: string[]): void {
    if (labels.length > 0) {
      this.unknownLabels = [...new Set([...this.unknownLabels, ...labels])];
      this.host.events.labelsUnknown(this, labels, shown);
      this.host.events.changed();
    }
  }

  /** True when this guard is the one for the task: guarded here (a guarded label's, or in its dependsOn tree), not another folder's. */
  owns(task: vscode.Task): boolean {
    return this.guarded.owns(task);
  }

  /** The guarded labels not running in this window: a compound task runs while any task of its tree does. */
  private missing(): string[] {
    return this.guarded.missing(this.running.executions().map((e) => e.task));
  }

  /**
   * The folder's task declarations changed (tasks.json): a compound task's tree may have changed. Applied as a
   * change of taskLock.tasks is: what joined a tree while it runs is taken in, what left it runs on, unguarded.
   */
  tasksChanged(): void {
    this.catalog.forget();
    if (this.guarded.update(this.settings.tasks)) {
      this.log.info(`tasks changed: guarding ${this.guarded.describe()}`);
      this.takeInRunning('tasks.json changed');
      this.host.events.changed();
    }
  }

  /** A guarded task of this folder started in this window, by anyone. */
  onTaskStarted(exec: vscode.TaskExecution, ranBefore = false): void {
    const name = this.guarded.labelOf(exec.task);
    const s = this.lock.current;
    switch (onTaskStart({ isHolder: this.isHolder, usable: this.lock.lock !== undefined, state: s, ownPid: process.pid })) {
      case 'track':
        if (!this.running.has(exec)) {
          this.running.add(exec, name, this.host.pidOf(exec));
          this.running.syncTo(this.lock.held);
          this.log.info(`${name} started in this window, the holder`);
          this.host.events.changed();
        }
        return;
      case 'stop-intruder':
        // A `taskLock` task is refused by its own gate before its process exists (gateRefused says so),
        // unless it ran before its label was guarded: then no gate saw it.
        if ((s.state === 'held' || s.state === 'mine') && (ranBefore || exec.task.definition.type !== GATED_TYPE)) {
          this.stopIntruder(exec, s.holder);
        }
        return;
      case 'run-unguarded':
        this.log.warn(`${name} runs unguarded: ${this.lock.createError ?? (s.state === 'error' ? s.message : '')}`);
        return;
      case 'claim':
        this.claimFor(exec, name);
    }
  }

  /**
   * Labels guarded since this guard began (a settings change, or a compound task's tree changed in tasks.json):
   * their executions already running in this window are handled as if they started now: recorded in the
   * holder, stopped beside another holder.
   */
  takeInRunning(why = 'taskLock.tasks changed'): void {
    this.guarded.update(this.settings.tasks);
    this.unknownLabels = this.unknownLabels.filter((l) => this.settings.tasks.includes(l));
    // A label no longer guarded: its task runs on, but this window no longer runs it "for the lock".
    const dropped = this.running.retain((e) => this.owns(e.task)).length > 0;
    if (dropped) {
      this.running.syncTo(this.lock.held, true);
    }
    for (const e of vscode.tasks.taskExecutions) {
      if (this.owns(e.task) && !this.running.has(e)) {
        this.log.info(`${e.task.name} is guarded now and runs in this window`);
        this.onTaskStarted(e, true);
      }
    }
    const next = afterGuardChange({ isHolder: this.isHolder, autoStart: this.settings.autoStart, missing: this.missing().length, runningHere: this.running.size, letGo: dropped });
    if (next === 'start') {
      void this.startGuarded(why);
    } else if (next === 'release') {
      this.log.info('no guarded task runs here any more: releasing the lock (other windows start nothing)');
      void this.lock.serial(async () => (this.isHolder && this.running.size === 0 ? this.lock.release() : undefined));
    }
  }

  /** The lock looks free or stale: take it, then let the task run; if someone else was faster, stop it. */
  private claimFor(exec: vscode.TaskExecution, name: string): void {
    this.running.add(exec, name, this.host.pidOf(exec));
    void this.lock.serial(async () => {
      if (await this.lock.tryAcquire(`${name} was started in this window`)) {
        if (this.running.size === 0) {
          // It ended before the lock was taken: holding the lock for nothing would block the other windows.
          this.log.info(`${name} ended before the lock was taken: releasing it`);
          await this.lock.release();
        }
        return;
      }
      const now = this.lock.current;
      if (now.state === 'error') {
        // The lock cannot be used (its folder, say): the task is not to blame, let it run and say why.
        this.log.warn(`${name} runs unguarded: ${now.message}`);
        return;
      }
      this.running.delete(exec);
      this.stopIntruder(exec, now.state === 'free' ? { sameHost: false, heartbeatAgeMs: 0, unknownReason: describeState(now) } : now.holder);
    });
  }

  private stopIntruder(exec: vscode.TaskExecution, holder: HolderView): void {
    // What follows (the holder asked to start it, a Take Over) waits for this copy's end: terminate() is not it.
    const ended = endOf(exec, STOP_WAIT_MS);
    exec.terminate();
    void ended.then(() => this.sayStopped(this.guarded.labelOf(exec.task), holder));
  }

  /** After the stop, not before: a holder that took the lock a moment ago may still be writing its record. */
  private async sayStopped(name: string, holder: HolderView): Promise<void> {
    let view = holder;
    if (view.record === undefined) {
      const s = await this.lock.settled(this.lock.look());
      view = s.state === 'held' || s.state === 'stale' ? s.holder : view;
    }
    const h = summarize(view);
    this.log.info(`terminated ${name}: it runs in ${h.description}`);
    this.moves.conflict(name, h, false);
  }

  onTaskProcessStarted(exec: vscode.TaskExecution, pid: number): void {
    this.running.setPid(exec, pid);
    this.running.syncTo(this.lock.held);
  }

  onTaskEnded(exec: vscode.TaskExecution): void {
    const name = this.running.ended(exec);
    if (name === undefined) {
      return;
    }
    this.log.info(`${name} ended`);
    if (this.isHolder) {
      this.running.syncTo(this.lock.held);
      if (this.running.size === 0 && !this.running.stopping) {
        void this.lock.serial(async () => {
          if (this.running.size === 0 && !this.running.stopping && this.isHolder) {
            this.log.info('every guarded task ended: releasing the lock (other windows start nothing)');
            await this.lock.release();
          }
        });
      }
    }
    this.host.events.changed();
  }

  /** Stop Guarded Tasks and Release. */
  async stopAndRelease(why: string): Promise<void> {
    await this.lock.serial(async () => {
      if (await this.running.stopAll(why, this.lock.held)) {
        await this.lock.release();
      } else {
        // Releasing now would let another window start a second copy.
        this.host.events.stopFailed(this);
      }
    });
  }

  private onCompromised(h: LockHandle, err: Error): void {
    if (!this.lock.drop(h)) {
      return;
    }
    this.log.error(err.message);
    this.failover.lost(h.record.tasks);
    // Never keep a second copy; once they ended, the lost handle's channel goes (the next holder waits for it).
    void this.lock.serial(() => this.running.stopAll('the lock was lost', h).then(() => h.release()));
    this.host.events.compromised(this);
    this.lock.refresh();
  }

  reclaim(): Promise<ReclaimOutcome> {
    return this.lock.serial(() => this.lock.reclaim());
  }

  /** Deactivation. A lock kept alive by running tasks stays recorded; without tasks it is released. */
  async shutdown(): Promise<void> {
    this.dispose();
    const h = this.lock.held;
    if (h && this.running.size === 0) {
      await h.release();
    }
    // With tasks running, the engine leaves the lock to them when this process exits: they keep it held.
  }

  /** The guard is replaced or removed (settings changed): its lock is let go, running tasks are left alone. */
  async letGo(): Promise<void> {
    this.dispose();
    await this.lock.letGo();
  }

  dispose(): void {
    this.failover.forget();
    this.adopted?.dispose();
    this.lock.close();
  }
}
