import * as vscode from 'vscode';
import { HolderRecord, HolderView, LockError, LockHandle, LockState, WorkspaceLock, describeHolder, errorMessage, isAlive, type Disposable as LockDisposable, type HandoffRequest } from '../lock';
import type { Settings } from '../ui/settings';
import type { FolderPhase, FolderStatus, HolderSummary } from '../ui/status';
import { missingTasks } from './match';

/** What a folder's guard needs from the rest of the extension. */
export interface GuardHost {
  readonly log: vscode.LogOutputChannel;
  /** How this window names itself in the holder record: the app and the window. */
  readonly holderLabel: string;
  trusted(): boolean;
  changed(): void;
  /** A guarded task was started here while another holder runs it: it was terminated; tell the user. */
  intruderStopped(guard: FolderGuard, task: string, holder: HolderSummary): void;
}

/** How long the owner waits for its tasks to stop before it hands over or releases anyway. */
const STOP_WAIT_MS = 10_000;
/** A holder that removed its lock without a goodbye may still be exiting: look again this often meanwhile. */
const EXIT_RECHECK_MS = 100;
/** How long a holder may outlive its lock's removal before that counts as a release rather than an exit. */
const EXIT_GRACE_MS = 1_500;

export function summarize(v: HolderView): HolderSummary {
  const r = v.record;
  if (!r) {
    return { kind: 'unknown', label: v.unknownReason ?? 'unknown', tasks: [], description: describeHolder(v) };
  }
  return { kind: r.kind, label: r.label, pid: r.pid, hostname: r.hostname, since: r.since, tasks: r.tasks.map((t) => ({ name: t.name, pid: t.pid })), description: describeHolder(v) };
}

/**
 * One workspace folder's lock and its guarded tasks in this window. Lock operations run one at a time
 * (`serial`); the termination of an intruder does not wait for them, to keep its run as short as possible.
 */
export class FolderGuard implements vscode.Disposable {
  readonly lock: WorkspaceLock | undefined;
  private readonly createError: string | undefined;
  private handle: LockHandle | undefined;
  private state: LockState = { state: 'free' };
  private watcher: LockDisposable | undefined;
  /** Guarded tasks running in this window, with their process ids once known. */
  private readonly running = new Map<vscode.TaskExecution, { name: string; pid?: number }>();
  /** The other holder last seen: when the lock frees, its fate decides whether this window fails over. */
  private lastHolder: HolderRecord | undefined;
  /** Set while this window stops its own tasks (Stop, handoff, compromise): their end is not a user's stop. */
  private stopping = false;
  private busy: Promise<unknown> = Promise.resolve();
  private endWaiters: Array<() => void> = [];
  private recheck: NodeJS.Timeout | undefined;
  private disposed = false;
  private tasksCache: Promise<vscode.Task[]> | undefined;
  /** When the lock was first seen free after the last holder: the grace for telling an exit from a release. */
  private freeSeenAt: number | undefined;

  constructor(
    readonly folder: vscode.WorkspaceFolder,
    public settings: Settings,
    private readonly host: GuardHost,
  ) {
    try {
      this.lock = new WorkspaceLock(folder.uri.fsPath, { staleMs: settings.staleSeconds * 1000, lockDirectory: settings.lockDirectory });
      if (this.lock.location.fallbackReason) {
        host.log.warn(`[${folder.name}] lock home ${this.lock.location.home}: ${this.lock.location.fallbackReason}`);
      }
    } catch (err) {
      this.createError = errorMessage(err);
      this.state = { state: 'error', message: this.createError };
      host.log.error(`[${folder.name}] ${this.createError}`);
    }
  }

  get isHolder(): boolean {
    return this.handle?.isHeld === true;
  }

  get lockState(): LockState {
    return this.state;
  }

