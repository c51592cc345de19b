import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '../../..');

describe('the .vsix', () => {
  it('holds only what runs: the two bundles, the manifest, the icon and the docs', () => {
    // vsce's own listing, after .vscodeignore: what `npm run package` would put in the .vsix.
    const out = execFileSync(process.execPath, [path.join(root, 'node_modules/@vscode/vsce/vsce'), 'ls', '--no-dependencies'], { cwd: root, encoding: 'utf8' });
    const files = out.trim().split('\n').sort();
    assert.deepEqual(files, ['CHANGELOG.md', 'LICENSE', 'README.md', 'dist/cli.js', 'dist/extension.js', 'media/icon.png', 'package.json']);
  });
});
