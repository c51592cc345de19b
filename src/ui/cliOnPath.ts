// What this window's terminals and task terminals get in their environment: the bundled `task-lock` CLI on PATH,
// with no install step, and the window's mark (MARK_VAR), which proves a task process to be one Task Lock may stop.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { l10n } from 'vscode';
import { launchers } from '../cli/launcher';
import { MARK_VAR } from '../lock';

/** Several windows write the same launcher at once: a reader must see the old one or the new one, never half. */
function writeIfChanged(file: string, text: string, mode: number): void {
  try {
    if (fs.readFileSync(file, 'utf8') === text) {
      return;
    }
  } catch {
    // Not there yet.
  }
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, text, { mode, flag: 'wx' });
  fs.renameSync(tmp, file);
}

/**
 * The mark of this window's tasks: the one the collection kept from an earlier session of this workspace (its task
 * terminals, re-adopted after a reload, carry it), else a new one. Changing it would relaunch terminals (below).
 */
export function terminalMark(context: vscode.ExtensionContext): string {
  const kept = context.environmentVariableCollection.get(MARK_VAR)?.value;
  return kept !== undefined && /^[0-9a-f]{32}$/.test(kept) ? kept : randomBytes(16).toString('hex');
}

/**
 * Puts `task-lock` on PATH, and `mark` in MARK_VAR, in this window's integrated terminals and task terminals (new
 * ones: a running terminal keeps its environment, and VS Code offers to relaunch it). The launchers live in the
 * extension's global storage, so an update of the extension points them at its new CLI.
 */
export function setTerminalEnvironment(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, mark: string): void {
  const cli = path.join(context.extensionPath, 'dist', 'cli.js');
  const bin = path.join(context.globalStorageUri.fsPath, 'bin');
  let onPath = true;
  try {
    fs.mkdirSync(bin, { recursive: true });
    const l = launchers(process.execPath, cli);
    writeIfChanged(path.join(bin, 'task-lock'), l.posix, 0o755);
    writeIfChanged(path.join(bin, 'task-lock.cmd'), l.cmd, 0o644);
  } catch (err) {
    log.warn(`the task-lock command is not on PATH in terminals: ${err instanceof Error ? err.message : String(err)}`);
    onPath = false;
  }
  const env = context.environmentVariableCollection;
  const value = `${bin}${path.delimiter}`;
  if ((!onPath || env.get('PATH')?.value === value) && env.get(MARK_VAR)?.value === mark) {
    // Persisted from an earlier session of this workspace: every terminal already started with it.
    return;
  }
  const apply = (): void => {
    env.description = l10n.t('Puts the `task-lock` command of Task Lock on PATH, and marks the tasks it may stop.');
    if (onPath) {
      env.prepend('PATH', value);
    }
    env.replace(MARK_VAR, mark);
  };
  if (vscode.window.terminals.length === 0) {
    apply();
    return;
  }
  // A change to the collection makes VS Code relaunch terminals nobody typed in yet: a task started at
  // folder open (a guarded watch) would be killed and started again. Wait until no terminal runs.
  log.info('the task-lock command goes on PATH, and the mark of the tasks in their environment, once the terminals open now have ended (changing it would relaunch them)');
  const waiting = vscode.window.onDidCloseTerminal(() => {
    if (vscode.window.terminals.length === 0) {
      waiting.dispose();
      apply();
    }
  });
  context.subscriptions.push(waiting);
}