  status(): FolderStatus {
    const base = { folder: this.folder.uri.fsPath, name: this.folder.name, tasks: [...this.settings.tasks], running: [...new Set([...this.running.values()].map((r) => r.name))] };
    if (this.isHolder && this.handle) {
      return { ...base, phase: 'holder', holder: summarize({ record: this.handle.record, sameHost: true, heartbeatAgeMs: 0 }) };
    }
    const s = this.state;
    switch (s.state) {
      case 'free':
        return { ...base, phase: 'free' };
      case 'error':
        return { ...base, phase: 'error', message: s.message };
      case 'stale':
        return { ...base, phase: 'stale', holder: summarize(s.holder), message: s.reason };
      default: {
        // 'mine' with no handle here is a record of ours that this window no longer claims: show it as held.
        const phase: FolderPhase = 'follower';
        return { ...base, phase, holder: summarize(s.holder) };
      }
    }
  }

  /** Looks at the lock once, re-adopts it after an extension host restart, starts tasks when it may, then watches. */
  async init(): Promise<void> {
    const lock = this.lock;
    if (!lock) {
      this.host.changed();
      return;
    }
    for (const e of vscode.tasks.taskExecutions) {
      if (this.owns(e.task)) {
        this.running.set(e, { name: e.task.name });
      }
    }
    this.state = lock.inspect();
    this.log(`state at startup: ${this.describe(this.state)}; guarded: ${this.settings.tasks.join(', ')}; running here: ${[...this.running.values()].map((r) => r.name).join(', ') || 'none'}`);
    await this.serial(async () => {
      try {
        await this.tryReadopt();
      } catch (err) {
        this.host.log.error(`[${this.folder.name}] could not re-adopt the lock: ${errorMessage(err)}`);
      }
      if (!this.isHolder && (this.state.state === 'free' || this.state.state === 'stale')) {
        if (this.running.size > 0) {
          // Guarded tasks already run here (settings changed, or a reload after the lock was lost): claim them.
          await this.acquire('tasks already running in this window');
        } else if (this.settings.autoStart && this.host.trusted()) {
          await this.acquireAndStart('startup (taskLock.autoStart)');
        }
      }
    });
    if (this.disposed) {
      return;
    }
    const now = this.state;
    // Only against a live holder: tasks of a dead one may be these very executions, not adopted this time.
    const liveHolder = (now.state === 'held' || now.state === 'mine') && (!now.holder.record || !now.holder.sameHost || isAlive(now.holder.record));
    if (!this.isHolder && this.running.size > 0 && liveHolder && (now.state === 'held' || now.state === 'mine')) {
      // Started before this extension was active (`runOn: folderOpen` runs before onStartupFinished).
      for (const exec of [...this.running.keys()]) {
        this.running.delete(exec);
        this.stopIntruder(exec, now.holder);
      }
    }
    this.watcher = lock.watch((e) => this.onWatch(e.state, e.cause));
    if (!this.isHolder) {
      void this.knownTasks();
    }
    this.host.changed();
  }

