// The bundled `task-lock` CLI in every terminal and task terminal of the window, with no install step.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { l10n } from 'vscode';
import { launchers } from '../cli/launcher';

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
 * Puts `task-lock` on PATH in this window's integrated terminals and task terminals (new ones: a running
 * terminal keeps its environment, and VS Code offers to relaunch it). The launchers live in the extension's
 * global storage, so an update of the extension points them at its new CLI.
 */
export function putCliOnPath(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): void {
  const cli = path.join(context.extensionPath, 'dist', 'cli.js');
  const bin = path.join(context.globalStorageUri.fsPath, 'bin');
  try {
    fs.mkdirSync(bin, { recursive: true });
    const l = launchers(process.execPath, cli);
    writeIfChanged(path.join(bin, 'task-lock'), l.posix, 0o755);
    writeIfChanged(path.join(bin, 'task-lock.cmd'), l.cmd, 0o644);
  } catch (err) {
    log.warn(`the task-lock command is not on PATH in terminals: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  const env = context.environmentVariableCollection;
  const value = `${bin}${path.delimiter}`;
  if (env.get('PATH')?.value === value) {
    // Persisted from an earlier session of this workspace: every terminal already started with it.
    return;
  }
  const apply = (): void => {
    env.description = l10n.t('Puts the `task-lock` command of Task Lock on PATH.');
    env.prepend('PATH', value);
  };
  if (vscode.window.terminals.length === 0) {
    apply();
    return;
  }
  // A change to the collection makes VS Code relaunch terminals nobody typed in yet: a task started at
  // folder open (a guarded watch) would be killed and started again. Wait until no terminal runs.
  log.info('the task-lock command goes on PATH once the terminals open now have ended (changing it would relaunch them)');
  const waiting = vscode.window.onDidCloseTerminal(() => {
    if (vscode.window.terminals.length === 0) {
      waiting.dispose();
      apply();
    }
  });
  context.subscriptions.push(waiting);
}
