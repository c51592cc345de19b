import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { extensionId } from '../util';

describe('activation', () => {
  it('loads and activates the Task Lock extension', async () => {
    const id = extensionId();
    const ext = vscode.extensions.getExtension(id);
    assert.ok(ext, `extension ${id} is not loaded; loaded: ${vscode.extensions.all.filter((e) => !e.id.startsWith('vscode.')).map((e) => e.id).join(', ')}`);
    await ext.activate();
    assert.strictEqual(ext.isActive, true);
  });
});
