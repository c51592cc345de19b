import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { MARK_VAR, canGate, gatedCommand, onExit, openGate, processStart } from '../lock';
import type { GateLine } from './events';
import type { FolderGuard } from './guard';

/** The `taskLock` task type: tasks.json entries of this type are checked against the lock before they spawn. */
export const GATED_TYPE = 'taskLock';

interface GatedDefinition extends vscode.TaskDefinition {
  command: string;
  args?: string[];
  cwd?: string;
  env?: Record<string, string>;
}

function isGated(d: vscode.TaskDefinition): d is GatedDefinition {
  return d.type === GATED_TYPE && typeof d.command === 'string' && (d.args === undefined || (Array.isArray(d.args) && d.args.every((a) => typeof a === 'string')));
}

/**
 * VS Code gives no veto before a shell or process task spawns; a CustomExecution runs our code first. So a
 * task of this type asks the folder's guard before its process exists: in a follower it never starts.
 * Its process is a child of the extension host (with pipes, not a pty): an extension host crash ends it.
 */
export function registerGatedTasks(
  guardOf: (task: vscode.Task) => FolderGuard | undefined,
  log: vscode.LogOutputChannel,
  lineFor: (task: string, line: GateLine) => string,
  /** The window's mark (MARK_VAR), in each gated process's environment as in its task terminals'. */
  mark: string,
): vscode.Disposable {
  // The exit registry runs this before the locks' phase, which then sees the children gone.
  installExitHook();
  return vscode.tasks.registerTaskProvider(GATED_TYPE, {
    provideTasks: () => [],
    resolveTask(task) {
      const def = task.definition;
      if (!isGated(def)) {
        log.warn(`a ${GATED_TYPE} task needs "command" (a string) and optional "args" (strings): ${task.name}`);
        return undefined;
      }
      const scope = task.scope ?? vscode.TaskScope.Workspace;
      const folder = typeof scope === 'object' ? scope.uri.fsPath : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      const resolved: vscode.Task = new vscode.Task(
        def,
        scope,
        task.name,
        GATED_TYPE,
        // The guard is looked up when the task starts, not now: settings may change the folder's guard meanwhile.
        new vscode.CustomExecution((): Promise<vscode.Pseudoterminal> => Promise.resolve(new GatedTerminal(() => guardOf(resolved), task.name, folder ?? '', def, path.resolve(folder ?? process.cwd(), def.cwd ?? '.'), log, lineFor, mark))),
        task.problemMatchers,
      );
      resolved.isBackground = task.isBackground;
      resolved.presentationOptions = task.presentationOptions;
      resolved.group = task.group;
      return resolved;
    },
  });
}

class GatedTerminal implements vscode.Pseudoterminal {
  private readonly written = new vscode.EventEmitter<string>();
  private readonly closed = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.written.event;
  readonly onDidClose = this.closed.event;
  private child: ChildProcess | undefined;
  private ended = false;

  constructor(
    private readonly guardNow: () => FolderGuard | undefined,
    private readonly name: string,
    private readonly folder: string,
    private readonly def: GatedDefinition,
    private readonly cwd: string,
    private readonly log: vscode.LogOutputChannel,
    /** The words of a line about the task (src/ui's): this layer has none. */
    private readonly lineFor: (task: string, line: GateLine) => string,
    private readonly mark: string,
  ) {}

  open(): void {
    void this.start();
  }

  private async start(): Promise<void> {
    // The guard at this moment, kept for the process' whole life: it is the one that records it.
    const guard = this.guardNow();
    const gate = guard ? await guard.gate.admit(this.name) : { ok: true as const };
    if (this.ended) {
      return;
    }
    if (!gate.ok) {
      // Where the holder runs it, a start here (often VS Code starting a dependency of another task) is served
      // by that copy: ending successfully lets the dependent tasks run here (#10 D3). Elsewhere it failed.
      const runsThere = gate.holder.tasks.some((t) => t.name === this.name);
      this.print(this.lineFor(this.name, { kind: runsThere ? 'stands-in' : 'refused', holder: gate.holder }));
      guard?.gate.refused(this.name, gate.holder);
      this.finish(runsThere ? 0 : 75);
      return;
    }
    // Without args the command is a command line for the shell, as a shell task's would be.
    const argv = this.def.args === undefined ? ['/bin/sh', '-c', this.def.command] : [this.def.command, ...this.def.args];
    const options = { cwd: this.cwd, env: { ...process.env, ...this.def.env, [MARK_VAR]: this.mark }, detached: true };
    // Behind the gate (#7 item 5): an extension host killed between this spawn and the record closes
    // the gate's pipe, and the command never runs, instead of running unrecorded in its own process group.
    const child = canGate
      ? spawn(gatedCommand(argv).file, gatedCommand(argv).args, { ...options, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] })
      : spawn(this.def.command, this.def.args ?? [], { ...options, shell: this.def.args === undefined });
    this.child = child;
    const out = (d: Buffer): void => this.written.fire(d.toString('utf8').replace(/\r?\n/g, '\r\n'));
    child.stdout?.on('data', out);
    child.stderr?.on('data', out);
    child.on('error', (err) => {
      this.print(this.lineFor(this.name, { kind: 'spawn-failed', detail: err.message }));
      this.finish(1);
    });
    // 'close', not 'exit': the last lines may still be in the pipes when the process exits.
    child.on('close', (code, signal) => {
      if (child.pid !== undefined) {
        gatedChildren.delete(child.pid);
        guard?.gate.forgetProcess(child.pid);
      }
      this.finish(code ?? (signal ? 128 : 1));
    });
    if (child.pid === undefined) {
      // It did not spawn: 'error' says why.
      return;
    }
    gatedChildren.set(child.pid, { name: this.name, folder: this.folder });
    this.log.info(`[gate] ${this.name} admitted: pid ${child.pid}`);
    try {
      guard?.gate.recordProcess(this.name, child.pid);
    } catch (err) {
      // Unrecorded, it would run unguarded once this window died: it does not start at all.
      this.print(this.lineFor(this.name, { kind: 'not-recorded', detail: err instanceof Error ? err.message : String(err) }));
      child.kill('SIGKILL');
      return;
    }
    openGate(child);
  }

  private print(line: string): void {
    this.written.fire(`${line}\r\n`);
  }

  private finish(code: number): void {
    if (!this.ended) {
      this.ended = true;
      this.closed.fire(code);
    }
  }

  close(): void {
    this.ended = true;
    const c = this.child;
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        // Its own process group: a shell's children end with it.
        process.kill(-c.pid, 'SIGTERM');
      } catch {
        c.kill('SIGTERM');
      }
    }
  }
}

/**
 * A gated task's process is a child of this extension host, in its own process group, and must end with
 * it: otherwise, being recorded in the lock, it would keep the lock held where no window can see or stop it.
 */
const gatedChildren = new Map<number, { name: string; folder: string }>();

/**
 * The process of a running `taskLock` task of this window, by label and folder: its execution reports no
 * pid, and a guard that comes later (its label guarded since) must still record it.
 */
export function gatedPid(name: string, folder: string): number | undefined {
  for (const [pid, g] of gatedChildren) {
    if (g.name === name && g.folder === folder) {
      return pid;
    }
  }
  return undefined;
}
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  onExit('children', () => {
    for (const pid of gatedChildren.keys()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // Briefly, so that the locks' phase sees them gone and releases the lock.
    const until = Date.now() + 200;
    while (Date.now() < until && [...gatedChildren.keys()].some((pid) => processStart(pid) !== null)) {
      // Busy wait: nothing asynchronous runs at exit.
    }
  });
}
