// Moving the folder's tasks into this window from another holder: Take Over (the holder hands over), and an
// orphan's tasks moved (its window is gone: they are stopped here). The decisions are model/policy.ts's.
import { TAKE_OVER_WAIT_MS, describeState, isAlive, orphanOf } from '../lock';
import { holderIsDead } from '../model/policy';
import type { Settings } from '../model/settings';
import { summarize, type HolderSummary } from '../model/status';
import type { GuardEvents } from './events';
import type { FolderLock } from './folderLock';
import type { FolderGuard } from './guard';
import type { FolderLog } from './running';

export class Moves {
  constructor(
    private readonly guard: FolderGuard,
    private readonly lock: FolderLock,
    private readonly log: FolderLog,
    private readonly events: GuardEvents,
    /** Takes the lock if need be and starts the guarded tasks not running yet. */
    private readonly start: (why: string) => Promise<boolean>,
    private readonly settings: () => Settings,
  ) {}

  /**
   * A guarded task started here while another holder runs it was stopped (or refused by its gate): what follows
   * is `taskLock.onConflict`'s. The new start wins (terminateOldest) by a Take Over, which starts the task here
   * once the holder's copy has stopped: never two copies. A `task-lock run`'s orphan is never stopped unasked.
   */
  conflict(name: string, holder: HolderSummary, notStarted: boolean): void {
    const policy = this.settings().onConflict;
    if (policy === 'terminateOldest' && !(holder.kind === 'cli' && holder.orphanedSince !== undefined)) {
      this.log.info(`${name} was started here: taking over at once (taskLock.onConflict is terminateOldest)`);
      this.events.intruderStopped(this.guard, name, holder, { notStarted, then: 'taking-over' });
      void this.takeOver();
    } else if (policy !== 'silent') {
      this.events.intruderStopped(this.guard, name, holder, { notStarted, then: policy === 'warn' ? 'nothing' : 'offer-take-over' });
    }
  }

  async takeOver(): Promise<void> {
    if (!this.lock.lock) {
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