  /** After an extension host restart the lock's holder is our dead predecessor; our terminals run its tasks. */
  private async tryReadopt(): Promise<void> {
    const s = this.state;
    const rec = s.state === 'held' ? s.holder.record : undefined;
    if (!this.lock || !rec || rec.kind !== 'vscode' || rec.tasks.length === 0 || isAlive(rec)) {
      return;
    }
    const pids = new Set<number>();
    for (const t of vscode.window.terminals) {
      const pid = await Promise.race([t.processId, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
      if (pid !== undefined) {
        pids.add(pid);
      }
    }
    const r = await this.lock.adopt({ kind: 'vscode', label: this.host.holderLabel }, (record) => record.tasks.some((t) => pids.has(t.pid)));
    if (r.ok) {
      this.log(`re-adopted the lock: this window's terminals run ${rec.tasks.map((t) => `${t.name} (pid ${t.pid})`).join(', ')} of the dead holder pid ${rec.pid}`);
      this.setHandle(r.handle);
      if (this.running.size === 0) {
        this.followAdoptedTasks(r.handle);
      }
    } else {
      this.state = r.state;
    }
  }

  /**
   * Adopted tasks that the editor does not list as executions of this window send no end event here: their
   * processes are looked at (in /proc) instead, and the lock is released when the last one ends.
   */
  private followAdoptedTasks(h: LockHandle): void {
    const timer = setInterval(() => {
      if (this.handle !== h || !h.isHeld || this.disposed || this.running.size > 0) {
        clearInterval(timer);
        return;
      }
      if (!h.tasksAlive()) {
        clearInterval(timer);
        void this.serial(async () => {
          if (this.handle === h && this.running.size === 0) {
            this.log('the adopted tasks ended: releasing the lock');
            await this.releaseHandle();
          }
        });
      }
    }, 500);
  }

  private onWatch(state: LockState, cause: string): void {
    if (this.disposed) {
      return;
    }
    const prev = this.state;
    this.state = state;
    if (this.describe(prev) !== this.describe(state) || cause.startsWith('holder-')) {
      this.log(`lock ${this.describe(state)} (${cause})`);
    }
    if (!this.isHolder) {
      if (state.state === 'held' && state.holder.record) {
        const rec = state.holder.record;
        if (this.lastHolder?.token !== rec.token) {
          this.freeSeenAt = undefined;
        }
        // A dead holder whose tasks keep the lock needs nothing here: the engine's watcher follows the tasks.
        this.lastHolder = rec;
      } else if (state.state === 'free' || state.state === 'stale') {
        this.considerFailover(state, cause);
      }
    }
    this.host.changed();
  }

  /**
   * A holder that released on purpose (a window whose user stopped the tasks) leaves the lock free and
   * nobody starts anything. A dead holder (its process gone), a stale lock, or a CLI run that ended fails
   * over: one waiting window takes the lock and starts the tasks.
   */
  private considerFailover(state: LockState, cause: string): void {
    const prev = this.lastHolder;
    if (!prev && state.state !== 'stale') {
      return;
    }
    if (!this.settings.failover || !this.host.trusted()) {
      this.forgetHolder();
      this.log(`not failing over: ${!this.settings.failover ? 'taskLock.failover is off' : 'the workspace is not trusted'}`);
      return;
    }
    if (state.state === 'free' && prev && prev.kind === 'vscode' && isAlive(prev)) {
      // A window that exits removes its lock a moment before its process ends, without a goodbye; a window
      // whose user stopped the tasks says goodbye and lives on. Look again shortly before deciding.
      this.freeSeenAt ??= Date.now();
      if (cause === 'holder-released' || cause === 'holder-handoff' || Date.now() - this.freeSeenAt > EXIT_GRACE_MS) {
        this.forgetHolder();
        this.log(`the holder ${prev.label} (pid ${prev.pid}) released the lock: not starting anything`);
      } else {
        this.lookAgain(EXIT_RECHECK_MS);
      }
      return;
    }
    this.forgetHolder();
    void this.serial(async () => {
      if (this.isHolder || this.disposed) {
        return;
      }
      this.log(`failover: the holder ${prev ? `${prev.kind} ${prev.label} (pid ${prev.pid})` : ''} is gone`);
      if (this.settings.autoStart) {
        await this.acquireAndStart('failover');
      } else {
        await this.acquire('failover (taskLock.autoStart is off: starting nothing)');
      }
    });
  }

  private forgetHolder(): void {
    this.lastHolder = undefined;
    this.freeSeenAt = undefined;
    clearTimeout(this.recheck);
  }

  private lookAgain(ms: number): void {
    clearTimeout(this.recheck);
    this.recheck = setTimeout(() => {
      if (!this.isHolder && this.lock && !this.disposed) {
        this.onWatch(this.lock.inspect(), 'timer');
      }
    }, ms);
  }

  private async acquire(why: string): Promise<boolean> {
    if (!this.lock) {
      return false;
    }
    if (this.isHolder) {
      return true;
    }
    try {
      const r = await this.lock.tryAcquire({ kind: 'vscode', label: this.host.holderLabel });
      if (r.ok && this.disposed) {
        // This guard was replaced or removed while it waited: nothing here would ever release it.
        await r.handle.release();
        return false;
      }
      if (r.ok) {
        this.log(`took the lock: ${why}`);
        this.setHandle(r.handle);
        return true;
      }
      this.state = r.state;
      this.log(`could not take the lock (${why}): ${this.describe(r.state)}${r.reserved ? ' (reserved for a handoff)' : ''}`);
    } catch (err) {
      this.state = { state: 'error', message: errorMessage(err) };
      this.host.log.error(`[${this.folder.name}] ${errorMessage(err)}`);
    }
    this.host.changed();
    return false;
  }

  private setHandle(h: LockHandle): void {
    this.handle = h;
    this.forgetHolder();
    this.state = { state: 'mine', holder: { record: h.record, sameHost: true, heartbeatAgeMs: 0 } };
    h.onCompromised((err) => this.onCompromised(h, err));
    h.onHandoffRequest((req) => void this.onHandoff(h, req));
    this.syncTasks();
    this.host.changed();
  }

  /** Starts the guarded tasks not running yet; the lock is taken first. */
  async startGuarded(why: string): Promise<boolean> {
    return this.serial(() => this.acquireAndStart(why));
  }

  private async acquireAndStart(why: string): Promise<boolean> {
    if (!(await this.acquire(why))) {
      return false;
    }
    const missing = missingTasks(this.settings.tasks, [...this.running.values()].map((r) => r.name));
    if (missing.length === 0) {
      this.log('every guarded task runs already');
      return true;
    }
    const all = await this.knownTasks();
    let list = all;
    if (missing.some((name) => !all.some((t) => t.name === name && this.owns(t)))) {
      // The cached list may predate the task (a provider that came late): look once more.
      this.forgetTasks();
      list = await this.knownTasks();
    }
    for (const name of missing) {
      const task = list.find((t) => t.name === name && this.owns(t));
      if (!task) {
        this.host.log.warn(`[${this.folder.name}] no task labelled “${name}” (taskLock.tasks); found: ${list.map((t) => t.name).join(', ') || 'none'}`);
        continue;
      }
      try {
        const exec = await vscode.tasks.executeTask(task);
        if (!this.running.has(exec)) {
          this.running.set(exec, { name });
        }
        this.log(`started ${name} (${why})`);
      } catch (err) {
        this.host.log.error(`[${this.folder.name}] cannot start ${name}: ${errorMessage(err)}`);
      }
    }
    if (this.running.size === 0) {
      this.log('no guarded task could be started: releasing the lock');
      await this.releaseHandle();
      return false;
    }
    this.host.changed();
    return true;
  }

  /**
   * The workspace's tasks, fetched once ahead of need: listing them takes a good part of a failover's time
   * in a follower. Tasks.json changes drop the list (see Guards).
   */
  private knownTasks(): Promise<vscode.Task[]> {
    this.tasksCache ??= Promise.resolve(vscode.tasks.fetchTasks()).catch((err: unknown) => {
      this.host.log.error(`[${this.folder.name}] cannot list tasks: ${errorMessage(err)}`);
      this.tasksCache = undefined;
      return [];
    });
    return this.tasksCache;
  }

  forgetTasks(): void {
    this.tasksCache = undefined;
  }

  /** True when this guard is the one for the task (the caller matched labels and folders already). */
  owns(task: vscode.Task): boolean {
    if (!this.settings.tasks.includes(task.name)) {
      return false;
    }
    const scope = task.scope;
    return typeof scope === 'object' && scope !== null && 'uri' in scope ? scope.uri.toString() === this.folder.uri.toString() : true;
  }

  /** A guarded task of this folder started in this window, by anyone. */
  onTaskStarted(exec: vscode.TaskExecution): void {
    const name = exec.task.name;
    if (this.isHolder) {
      if (!this.running.has(exec)) {
        this.running.set(exec, { name });
        this.log(`${name} started in this window, the holder`);
        this.host.changed();
      }
      return;
    }
    const s = this.state;
    // This window's own record (a release in progress) is no other holder: the task queues behind the release.
    if ((s.state === 'held' || s.state === 'mine') && s.holder.record?.pid !== process.pid) {
      this.stopIntruder(exec, s.holder);
      return;
    }
    if (s.state === 'error' || !this.lock) {
      // Without a usable lock there is nothing to guard with: let it run and say why.
      this.host.log.warn(`[${this.folder.name}] ${name} runs unguarded: ${this.createError ?? (s.state === 'error' ? s.message : '')}`);
      return;
    }
    // The lock looks free or stale: take it, then let the task run; if someone else was faster, stop it.
    this.running.set(exec, { name });
    void this.serial(async () => {
      if (await this.acquire(`${name} was started in this window`)) {
        if (this.running.size === 0) {
          // It ended before the lock was taken: holding the lock for nothing would block the other windows.
          this.log(`${name} ended before the lock was taken: releasing it`);
          await this.releaseHandle();
        }
        return;
      }
      const now = this.state;
      if (now.state === 'error') {
        // The lock cannot be used (its folder, say): the task is not to blame, let it run and say why.
        this.host.log.warn(`[${this.folder.name}] ${name} runs unguarded: ${now.message}`);
        return;
      }
      this.running.delete(exec);
      this.stopIntruder(exec, now.state === 'free' ? { sameHost: false, heartbeatAgeMs: 0, unknownReason: this.describe(now) } : now.holder);
    });
  }

  private stopIntruder(exec: vscode.TaskExecution, holder: HolderView): void {
    exec.terminate();
    const h = summarize(holder);
    this.log(`terminated ${exec.task.name}: it runs in ${h.description}`);
    this.host.intruderStopped(this, exec.task.name, h);
  }

  /**
   * The pre-spawn gate of the `taskLock` task type: may this window start `name` now? It takes the lock when
   * it is free or stale; it says no, naming the holder, when another holder lives.
   */
  async admit(name: string): Promise<{ ok: true } | { ok: false; holder: HolderSummary }> {
    return this.serial(async () => {
      if (this.isHolder || !this.lock || this.state.state === 'error') {
        return { ok: true as const };
      }
      const admitted = await this.acquire(`${name} asked to start (gated task)`);
      // acquire() updated the state: TypeScript still narrows it from the check above.
      const now = this.state as LockState;
      // An unusable lock (its folder, say) is not the task's fault: it runs unguarded, as elsewhere.
      if (admitted || now.state === 'error') {
        return { ok: true as const };
      }
      const holder = now.state === 'held' || now.state === 'stale' || now.state === 'mine' ? summarize(now.holder) : { kind: 'unknown' as const, label: '?', tasks: [], description: this.describe(now) };
      this.log(`gate: ${name} not started: ${holder.description}`);
      return { ok: false as const, holder };
    });
  }

  /** A gated task's process: recorded like a task process reported by the editor. */
  recordProcess(name: string, pid: number): void {
    const entry = [...this.running.values()].find((r) => r.name === name && r.pid === undefined);
    if (entry) {
      entry.pid = pid;
      this.log(`${name} runs as pid ${pid}`);
      this.syncTasks();
    }
  }

  onTaskProcessStarted(exec: vscode.TaskExecution, pid: number): void {
    const r = this.running.get(exec);
    if (r) {
      r.pid = pid;
      this.log(`${r.name} runs as pid ${pid}`);
      this.syncTasks();
    }
  }

  onTaskEnded(exec: vscode.TaskExecution): void {
    const r = this.running.get(exec);
    if (!r) {
      return;
    }
    this.running.delete(exec);
    for (const w of this.endWaiters.splice(0)) {
      w();
    }
    this.log(`${r.name} ended`);
    if (this.isHolder) {
      this.syncTasks();
      if (this.running.size === 0 && !this.stopping) {
        void this.serial(async () => {
          if (this.running.size === 0 && !this.stopping && this.isHolder) {
            this.log('every guarded task ended: releasing the lock (other windows start nothing)');
            await this.releaseHandle();
          }
        });
      }
    }
    this.host.changed();
  }

  /** Records the running guarded processes in the lock, so it stays held while they live. */
  private syncTasks(): void {
    const h = this.handle;
    if (!h?.isHeld) {
      return;
    }
    const tasks: Array<{ name: string; pid: number }> = [];
    for (const r of this.running.values()) {
      // A re-attached execution has no pid event: keep what the adopted record says for that name.
      const pid = r.pid ?? h.record.tasks.find((t) => t.name === r.name)?.pid;
      if (pid !== undefined) {
        tasks.push({ name: r.name, pid });
      }
    }
    if (this.running.size === 0 && !this.stopping && h.tasksAlive()) {
      // Adopted tasks that this window cannot see as executions yet: keep them recorded.
      return;
    }
    h.setTasks(tasks);
  }

  /** Stop Guarded Tasks and Release. */
  async stopAndRelease(why: string): Promise<void> {
    await this.serial(async () => {
      if (await this.stopOwnTasks(why)) {
        await this.releaseHandle();
      } else {
        // Releasing now would let another window start a second copy.
        void vscode.window.showWarningMessage(vscode.l10n.t('Task Lock: the guarded tasks did not stop; this window keeps the lock.'));
      }
    });
  }

  /** Stops this window's guarded tasks; true when every one ended within STOP_WAIT_MS. */
  private async stopOwnTasks(why: string): Promise<boolean> {
    if (this.running.size === 0) {
      return this.stopAdoptedTasks(why);
    }
    this.stopping = true;
    try {
      this.log(`stopping ${[...this.running.values()].map((r) => r.name).join(', ')}: ${why}`);
      const deadline = Date.now() + STOP_WAIT_MS;
      // A task whose process has not started yet ignores terminate(): ask again until it ends.
      while (this.running.size > 0 && Date.now() < deadline) {
        for (const exec of this.running.keys()) {
          exec.terminate();
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, 500);
          function done(): void {
            clearTimeout(timer);
            resolve();
          }
          this.endWaiters.push(done);
        });
      }
      if (this.running.size > 0) {
        this.host.log.warn(`[${this.folder.name}] ${[...this.running.values()].map((r) => r.name).join(', ')} did not end within ${STOP_WAIT_MS / 1000} s`);
        return false;
      }
      return true;
    } finally {
      this.stopping = false;
    }
  }

