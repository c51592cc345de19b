import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { LockError } from '../../src/lock/errors';
import * as os from 'node:os';
import { WorkspaceLock } from '../../src/lock';
import { cacheRoot, defaultHome, locate, makePrivateRoot } from '../../src/lock/location';
import { userStateDir } from '../../src/lock/state-dir';
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
    assert.equal(homes[0], path.join(defaultHome(real), 'workspace.lock'));
  });

  it('keeps the lock out of the folder by default: a private per-user folder from the password database\'s home', () => {
    const folder = tempFolder();
    const loc = locate(folder);
    assert.deepEqual(fs.readdirSync(folder), [], 'nothing written into the folder');
    assert.equal(path.dirname(loc.home), cacheRoot());
    assert.equal(cacheRoot().startsWith(os.userInfo().homedir + path.sep), true);
    assert.match(path.basename(loc.home), new RegExp(`^${path.basename(folder)}-[0-9a-f]{16}$`));
    for (const dir of [cacheRoot(), loc.home]) {
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700, `${dir} is private`);
    }
    assert.equal(loc.fallbackReason, undefined);
  });

  it('finds the same home whatever HOME and XDG_CACHE_HOME say (they differ between processes of one user)', () => {
    const folder = tempFolder();
    const before = locate(folder).home;
    const saved = { HOME: process.env.HOME, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
    try {
      process.env.HOME = tempFolder();
      process.env.XDG_CACHE_HOME = tempFolder();
      assert.equal(locate(folder).home, before);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) {
          delete process.env[k];
        } else {
          process.env[k] = v;
        }
      }
    }
  });

  it('makes an explicit lock directory\'s subfolder ignore itself for git', () => {
    const loc = locate(tempFolder(), { lockDirectory: tempFolder() });
    assert.equal(fs.readFileSync(path.join(loc.home, '.gitignore'), 'utf8').split('\n').includes('*'), true);
  });

  it('names the file in the way when the lock home is a file', () => {
    const folder = tempFolder();
    const home = defaultHome(folder);
    fs.writeFileSync(home, 'not a folder');
    try {
      assert.throws(
        () => locate(folder),
        (e: unknown) => e instanceof LockError && e.code === 'home-unusable' && e.message.includes(`${home} is in the way: a file stands where`),
      );
    } finally {
      fs.rmSync(home, { force: true });
    }
  });

  it('read only: finds the home locate() would make, makes nothing, and checks what stands there as locate() does', () => {
    const folder = tempFolder();
    const shared = tempFolder();
    const ro = locate(folder, { readOnly: true });
    assert.equal(fs.existsSync(ro.home), false, 'a look made the lock home');
    assert.equal(locate(folder, { lockDirectory: path.join(shared, 'locks'), readOnly: true }).home, path.join(shared, 'locks', path.basename(ro.home)));
    assert.deepEqual(fs.readdirSync(shared), [], 'a look made the lock directory');
    assert.equal(locate(folder).home, ro.home);
    fs.rmSync(ro.home, { recursive: true });
    fs.writeFileSync(ro.home, 'not a folder');
    try {
      assert.throws(
        () => locate(folder, { readOnly: true }),
        (e: unknown) => e instanceof LockError && e.code === 'home-unusable' && e.message.includes(`${ro.home} is in the way: a file stands where`),
      );
    } finally {
      fs.rmSync(ro.home, { force: true });
    }
  });

  it('refuses a lock home folder that other users can write, saying how to fix it', { skip: process.platform === 'win32' }, () => {
    const dir = path.join(tempFolder(), 'open');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o777);
    assert.throws(
      () => makePrivateRoot(dir),
      (e: unknown) => e instanceof LockError && e.code === 'home-unsafe' && e.message === `${dir} can be written by other users (mode 777): Task Lock will not keep your locks there. Run chmod 700 ${dir}.`,
    );
  });

  it('refuses another user\'s lock home folder, naming the owner', { skip: process.getuid?.() !== 0 && 'needs root to give a folder to another user' }, () => {
    const dir = path.join(tempFolder(), 'theirs');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, 65534, 65534);
    assert.throws(
      () => makePrivateRoot(dir),
      (e: unknown) => e instanceof LockError && e.code === 'home-unsafe' && e.message.startsWith(`${dir} belongs to nobody (uid 65534), not to you`),
    );
  });

  it('never reads a lock inside the folder (.vscode/task-lock, where a never-released 0.1.0 kept it): any writer of the workspace could put one there (#16 item 3)', async () => {
    const folder = tempFolder();
    const lock = new WorkspaceLock(folder);
    // A record a workspace could bring, naming a process that lives (pid 1) as holder and task.
    const old = path.join(folder, '.vscode', 'task-lock');
    fs.mkdirSync(path.join(old, 'workspace.lock'), { recursive: true });
    const st = fs.statSync(path.join(old, 'workspace.lock'));
    const forged = { version: 1, token: 'c'.repeat(32), kind: 'cli', label: 'forged', pid: 1, start: null, hostname: os.hostname(), since: new Date().toISOString(), socket: null, lockId: `${st.dev}:${st.ino}:${st.birthtimeMs}`, tasks: [{ name: 'x', pid: 1, start: null }] };
    fs.writeFileSync(path.join(old, 'holder.json'), JSON.stringify(forged));
    const before = fs.readdirSync(old).sort();
    assert.equal(lock.inspect().state, 'free');
    const r = await lock.tryAcquire({ kind: 'cli', label: 'new' });
    assert.equal(r.ok, true, 'the lock is taken in its own home');
    if (r.ok) {
      await r.handle.release();
    }
    assert.deepEqual(fs.readdirSync(old).sort(), before, 'and nothing in the folder is touched');
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
