import * as vscode from 'vscode';
import type { Translate } from './statusText';

/** The extension's one translation function: every user-facing word goes through it (vscode.l10n). */
export const t: Translate = (message, ...args) => vscode.l10n.t(message, ...args);