  /**
   * Re-adopted tasks that the editor does not list as this window's executions can only be stopped by pid;
   * releasing while they run would let another window start a second copy.
   */
  private async stopAdoptedTasks(why: string): Promise<boolean> {
    const h = this.handle;
    if (!h?.tasksAlive()) {
      return true;
    }
    this.log(`stopping the adopted tasks ${h.record.tasks.map((t) => `${t.name} (pid ${t.pid})`).join(', ')}: ${why}`);
    for (const t of h.record.tasks) {
      if (isAlive(t)) {
        try {
          process.kill(t.pid, 'SIGTERM');
        } catch {
          // Ended meanwhile.
        }
      }
    }
    const deadline = Date.now() + STOP_WAIT_MS;
    while (h.tasksAlive() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return !h.tasksAlive();
  }

  private async releaseHandle(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h?.isHeld) {
      await h.release();
      this.log('released the lock');
    }
    if (this.lock) {
      this.state = this.lock.inspect();
    }
    this.host.changed();
  }

  private async onHandoff(h: LockHandle, req: HandoffRequest): Promise<void> {
    await this.serial(async () => {
      if (this.handle !== h || !h.isHeld) {
        req.refuse('it no longer holds the lock');
        return;
      }
      this.log(`handoff requested by ${req.requester.label} (pid ${req.requester.pid}): stopping the tasks and handing over`);
      if (!(await this.stopOwnTasks(`handing over to ${req.requester.label}`))) {
        req.refuse('its guarded tasks did not stop');
        return;
      }
      this.stopping = true;
      try {
        await req.accept();
        this.handle = undefined;
      } catch (err) {
        this.host.log.error(`[${this.folder.name}] could not hand over: ${errorMessage(err)}`);
        req.refuse(`it could not hand over (${errorMessage(err)})`);
        return;
      } finally {
        this.stopping = false;
      }
      this.log(`handed the lock over to ${req.requester.label} (pid ${req.requester.pid})`);
      void vscode.window.showInformationMessage(vscode.l10n.t('Task Lock: handed {0} over to {1}.', this.settings.tasks.join(', '), req.requester.label));
      if (this.lock) {
        this.state = this.lock.inspect();
      }
      this.host.changed();
    });
  }

