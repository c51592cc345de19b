// A folder guard's side of the `taskLock` task type's pre-spawn gate (gatedTask.ts): admitting a start,
// recording the process before its gate opens, forgetting it, and a refusal (taskLock.onConflict's to answer).
import type { HolderSummary } from '../model/status';
import type { FolderLock } from './folderLock';
import type { FolderGuard } from './guard';
import type { RunningTasks } from './running';

export class GuardGate {
  constructor(
    private readonly guard: FolderGuard,
    private readonly lock: FolderLock,
    private readonly running: RunningTasks,
  ) {}

  /** May this window start `name` now? (FolderLock.admit, behind the folder's other lock operations) */
  admit(name: string): Promise<{ ok: true } | { ok: false; holder: HolderSummary }> {
    return this.lock.serial(() => this.lock.admit(name));
  }

  /** A gated task's process, recorded before its gate opens (start event or not); throws when it cannot be. */
  recordProcess(name: string, pid: number): void {
    this.running.addGated(name, pid);
    this.running.setPidByName(name, pid);
    this.running.syncTo(this.lock.held);
  }

  /** A gated task's process ended. */
  forgetProcess(pid: number): void {
    if (this.running.removeGated(pid)) {
      this.running.syncTo(this.lock.held);
    }
  }

  /** The gate refused a `taskLock` task: it never started here; taskLock.onConflict decides what follows. */
  refused(name: string, holder: HolderSummary): void {
    this.guard.moves.conflict(name, holder, true);
  }
}
