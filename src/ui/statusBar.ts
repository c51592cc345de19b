import * as vscode from 'vscode';
import { l10n } from 'vscode';
import type { FolderStatus } from '../model/status';
import { renderStatus } from './statusText';

export const STATUS_COMMAND = 'taskLock.statusMenu';

/**
 * The one status bar item and the context keys behind the commands' enablement: both derived from the
 * folders' status, read whole on each render. Bursts of changes coalesce into one render per tick.
 */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private scheduled = false;
  private contextKeys = '';

  constructor(
    private readonly read: () => FolderStatus[],
    private readonly rendered: (s: FolderStatus[]) => void,
  ) {
    this.item = vscode.window.createStatusBarItem('taskLock.status', vscode.StatusBarAlignment.Left, 50);
    this.item.name = l10n.t('Task Lock');
    this.item.command = STATUS_COMMAND;
  }

  /** Something changed: render on the next tick. */
  update(): void {
    if (this.scheduled) {
      return;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const s = this.read();
      this.render(s);
      this.setContextKeys(s);
      this.rendered(s);
    });
  }

  private render(folders: readonly FolderStatus[]): void {
    const v = renderStatus(folders, new Date(), l10n, !vscode.workspace.isTrusted);
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

  /**
   * The context keys behind the commands' enablement and the Command Palette's when-clauses (package.json):
   * a command shows where it applies to some guarded folder of this window. Set only when they change.
   */
  private setContextKeys(s: readonly FolderStatus[]): void {
    const keys = {
      'taskLock.guarded': s.length > 0,
      'taskLock.stale': s.some((f) => f.phase === 'stale'),
      'taskLock.holder': s.some((f) => f.phase === 'holder'),
      'taskLock.follower': s.some((f) => f.phase === 'follower'),
      'taskLock.free': s.some((f) => f.phase === 'free'),
    };
    const key = JSON.stringify(keys);
    if (key !== this.contextKeys) {
      this.contextKeys = key;
      for (const [name, value] of Object.entries(keys)) {
        void vscode.commands.executeCommand('setContext', name, value);
      }
    }
  }

  dispose(): void {
    this.item.dispose();
  }
}