  private onCompromised(h: LockHandle, err: Error): void {
    if (this.handle !== h) {
      return;
    }
    this.handle = undefined;
    this.host.log.error(`[${this.folder.name}] ${err.message}`);
    // Someone else may run the tasks now: never keep a second copy.
    void this.serial(() => this.stopOwnTasks('the lock was lost'));
    void vscode.window.showWarningMessage(vscode.l10n.t('Task Lock: the lock of {0} was taken or removed underneath this window; its guarded tasks were stopped.', this.folder.name));
    if (this.lock) {
      this.state = this.lock.inspect();
    }
    this.host.changed();
  }

  /** Take Over: asks the holder to hand over, then starts the tasks here. */
  async takeOver(): Promise<void> {
    const lock = this.lock;
    if (!lock) {
      return;
    }
    await this.serial(async () => {
      if (this.isHolder) {
        await this.acquireAndStart('Take Over (already the holder)');
        return;
      }
      this.log('Take Over: asking the holder to hand over');
      try {
        const h = await lock.requestHandoff({ kind: 'vscode', label: this.host.holderLabel }, { timeoutMs: STOP_WAIT_MS + 5_000 });
        this.log('Take Over: the holder handed over');
        this.setHandle(h);
      } catch (err) {
        const msg = errorMessage(err);
        this.log(`Take Over failed: ${msg}`);
        const now = lock.inspect();
        this.state = now;
        const dead = now.state === 'stale' || (now.state === 'held' && now.holder.record !== undefined && now.holder.sameHost && !isAlive(now.holder.record) && !now.holder.record.tasks.some((t) => isAlive(t)));
        if (dead) {
          const force = vscode.l10n.t('Reclaim and Take Over');
          void vscode.window.showWarningMessage(vscode.l10n.t('Task Lock: {0}', msg), force).then((a) => {
            if (a === force) {
              void this.forceTakeOver();
            }
          });
        } else {
          const code = err instanceof LockError ? err.code : '';
          void vscode.window.showWarningMessage(code === 'handoff-no-answer' ? vscode.l10n.t('Task Lock: the holder did not answer. {0}', msg) : vscode.l10n.t('Task Lock: {0}', msg));
        }
        this.host.changed();
        return;
      }
      await this.acquireAndStart('Take Over');
    });
  }

