// Moving the folder's tasks into this window from another holder: Take Over (the holder hands over), and an
// orphan's tasks moved (its window is gone: they are stopped here). The decisions are model/policy.ts's.
import { TAKE_OVER_WAIT_MS, askHolderToStart, describeState, isAlive, orphanOf, errorMessage, type HandoffRequest, type LockHandle, type StartRequest } from '../lock';
import { missingTasks } from '../model/match';
import { holderIsDead } from '../model/policy';
import type { Settings } from '../model/settings';
import { summarize, type FolderStatus, type HolderSummary } from '../model/status';
import type { GuardEvents } from './events';
import type { FolderLock } from './folderLock';
import type { FolderGuard } from './guard';
import type { FolderLog, RunningTasks } from './running';

/** What Moves needs of its folder's guard. */
export interface MoveParts {
  guard: FolderGuard;
  lock: FolderLock;
  log: FolderLog;
  events: GuardEvents;
  /** How this window names itself to the holder. */
  label: string;
  /** Takes the lock if need be and starts the guarded tasks not running yet. */
  start(why: string): Promise<boolean>;
  /** Starts these guarded labels here; the caller holds the lock. */
  startNames(names: string[], why: string): Promise<void>;
  /** The guarded tasks running in this window. */
  running: RunningTasks;
  settings(): Settings;
  /** Whether the workspace is trusted now. */
  trusted(): boolean;
}

export class Moves {
  private readonly guard: FolderGuard;
  private readonly lock: FolderLock;
  private readonly log: FolderLog;
  private readonly events: GuardEvents;
  private readonly start: (why: string) => Promise<boolean>;
  private readonly settings: () => Settings;
  /** Whether the workspace is trusted now: VS Code runs no task in Restricted Mode. */
  private readonly trusted: () => boolean;

  /** The last start stopped here (FolderStatus.lastStop): its notification may be gone by the time it is wanted. */
  lastStop: FolderStatus['lastStop'];

  constructor(private readonly parts: MoveParts) {
    ({ guard: this.guard, lock: this.lock, log: this.log, events: this.events, start: this.start, settings: this.settings, trusted: this.trusted } = parts);
  }

  /**
   * A guarded task started here while another holder runs it was stopped (or refused by its gate): what follows
   * is `taskLock.onConflict`'s. The new start wins (terminateOldest) by a Take Over, which starts the task here
   * once the holder's copy has stopped: never two copies. A `task-lock run`'s orphan is never stopped unasked.
   */
  conflict(name: string, holder: HolderSummary, notStarted: boolean): void {
    this.lastStop = { task: name, holder: holder.label, at: new Date().toISOString(), notStarted };
    const policy = this.settings().onConflict;
    if (policy !== 'terminateOldest' && holder.kind === 'vscode' && holder.orphanedSince === undefined && !holder.tasks.some((x) => x.name === name)) {
      // The holder does not run it: no copy runs anywhere, and only the holder may start one (#10 D4).
      void this.askHolder(name, holder, notStarted, policy);
      return;
    }
    if (policy === 'terminateOldest' && !(holder.kind === 'cli' && holder.orphanedSince !== undefined)) {
      this.log.info(`${name} was started here: taking over at once (taskLock.onConflict is terminateOldest)`);
      this.events.intruderStopped(this.guard, name, holder, { notStarted, then: 'taking-over' });
      void this.takeOver();
    } else if (policy !== 'silent') {
      this.events.intruderStopped(this.guard, name, holder, { notStarted, then: policy === 'warn' ? 'nothing' : 'offer-take-over' });
    }
  }

  /** Asks the holder to start `name`, which runs nowhere; says what came of it, or falls back to the usual notice. */
  private async askHolder(name: string, holder: HolderSummary, notStarted: boolean, policy: Settings['onConflict']): Promise<void> {
    const lock = this.lock.lock;
    const a = lock ? await askHolderToStart(lock, { kind: 'vscode', label: this.parts.label }, [name], TAKE_OVER_WAIT_MS) : { ok: false as const, reason: 'no lock' };
    if (a.ok && a.started.includes(name)) {
      this.log.info(`${name} runs nowhere: ${holder.label} (the holder) started it on this window's request`);
      if (policy !== 'silent') {
        this.events.intruderStopped(this.guard, name, holder, { notStarted, then: 'started-in-holder' });
      }
      return;
    }
    this.log.info(`asked ${holder.label} to start ${name}, which runs nowhere: ${a.ok ? 'it did not start it' : a.reason}`);
    if (policy !== 'silent') {
      this.events.intruderStopped(this.guard, name, holder, { notStarted, then: policy === 'warn' ? 'nothing' : 'offer-take-over' });
    }
  }

