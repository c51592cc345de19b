import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brokenTargets, readZip } from '../support/vsix';

const root = path.resolve(__dirname, '../../..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  publisher: string;
  version: string;
  license?: string;
  icon?: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
};

// The pictures the packaged README shows: a change to either list is a change to the other.
const readmePictures = ['media/screenshot-follower.png', 'media/screenshot-holder.png', 'media/screenshot-orphan.png'];
// What both packages hold: .vscodeignore for the .vsix, .npmignore for npm (each tool reads its own list).
// The localized words (package.nls.json for the manifest, l10n/ for the code) go with the extension they name.
const shipped = ['CHANGELOG.md', 'LICENSE', 'README.md', 'dist/cli.js', 'dist/extension.js', 'l10n/bundle.l10n.json', 'media/icon.png', ...readmePictures, 'package.json', 'package.nls.json'].sort();

describe('the .vsix', () => {
  let dir = '';
  let entries = new Map<string, Buffer>();

  before(() => {
    // The real packaging (`npm run package` without its production build), of the dist/ `npm test` built.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'task-lock-vsix-'));
    const vsix = path.join(dir, 'test.vsix');
    execFileSync(process.execPath, [path.join(root, 'scripts/package.mjs'), '--out', vsix], { cwd: root, stdio: 'pipe' });
    entries = readZip(vsix);
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds only what runs: the two bundles, the manifest, the icon, the README\'s pictures and the docs', () => {
    // vsce's own listing, after the package's file list: what `npm run package` puts in the .vsix.
    const out = execFileSync(process.execPath, [path.join(root, 'node_modules/@vscode/vsce/vsce'), 'ls', '--no-dependencies'], { cwd: root, encoding: 'utf8' });
    const files = out.trim().split('\n').sort();
    assert.deepEqual(files, shipped);
    // And the file written agrees with the listing (vsce adds its manifests and lowercases the docs' names).
    const packed = [...entries.keys()].filter((e) => e.startsWith('extension/')).map((e) => e.slice('extension/'.length));
    assert.deepEqual(packed.map((f) => f.toLowerCase()).sort(), files.map((f) => (f === 'LICENSE' ? 'license.txt' : f.toLowerCase())).sort());
  });

  it('every picture and link of the packaged README and CHANGELOG resolves inside the package', () => {
    const names = new Set(entries.keys());
    for (const doc of ['extension/readme.md', 'extension/changelog.md']) {
      const text = entries.get(doc);
      assert.ok(text, `${doc} is in the package`);
      assert.deepEqual(brokenTargets(text.toString('utf8'), names), [], `${doc}: pictures or links that would be broken in the Extensions view`);
    }
    // The README's pictures are really there and really pictures (PNG's signature), not empty stand-ins.
    for (const picture of readmePictures) {
      const data = entries.get(`extension/${picture}`);
      assert.ok(data && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), `${picture} is a PNG in the package`);
    }
  });

  it('the check sees what would be broken: a missing picture, one from the web, a link out of the package, an anchor with no heading', () => {
    const names = new Set(['extension/readme.md', 'extension/media/here.png']);
    const markdown = [
      '# Title',
      '## The `task-lock` command',
      '![here](media/here.png) ![gone](media/gone.png) ![web](https://example.org/x.png)',
      '[in code: `[x](media/nowhere.png)`](#title) [guide](test/harness/README.md) [up](../secret.md)',
      '[command](#the-task-lock-command) [nowhere](#no-such-heading) [site](https://example.org/)',
      '```text',
      '[--wait[=SECONDS]](not-a-link.md)',
      '```',
    ].join('\n');
    assert.deepEqual(brokenTargets(markdown, names), [
      'image media/gone.png: not in the package',
      'image https://example.org/x.png: not in the package (it needs the network)',
      'link test/harness/README.md: not in the package',
      'link ../secret.md: not in the package',
      'link #no-such-heading: no heading has that anchor',
    ]);
  });

  it('the manifest carries what the Marketplace and Open VSX require: a license, the publisher as namespace, a PNG icon', () => {
    const packed = JSON.parse((entries.get('extension/package.json') as Buffer).toString('utf8')) as typeof manifest;
    // Open VSX refuses an extension without a license (the field or a LICENSE file); both are there.
    assert.equal(packed.license, 'MIT');
    assert.ok(entries.has('extension/LICENSE.txt'), 'the license file is in the package');
    // The publisher is the Open VSX namespace and the Marketplace publisher: both registries' name rules.
    for (const name of [packed.publisher, packed.name]) {
      assert.match(name, /^[a-z0-9][a-z0-9-]*$/i);
    }
    assert.match(packed.version, /^\d+\.\d+\.\d+$/);
    assert.ok(packed.engines.vscode, 'engines.vscode says which editors it runs in');
    // Neither registry takes an SVG icon.
    assert.match(packed.icon ?? '', /\.png$/);
    assert.ok(entries.has(`extension/${packed.icon}`), 'the icon is in the package');
  });

  it('the README installs the file `npm run package` writes, from the folder it installs into', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const vsix = `task-lock-${manifest.version}.vsix`;
    for (const editor of ['code', 'code-server']) {
      assert.ok(readme.includes(`${editor} --install-extension ${vsix}`), `README: ${editor} --install-extension ${vsix}`);
    }
    const named = new Set(readme.match(/task-lock-[\w.-]+\.vsix/g) ?? []);
    assert.deepEqual([...named], [vsix], 'the README names no other .vsix');
    const folder = `${manifest.publisher}.${manifest.name}-${manifest.version}`;
    assert.ok(readme.includes(`/extensions/${folder}/`), `README: the installed extension's folder, ${folder}`);
  });
});

describe('the npm package', () => {
  it('holds what the .vsix holds, with the task-lock command, and the README installs it by the package\'s name', () => {
    assert.equal(manifest.bin['task-lock'], 'dist/cli.js');
    // npm's own file list, as `npm publish` would send it (no scripts: the build is npm test's first step).
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [pack] = JSON.parse(out) as Array<{ name: string; files: Array<{ path: string; mode: number }> }>;
    assert.equal(pack.name, manifest.name);
    // The bundle runs without the sources, the tests or the source maps: none of them is sent.
    assert.deepEqual(pack.files.map((f) => f.path).sort(), shipped);
    const cli = pack.files.find((f) => f.path === 'dist/cli.js');
    assert.ok(cli, 'dist/cli.js is in the npm package');
    assert.ok((cli.mode & 0o111) !== 0, 'dist/cli.js is executable');
    assert.ok(fs.readFileSync(path.join(root, 'dist/cli.js'), 'utf8').startsWith('#!/usr/bin/env node\n'), 'dist/cli.js starts with a shebang');
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    assert.ok(readme.includes(`npm install -g ${manifest.name}`), `README: npm install -g ${manifest.name}`);
    assert.ok(readme.includes(`npx ${manifest.name} `), `README: npx ${manifest.name}`);
  });
});