  private async forceTakeOver(): Promise<void> {
    await this.reclaim();
    await this.startGuarded('forced Take Over');
  }

  async reclaim(): Promise<string> {
    const lock = this.lock;
    if (!lock) {
      return this.createError ?? '';
    }
    return this.serial(async () => {
      try {
        const r = await lock.reclaim();
        this.state = lock.inspect();
        this.host.changed();
        const msg = r.result === 'reclaimed' ? vscode.l10n.t('removed the stale lock') : r.result === 'nothing' ? vscode.l10n.t('there was no stale lock') : vscode.l10n.t('the holder is alive: {0}', this.describe(r.state));
        this.log(`reclaim: ${msg}`);
        return msg;
      } catch (err) {
        this.host.log.error(`[${this.folder.name}] reclaim: ${errorMessage(err)}`);
        return errorMessage(err);
      }
    });
  }

  describe(s: LockState): string {
    switch (s.state) {
      case 'free':
        return 'free';
      case 'error':
        return `error: ${s.message}`;
      case 'stale':
        return `stale (${s.reason}), was ${describeHolder(s.holder)}`;
      default:
        return `${s.state} by ${describeHolder(s.holder)}`;
    }
  }

  private log(msg: string): void {
    this.host.log.info(`[${this.folder.name}] ${msg}`);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.busy.then(fn, fn);
    this.busy = p.catch(() => undefined);
    return p;
  }

  /** Deactivation. A lock kept alive by running tasks stays recorded; without tasks it is released. */
  async shutdown(): Promise<void> {
    this.dispose();
    const h = this.handle;
    if (h?.isHeld && this.running.size === 0) {
      await h.release();
    }
    // With tasks running, the engine leaves the lock to them when this process exits: they keep it held.
  }

  /** The guard is replaced or removed (settings changed): its lock is let go, running tasks are left alone. */
  async stopWatching(): Promise<void> {
    this.dispose();
    // Behind whatever is under way (a failover taking the lock, say), so nothing it takes is left behind.
    await this.serial(async () => {
      const h = this.handle;
      this.handle = undefined;
      if (h?.isHeld) {
        await h.release();
      }
    });
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.recheck);
    this.watcher?.dispose();
    this.watcher = undefined;
  }
}
