import * as vscode from 'vscode';
import { Guards } from './tasks/guards';
import { registerCommands } from './ui/commands';
import { notifyIntruder } from './ui/notify';
import type { FolderStatus } from './ui/status';
import { StatusBar } from './ui/statusBar';

export type { FolderStatus } from './ui/status';

/** What activate() returns: tests use it, and other extensions may. */
export interface TaskLockApi {
  readonly version: string;
  /** Every guarded folder's state now. */
  state(): FolderStatus[];
  readonly onDidChange: vscode.Event<FolderStatus[]>;
  /** Resolves when the folders' first look at their locks is done (and auto-started tasks were started). */
  readonly ready: Promise<void>;
  /** Milliseconds activate() took, for the README's figure. */
  readonly activationMs: number;
}

let guards: Guards | undefined;

export function activate(context: vscode.ExtensionContext): TaskLockApi {
  const t0 = performance.now();
  const version = String(context.extension.packageJSON.version ?? '0.0.0');
  const log = vscode.window.createOutputChannel('Task Lock', { log: true });
  const changed = new vscode.EventEmitter<FolderStatus[]>();
  const status = new StatusBar();
  let contextKeys = '';
  // Coalesces bursts of changes into one render per tick.
  let scheduled = false;
  const render = (): void => {
    if (scheduled) {
      return;
    }
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const s = g.status();
      status.render(s);
      // The context keys behind the commands' enablement (package.json): set only when they change.
      const stale = s.some((f) => f.phase === 'stale');
      const holder = s.some((f) => f.phase === 'holder');
      const keys = `${stale}:${holder}`;
      if (keys !== contextKeys) {
        contextKeys = keys;
        void vscode.commands.executeCommand('setContext', 'taskLock.stale', stale);
        void vscode.commands.executeCommand('setContext', 'taskLock.holder', holder);
      }
      changed.fire(s);
    });
  };
  const g = new Guards(log, { changed: render, intruderStopped: notifyIntruder });
  guards = g;
  context.subscriptions.push(log, changed, status, ...registerCommands(g, log));
  // The first look at the locks does I/O: activation returns before it starts.
  const ready = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => g.refresh())
    .catch((err: unknown) => log.error(`startup: ${String(err)}`));
  const activationMs = performance.now() - t0;
  log.info(`activated in ${activationMs.toFixed(1)} ms (extension host pid ${process.pid}, ${vscode.workspace.isTrusted ? 'trusted' : 'untrusted'} workspace)`);
  return { version, state: () => g.status(), onDidChange: changed.event, ready, activationMs };
}

export async function deactivate(): Promise<void> {
  const g = guards;
  guards = undefined;
  await g?.shutdown();
}
