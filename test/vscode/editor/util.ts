import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WaitOptions } from '../../support/wait';

// Compiled to out/test/vscode/editor/*.js.
export const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');

export function manifest(): { name: string; publisher: string; version: string } {
  return JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; publisher: string; version: string };
}

export function extensionId(): string {
  const m = manifest();
  return `${m.publisher}.${m.name}`;
}

export function workspaceFolder(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (folder === undefined) {
    throw new Error('the window has no workspace folder');
  }
  return folder.uri.fsPath;
}

/** How long code in a window waits (with waitFor from test/support/wait): generous, a window on a busy machine can start slowly. */
export const slowWindow: WaitOptions = { timeoutMs: 120_000, everyMs: 100 };

/** Runs a task from the workspace's tasks.json by label and resolves with its process' exit code. */
export async function runTaskToEnd(label: string): Promise<number | undefined> {
  const tasks = await vscode.tasks.fetchTasks();
  const task = tasks.find((t) => t.name === label);
  if (task === undefined) {
    throw new Error(`no task "${label}" among: ${tasks.map((t) => t.name).join(', ')}`);
  }
  const ended = new Promise<number | undefined>((resolve) => {
    const sub = vscode.tasks.onDidEndTaskProcess((e) => {
      if (e.execution.task.name === label) {
        sub.dispose();
        resolve(e.exitCode);
      }
    });
  });
  await vscode.tasks.executeTask(task);
  return ended;
}
