// The guarded tasks of one folder running in this window: the table of executions and their pids, writing
// it into the lock's record, and stopping them (by execution, or by pid for adopted tasks).
import * as vscode from 'vscode';
import { LockHandle, endTasks, groupLedBy, processStart, signalTask, stopTasks, type TaskRef } from '../lock';
import { GATED_TYPE } from './gatedTask';

/** How long a task signalled to stop may take before terminate() (which closes its terminal) follows. */
const SIGNAL_GRACE_MS = 3_000;
/**
 * How long the owner waits for its tasks to stop before it hands over or releases anyway. A requester waits
 * TAKE_OVER_WAIT_MS (lock/handoff.ts) for the answer: that one must stay the longer.
 */
export const STOP_WAIT_MS = 10_000;
/** Adopted tasks that send no end event here are looked at this often (in /proc). */
const ADOPTED_POLL_MS = 500;

/** A folder's log: every line carries the folder's name. */
export interface FolderLog {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** How long a terminal may take to tell its pid at startup before it is left out of re-adoption. */
const TERMINAL_PID_WAIT_MS = 2_000;

/** A terminal's process id, or undefined when it does not tell within TERMINAL_PID_WAIT_MS. */
export function terminalPid(t: vscode.Terminal): Promise<number | undefined> {
  return Promise.race([t.processId, new Promise<undefined>((r) => setTimeout(() => r(undefined), TERMINAL_PID_WAIT_MS))]);
}

/** The process ids of this window's terminals: re-adoption matches them against the recorded tasks. */
export async function terminalPids(): Promise<Set<number>> {
  const pids = await Promise.all(vscode.window.terminals.map(terminalPid));
  return new Set(pids.filter((p): p is number => p !== undefined));
}

/** Resolves when the execution has ended (its end event), or after `ms` at the latest. */
export function endOf(exec: vscode.TaskExecution, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      sub.dispose();
      resolve();
    };
    const timer = setTimeout(done, ms);
    const sub = vscode.tasks.onDidEndTask((e) => e.execution === exec && done());
  });
}

export class RunningTasks {
  /** Each execution's label, and its process (pid, and start time once known: signals check both). */
  private readonly table = new Map<vscode.TaskExecution, { name: string; pid?: number; start?: string | null }>();
  /** Gated tasks' processes by pid, recorded before they run (their execution may not be tracked yet). */
  private readonly gated = new Map<number, string>();
  private endWaiters: Array<() => void> = [];
  /** Set while this window stops its own tasks (Stop, handoff, compromise): their end is not a user's stop. */
  stopping = false;

  /** `mark`: the value of MARK_VAR in this window's task terminals (and gated tasks), recorded with each task. */
  constructor(
    private readonly log: FolderLog,
    private readonly mark: string,
  ) {}

  get size(): number {
    return this.table.size;
  }

  has(exec: vscode.TaskExecution): boolean {
    return this.table.has(exec);
  }

  /** The labels running, each once. */
  names(): string[] {
    return [...new Set([...this.table.values()].map((r) => r.name))];
  }

  executions(): vscode.TaskExecution[] {
    return [...this.table.keys()];
  }

  /** `pid` when it is known already (an execution that ran before this window guarded its label). */
  add(exec: vscode.TaskExecution, name: string, pid?: number): void {
    if (!this.table.has(exec)) {
      this.table.set(exec, { name, pid, ...(pid === undefined ? {} : { start: processStart(pid) }) });
    }
  }

  delete(exec: vscode.TaskExecution): void {
    this.table.delete(exec);
  }

  /** Forgets the executions `keep` rejects (labels no longer guarded); they run on, unguarded. */
  retain(keep: (exec: vscode.TaskExecution) => boolean): string[] {
    const dropped: string[] = [];
    for (const [exec, r] of this.table) {
      if (!keep(exec)) {
        this.table.delete(exec);
        dropped.push(r.name);
      }
    }
    if (dropped.length > 0) {
      this.log.info(`no longer guarded, left running: ${dropped.join(', ')}`);
    }
    return dropped;
  }

  /** Notes a task's process id; true when the execution is one of ours. */
  setPid(exec: vscode.TaskExecution, pid: number): boolean {
    const r = this.table.get(exec);
    if (r) {
      r.pid = pid;
      r.start = processStart(pid);
      this.log.info(`${r.name} runs as pid ${pid}`);
    }
    return r !== undefined;
  }

  /** A gated task's process, known by name only (its execution has no pid event). */
  setPidByName(name: string, pid: number): boolean {
    const r = [...this.table.values()].find((x) => x.name === name && x.pid === undefined);
    if (r) {
      r.pid = pid;
      this.log.info(`${name} runs as pid ${pid}`);
    }
    return r !== undefined;
  }

  addGated(name: string, pid: number): void {
    this.gated.set(pid, name);
  }

  /** True when the pid was a gated task's process. */
  removeGated(pid: number): boolean {
    return this.gated.delete(pid);
  }

