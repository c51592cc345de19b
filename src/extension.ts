import * as vscode from 'vscode';
import type { FolderStatus } from './model/status';
import { Guards } from './tasks/guards';
import { setTerminalEnvironment, terminalMark } from './ui/cliOnPath';
import { registerCommands } from './ui/commands';
import { keepOffersIn } from './ui/folderOpenOffer';
import { notifications } from './ui/notify';
import { StatusBar } from './ui/statusBar';

export type { FolderStatus } from './model/status';

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
  const status = new StatusBar(() => g.status(), (s) => changed.fire(s));
  keepOffersIn(context.globalState);
  const mark = terminalMark(context);
  const g = new Guards(log, { ...notifications, changed: () => status.update() }, mark);
  guards = g;
  context.subscriptions.push(log, changed, status, ...registerCommands(g, log));
  // The first look at the locks does I/O: activation returns before it starts.
  const ready = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => {
      setTerminalEnvironment(context, log, mark);
      return g.refresh();
    })
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
