import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { LockError } from '../../src/lock/errors';
import { locate, userStateDir } from '../../src/lock/location';
import { cleanup, tempFolder } from '../support/fixtures';

after(cleanup);

describe('lock location', () => {
  it('keys the lock by the real path: a symlink, .. and a trailing slash reach the same lock', () => {
    const base = tempFolder();
    const real = path.join(base, 'project');
    fs.mkdirSync(path.join(real, 'sub'), { recursive: true });
    fs.symlinkSync(real, path.join(base, 'link'));
    const homes = [real, `${real}/`, path.join(real, 'sub', '..'), path.join(base, 'link'), `${path.join(base, 'link')}/`].map((f) => locate(f).lockDir);
    assert.equal(new Set(homes).size, 1);
    assert.equal(homes[0], path.join(real, '.vscode', 'task-lock', 'workspace.lock'));
  });

  it('makes the lock home ignore itself for git', () => {
    const loc = locate(tempFolder());
    assert.equal(fs.readFileSync(path.join(loc.home, '.gitignore'), 'utf8').split('\n').includes('*'), true);
  });

  it('names the file in the way when the lock home is a file', () => {
    const folder = tempFolder();
    fs.mkdirSync(path.join(folder, '.vscode'));
    fs.writeFileSync(path.join(folder, '.vscode', 'task-lock'), 'not a folder');
    assert.throws(
      () => locate(folder),
      (e: unknown) => e instanceof LockError && e.code === 'home-unusable' && /task-lock is in the way: a file stands where/.test(e.message),
    );
  });

  it('says which folder is missing', () => {
    assert.throws(() => locate('/no/such/folder'), (e: unknown) => e instanceof LockError && e.code === 'folder-missing' && e.message.includes('/no/such/folder'));
  });

  it('refuses a file given as the folder', () => {
    const file = path.join(tempFolder(), 'f');
    fs.writeFileSync(file, '');
    assert.throws(() => locate(file), (e: unknown) => e instanceof LockError && e.code === 'folder-not-directory');
  });

  it('puts each folder in its own subfolder of an explicit lock directory', () => {
    const shared = tempFolder();
    const a = locate(tempFolder(), { lockDirectory: shared });
    const b = locate(tempFolder(), { lockDirectory: shared });
    assert.notEqual(a.home, b.home);
    assert.equal(path.dirname(a.home), shared);
    assert.equal(a.fallbackReason, undefined);
  });

  it('keeps its private state directory private (mode 0700)', { skip: process.platform === 'win32' }, () => {
    const dir = userStateDir();
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  });
});