  /** An execution ended; its label if it was ours. */
  ended(exec: vscode.TaskExecution): string | undefined {
    const r = this.table.get(exec);
    if (!r) {
      return undefined;
    }
    this.table.delete(exec);
    for (const w of this.endWaiters.splice(0)) {
      w();
    }
    return r.name;
  }

  /**
   * Records the running guarded processes in the lock, so it stays held while they live. `exact`: the table
   * is the whole truth (tasks left the guard), so no adopted task is kept recorded beside it.
   */
  syncTo(h: LockHandle | undefined, exact = false): void {
    if (!h?.isHeld) {
      return;
    }
    const tasks: Array<{ name: string; pid: number; mark?: string }> = [];
    for (const r of this.table.values()) {
      // A re-attached execution has no pid event: keep what the adopted record says for that name.
      const adopted = r.pid === undefined ? h.record.tasks.find((t) => t.name === r.name) : undefined;
      if (adopted !== undefined) {
        tasks.push(adopted);
      } else if (r.pid !== undefined) {
        tasks.push({ name: r.name, pid: r.pid, mark: this.mark });
      }
    }
    for (const [pid, name] of this.gated) {
      if (!tasks.some((t) => t.pid === pid)) {
        tasks.push({ name, pid, mark: this.mark });
      }
    }
    if (!exact && this.table.size === 0 && this.gated.size === 0 && !this.stopping && h.tasksAlive()) {
      // Adopted tasks that this window cannot see as executions yet: keep them recorded.
      return;
    }
    h.setTasks(tasks);
  }

  /** Stops this window's guarded tasks (or the adopted ones of `h`); true when every one ended in time. */
  async stopAll(why: string, h: LockHandle | undefined): Promise<boolean> {
    if (this.table.size === 0) {
      return this.stopAdopted(why, h);
    }
    this.stopping = true;
    try {
      this.log.info(`stopping ${this.names().join(', ')}: ${why}`);
      const deadline = Date.now() + STOP_WAIT_MS;
      // A task with a known process is stopped as a user's Ctrl+C would stop it: its terminal stays, with its
      // output and exit (terminate() closes the terminal, and with it what the task printed). A gated task's
      // process is the extension's own, and one without a pid yet has nothing to signal: terminate() then.
      const signalled = new Set<vscode.TaskExecution>();
      const stopped: TaskRef[] = [];
      for (const [exec, r] of this.table) {
        // The editor reported this pid as its task's: first-hand, checked by start time (a pid reused since the
        // task ended is not signalled) and never a process this one stands on (orphan.ts). One without a start
        // time (gone, or hidden, when its pid came) gets terminate().
        const ref: TaskRef = { name: r.name, pid: r.pid ?? 0, start: r.start ?? null, ...(r.pid !== undefined && groupLedBy(r.pid) ? { group: true } : {}) };
        if (r.pid !== undefined && exec.task.definition.type !== GATED_TYPE && signalTask(ref, 'SIGTERM', true)) {
          stopped.push(ref);
          signalled.add(exec);
        }
      }
      const terminateAfter = Date.now() + SIGNAL_GRACE_MS;
      // A task whose process has not started yet ignores terminate(): ask again until it ends.
      while (this.table.size > 0 && Date.now() < deadline) {
        for (const exec of this.table.keys()) {
          if (!signalled.has(exec) || Date.now() >= terminateAfter) {
            exec.terminate();
          }
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
      if (this.table.size > 0) {
        this.log.warn(`${this.names().join(', ')} did not end within ${STOP_WAIT_MS / 1000} s`);
        return false;
      }
      // Its shell ended: what it started (a server that takes its time over SIGTERM) must end too before the
      // lock goes, or the next holder's copy starts beside it.
      if (!(await endTasks(stopped, SIGNAL_GRACE_MS, true))) {
        this.log.warn(`processes of ${this.names().join(', ') || 'the stopped tasks'} did not end, even after SIGKILL`);
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
  private async stopAdopted(why: string, h: LockHandle | undefined): Promise<boolean> {
    if (!h?.tasksAlive()) {
      return true;
    }
    this.log.info(`stopping the adopted tasks ${h.record.tasks.map((t) => `${t.name} (pid ${t.pid})`).join(', ')}: ${why}`);
    // As a listed task is stopped: SIGTERM to its process group (a shell's children too), SIGKILL to what remains.
    // First-hand: re-adoption matched them to this window's own terminals (folderLock.ts, tryReadopt).
    return (await stopTasks(h.record.tasks, true)) && !h.tasksAlive();
  }

  /**
   * Adopted tasks that the editor does not list as executions of this window send no end event here: their
   * processes are looked at (in /proc) instead; `onEnded` runs once when the last one ends. Stops by itself
   * when `stillFollowing` turns false or executions of ours appear.
   */
  followAdopted(h: LockHandle, stillFollowing: () => boolean, onEnded: () => void): vscode.Disposable {
    const timer = setInterval(() => {
      if (!stillFollowing() || !h.isHeld || this.table.size > 0) {
        clearInterval(timer);
        return;
      }
      if (!h.tasksAlive()) {
        clearInterval(timer);
        onEnded();
      }
    }, ADOPTED_POLL_MS);
    return { dispose: () => clearInterval(timer) };
  }
}
