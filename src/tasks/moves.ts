// Moving the folder's tasks into this window from another holder: Take Over (the holder hands over), and an
// orphan's tasks moved (its window is gone: they are stopped here). The decisions are model/policy.ts's.
import { describeState, isAlive, orphanOf } from '../lock';
import { holderIsDead } from '../model/policy';
import type { GuardEvents } from './events';
import type { FolderLock } from './folderLock';
import type { FolderGuard } from './guard';
import { FolderLog, STOP_WAIT_MS } from './running';

export class Moves {
  constructor(
    private readonly guard: FolderGuard,
    private readonly lock: FolderLock,
    private readonly log: FolderLog,
    private readonly events: GuardEvents,
    /** Takes the lock if need be and starts the guarded tasks not running yet. */
    private readonly start: (why: string) => Promise<boolean>,
    /** Whether the workspace is trusted now: VS Code runs no task in Restricted Mode. */
    private readonly trusted: () => boolean,
  ) {}

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
          this.events.takeOverFailed(this.guard, { code: undefined, detail: describeState(this.lock.current), holderDead: false });
        }
        return;
      }
      this.log.info('Take Over: asking the holder to hand over');
      const r = await this.lock.requestHandoff(STOP_WAIT_MS + 5_000);
      if (!r.ok) {
        this.log.info(`Take Over failed: ${r.detail}`);
        this.events.takeOverFailed(this.guard, { code: r.code, detail: r.detail, holderDead: holderIsDead(this.lock.current, isAlive) });
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
