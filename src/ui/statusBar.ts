import * as vscode from 'vscode';
import { renderStatus, type FolderStatus } from './status';

export const STATUS_COMMAND = 'taskLock.statusMenu';

const t = (message: string, ...args: Array<string | number>): string => vscode.l10n.t(message, ...args);

/** The one status bar item; everything it shows comes from renderStatus. */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem('taskLock.status', vscode.StatusBarAlignment.Left, 50);
    this.item.name = t('Task Lock');
    this.item.command = STATUS_COMMAND;
  }

  render(folders: readonly FolderStatus[]): void {
    const v = renderStatus(folders, t);
    if (!v.visible) {
      this.item.hide();
      return;
    }
    this.item.text = v.text;
    const md = new vscode.MarkdownString(v.tooltip);
    md.supportThemeIcons = false;
    this.item.tooltip = md;
    this.item.accessibilityInformation = { label: v.ariaLabel, role: 'button' };
    this.item.backgroundColor = v.background === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : v.background === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