  /** As the holder: another window or a `task-lock run --take-over` asks for the lock. */
  async onHandoff(h: LockHandle, req: HandoffRequest): Promise<void> {
    await this.lock.serial(async () => {
      if (this.lock.held !== h) {
        req.refuse('it no longer holds the lock');
        return;
      }
      this.log.info(`handoff requested by ${req.requester.label} (pid ${req.requester.pid}): stopping the tasks and handing over`);
      if (!(await this.parts.running.stopAll(`handing over to ${req.requester.label}`, h))) {
        req.refuse('its guarded tasks did not stop');
        return;
      }
      this.parts.running.stopping = true;
      try {
        await req.accept();
        this.lock.drop(h);
      } catch (err) {
        this.log.error(`could not hand over: ${errorMessage(err)}`);
        req.refuse(`it could not hand over (${errorMessage(err)})`);
        return;
      } finally {
        this.parts.running.stopping = false;
      }
      this.log.info(`handed the lock over to ${req.requester.label} (pid ${req.requester.pid})`);
      this.events.handedOver(this.guard, this.settings().tasks, req.requester);
      this.lock.refresh();
    });
  }

  /** As the holder: a follower asks this window to start guarded tasks that run nowhere (#10 D4). */
  onStartRequest(h: LockHandle, req: StartRequest): Promise<void> {
    return this.lock.serial(async () => {
      if (this.lock.held !== h) {
        req.answer([], 'it no longer holds the lock');
        return;
      }
      const missing = missingTasks(req.names.filter((n) => this.settings().tasks.includes(n)), this.parts.running.names());
      this.log.info(`${req.requester.label} (pid ${req.requester.pid}) asks this window to start ${req.names.join(', ')}`);
      if (missing.length > 0) {
        await this.parts.startNames(missing, `asked by ${req.requester.label}`);
      }
      const running = this.parts.running.names();
      const started = req.names.filter((n) => running.includes(n));
      req.answer(started, started.length === 0 ? 'it could not start them (its log says why)' : undefined);
      this.events.changed();
    });
  }

  /** Take Over of a dead holder: remove its lock, then start here. */
  async forceTakeOver(): Promise<void> {
    await this.lock.serial(() => this.lock.reclaim());
    await this.lock.serial(() => this.start('forced Take Over'));
  }

  async takeOver(): Promise<void> {
    if (!this.lock.lock) {
      return;
    }
    if (!this.trusted()) {
      // The holder would stop its tasks for a window that cannot run them.
      this.log.info('not taking over: the workspace is not trusted');
      return;
    }
    await this.lock.serial(async () => {
      if (this.lock.isHolder) {
        await this.start('Take Over (already the holder)');
        return;
      }
      const orphan = orphanOf(this.lock.look());
      if (orphan) {
        if (!(await this.fromOrphan(orphan.token, 'Take Over', true))) {
          const now = this.lock.current;
          const holder = now.state === 'held' || now.state === 'stale' ? summarize(now.holder) : undefined;
          this.events.takeOverFailed(this.guard, { error: { code: undefined, message: describeState(now) }, ...(holder ? { holder } : {}), holderDead: false, orphan: true });
        }
        return;
      }
      this.log.info('Take Over: asking the holder to hand over');
      const r = await this.lock.requestHandoff(TAKE_OVER_WAIT_MS);
      if (!r.ok) {
        this.log.info(`Take Over failed: ${r.error.message}`);
        this.events.takeOverFailed(this.guard, { error: r.error, ...(r.holder ? { holder: r.holder } : {}), holderDead: holderIsDead(this.lock.current, isAlive), orphan: false });
        this.events.changed();
        return;
      }
      this.log.info('Take Over: the holder handed over');
      this.lock.take(r.handle);
      await this.start('Take Over');
    });
  }

  /** Call inside the lock's `serial`. Stops the orphan's tasks, takes the lock and starts the guarded tasks here. */
  async fromOrphan(token: string, why: string, wait: boolean): Promise<boolean> {
    if (this.lock.isHolder || this.lock.isClosed) {
      return this.lock.isHolder;
    }
    if (!(await this.lock.takeFromOrphan(token, why, wait))) {
      return false;
    }
    await this.start(`moved here from a holder that is gone (${why})`);
    return true;
  }
}
