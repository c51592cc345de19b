import * as vscode from 'vscode';

// Minimal activation until the extension proper lands: it proves the bundle loads in a real editor.
export function activate(context: vscode.ExtensionContext): { version: string } {
  const version = String(context.extension.packageJSON.version ?? '0.0.0');
  return { version };
}

export function deactivate(): void {
  // Nothing to release yet.
}
