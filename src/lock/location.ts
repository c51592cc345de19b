import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LockError, errnoCode, errorMessage, type LockErrorFacts } from './errors';
import { createFileOnce, makeDirs } from './files';

/** Where one workspace folder's lock lives, and why there. */
export interface LockLocation {
  /** The folder's real path: the lock's key. A symlink, `..` or a trailing slash reach the same lock. */
  folder: string;
  /** The directory that holds the lock and its record. */
  home: string;
  /** The path given to proper-lockfile; its lock is the directory `${target}.lock`. */
  target: string;
  lockDir: string;
  recordPath: string;
  reservationPath: string;
  /** proper-lockfile target of the short mutex that serializes reclaims of a stale lock. */
  reclaimTarget: string;
  /** Set when the default per-user folder could not be used and a fallback is used instead. */
  fallbackReason?: string;
  /** The home is in a lock directory the user chose (taskLock.lockDirectory, --lock-dir), shared by design. */
  explicit: boolean;
}

export interface LocationOptions {
  /** An explicit lock home (for example a shared network path); it is used as given, never replaced. */
  lockDirectory?: string;
  /**
   * Find the lock home without making anything, for a lock that is only inspected (`task-lock status`): a
   * home that does not exist holds no lock. Such a lock must not be taken.
   */
  readOnly?: boolean;
}

const GITIGNORE = '# Written by Task Lock: runtime lock state, never to be committed.\n*\n';

export function resolveFolder(folder: string): string {
  let real: string;
  try {
    real = fs.realpathSync.native(path.resolve(folder));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new LockError('folder-missing', `Folder ${folder} does not exist: give an existing folder.`, { facts: { path: folder } });
    }
    throw new LockError('io', `Folder ${folder} cannot be read (${errorMessage(err)}).`, { facts: { problem: 'folder-unreadable', path: folder, detail: errorMessage(err) } });
  }
  if (!fs.statSync(real).isDirectory()) {
    throw new LockError('folder-not-directory', `${folder} is not a folder: give the workspace folder to lock.`, { facts: { path: folder } });
  }
  return real;
}

export function folderHash(realFolder: string): string {
  return createHash('sha256').update(realFolder).digest('hex').slice(0, 16);
}

function layout(folder: string, home: string, how: { explicit?: boolean; fallbackReason?: string } = {}): LockLocation {
  const target = path.join(home, 'workspace');
  return {
    folder,
    home,
    target,
    lockDir: `${target}.lock`,
    recordPath: path.join(home, 'holder.json'),
    reservationPath: path.join(home, 'handoff.json'),
    reclaimTarget: path.join(home, 'reclaim'),
    explicit: how.explicit === true,
    ...(how.fallbackReason === undefined ? {} : { fallbackReason: how.fallbackReason }),
  };
}

/**
 * Finds (and creates) the lock home of `folder`. Default: a private per-user folder outside the workspace
 * (`~/.cache/task-lock/<name>-<hash>` on Linux), so that the user's own tools (touch, `git clean -xdf`,
 * sync clients) never reach the lock, and a cloned repository cannot bring files into it. The home comes
 * from the password database, not from variables such as HOME or XDG_CACHE_HOME that can differ between
 * processes of one user: every window, terminal and service of a user must meet at the same lock.
 */
export function locate(folder: string, options: LocationOptions = {}): LockLocation {
  const real = resolveFolder(folder);
  if (options.readOnly) {
    return locateReadOnly(real, options);
  }
  if (options.lockDirectory) {
    // A shared lock directory holds many workspaces' locks: one subfolder each, named for humans and by hash.
    const base = path.resolve(options.lockDirectory);
    const home = path.join(base, homeName(real));
    prepareHome(home, `the lock directory ${base}`, 'Fix its permissions or choose another taskLock.lockDirectory / --lock-dir.');
    return layout(real, home, { explicit: true });
  }
  const root = cacheRoot();
  const userHome = os.userInfo().homedir;
  if (!isDirectory(userHome)) {
    // A user without a home folder (a service account such as nobody's /nonexistent) still gets one lock,
    // and every process of that user finds the same: the password database says the same to all of them.
    const fallback = path.join(sharedTmpStateDir(), 'locks', homeName(real));
    makePrivateRoot(fallback);
    return layout(real, fallback, { fallbackReason: `your home folder ${userHome || '(none)'} does not exist; the lock lives in ${fallback}.` });
  }
  try {
    makePrivateRoot(root);
    const home = path.join(root, homeName(real));
    makePrivateRoot(home);
    return layout(real, home);
  } catch (err) {
    if (err instanceof LockError) {
      throw err;
    }
    // No silent fallback for a home that exists: a process that cannot write it (a read-only mount, a
    // sandbox) would lock elsewhere than the user's other processes, and both would run.
    const code = errnoCode(err);
    const writable = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
    const why = writable ? `cannot be written (${code})` : `cannot be used (${errorMessage(err)})`;
    throw new LockError(
      'home-unusable',
      `${root} ${why}: Task Lock keeps your locks there, where all your windows and terminals meet. Make it writable, or set taskLock.lockDirectory / --lock-dir to a folder every one of them uses.`,
      { cause: code, facts: writable ? { problem: 'not-writable', path: root, detail: code } : { path: root, detail: errorMessage(err) } },
    );
  }
}

/**
 * Where locate() puts the lock, making nothing: a look must leave no trace (no lock home in the user's cache
 * for every folder anyone asked about). What stands there is checked as locate() checks it (a file in the way,
 * another user's folder), except write access, which a look does not need.
 */
function locateReadOnly(real: string, options: LocationOptions): LockLocation {
  if (options.lockDirectory) {
    const base = path.resolve(options.lockDirectory);
    const home = path.join(base, homeName(real));
    let st: fs.Stats | undefined;
    try {
      st = lstatIfThere(home);
    } catch (err) {
      throw homeProblem(err, `the lock directory ${base}`, '', base);
    }
    if (st && (st.isSymbolicLink() || !st.isDirectory())) {
      throw homeProblem(Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }), home, '', home);
    }
    return layout(real, home, { explicit: true });
  }
  const userHome = os.userInfo().homedir;
  const fallback = isDirectory(userHome) ? undefined : path.join(sharedTmpPath(), 'locks', homeName(real));
  const root = fallback === undefined ? cacheRoot() : sharedTmpPath();
  const home = fallback ?? path.join(root, homeName(real));
  try {
    checkPrivateRoot(root);
    checkPrivateRoot(home);
  } catch (err) {
    if (err instanceof LockError) {
      throw err;
    }
    throw new LockError('home-unusable', `${root} cannot be read (${errorMessage(err)}): Task Lock keeps your locks there. Fix its permissions, or set taskLock.lockDirectory / --lock-dir.`, { cause: errnoCode(err), facts: { path: root, detail: errorMessage(err) } });
  }
  // A user without a home folder (see locate) is told where the lock lives instead.
  const reason = fallback === undefined ? undefined : `your home folder ${userHome || '(none)'} does not exist; the lock lives in ${fallback}.`;
  return layout(real, home, { fallbackReason: reason });
}

/** What stands at `p`, without following a link; undefined when nothing does. */
function lstatIfThere(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      return undefined;
    }
    throw err;
  }
}

/**
 * Makes a lock home again as locate() made it, after someone removed it (rm -rf) while this process was about
 * to use it: a waiting holder goes on instead of failing. Best effort: the next attempt reports what fails.
 */
export function remakeHome(loc: LockLocation): void {
  try {
    if (loc.explicit) {
      prepareHome(loc.home, loc.home, '');
    } else {
      makePrivateRoot(loc.home);
    }
  } catch {
    // Reported by the next mkdir of the lock folder, in its own words.
  }
}

/** Made, then removed by someone (rm -rf) before it was used: made again, a few times, then reported. */
const HOME_ATTEMPTS = 3;

function isDirectory(p: string): boolean {
  try {
    return p !== '' && fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** `<basename>-<hash of the real path>`: readable in a listing, unique by the hash. */
function homeName(realFolder: string): string {
  return `${path.basename(realFolder) || 'root'}-${folderHash(realFolder)}`;
}

/** Where this user's lock homes live by default, from the password database's home folder. */
export function cacheRoot(): string {
  const home = os.userInfo().homedir;
  if (process.platform === 'darwin') {
    return path.join(home, 'Library', 'Caches', 'task-lock');
  }
  if (process.platform === 'win32') {
    return path.join(process.env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'task-lock');
  }
  return path.join(home, '.cache', 'task-lock');
}

/** The default lock home of a folder, without creating anything (for cleanup and for the docs' examples). */
export function defaultHome(folder: string): string {
  return path.join(cacheRoot(), homeName(resolveFolder(folder)));
}

/**
 * Makes `dir` (and missing parents) with mode 0700 and checks what stands there: a folder, not a link,
 * owned by this user, not writable by others. Another user's folder or one that others can write is
 * refused with its owner named: its contents could be anyone's.
 */
export function makePrivateRoot(dir: string, attempt = 1): void {
  let st: fs.Stats;
  try {
    makeDirs(dir, 0o700);
    st = fs.lstatSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && attempt < HOME_ATTEMPTS) {
      makePrivateRoot(dir, attempt + 1);
      return;
    }
    throw err;
  }
  checkPrivate(dir, st);
  // A folder of one's own on a read-only mount: better found here (and fallen back from) than at the first lock.
  fs.accessSync(dir, fs.constants.W_OK);
}

/** makePrivateRoot's checks of a folder that is there, for a look that makes nothing; none when it is not. */
function checkPrivateRoot(dir: string): void {
  const st = lstatIfThere(dir);
  if (st !== undefined) {
    checkPrivate(dir, st);
  }
}

function checkPrivate(dir: string, st: fs.Stats): void {
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new LockError('home-unusable', `${dir} is in the way: ${st.isSymbolicLink() ? 'a symbolic link' : 'a file'} stands where Task Lock needs a folder. Move or remove it.`, { facts: { problem: 'in-the-way', path: dir } });
  }
  const uid = currentUid();
  if (uid !== undefined && st.uid !== uid) {
    throw new LockError('home-unsafe', `${dir} belongs to ${ownerName(st.uid)}, not to you: Task Lock will not keep your locks there. Remove it, or set taskLock.lockDirectory / --lock-dir.`, { facts: { problem: 'not-yours', path: dir, owner: ownerName(st.uid) } });
  }
  if (process.platform !== 'win32' && (st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8);
    throw new LockError('home-unsafe', `${dir} can be written by other users (mode ${mode}): Task Lock will not keep your locks there. Run chmod 700 ${dir}.`, { facts: { problem: 'open-to-others', path: dir, detail: mode } });
  }
}

export function ownerName(uid: number): string {
  try {
    const line = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(uid));
    return line ? `${line.split(':')[0]} (uid ${uid})` : `uid ${uid}`;
  } catch {
    return `uid ${uid}`;
  }
}

function prepareHome(home: string, what: string, advice: string, attempt = 1): void {
  const base = path.dirname(home);
  let baseMode: number;
  try {
    makeDirs(base, 0o777);
    baseMode = fs.statSync(base).mode;
  } catch (err) {
    throw homeProblem(err, what, advice, base);
  }
  try {
    makeDirs(home, 0o777);
    const st = fs.lstatSync(home);
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
    // The umask narrowed what mkdir made: the workspace's folder gets the shared folder's permissions, so
    // that every user who may write there can lock this workspace too, not only whoever came first.
    const want = baseMode & 0o777;
    if (st.uid === currentUid() && (st.mode & 0o777) !== want && process.platform !== 'win32') {
      fs.chmodSync(home, want);
    }
    // A lock directory may well be inside a repository (`.vscode/task-lock` by choice): keep it out of git.
    createFileOnce(path.join(home, '.gitignore'), GITIGNORE);
    // Writing the ignore file is not proof enough when it already existed: probe for write access.
    fs.accessSync(home, fs.constants.W_OK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' && attempt < HOME_ATTEMPTS) {
      prepareHome(home, what, advice, attempt + 1);
      return;
    }
    const made = statOrUndefined(home);
    if ((code === 'EACCES' || code === 'EPERM') && made !== undefined) {
      // The workspace's own folder is the one in the way: name it and its maker, not the shared folder.
      const owner = ownerName(made.uid);
      throw new LockError('home-unusable', `${home} belongs to ${owner} and cannot be written by you (${code}). Ask them to run chmod ${(baseMode & 0o777).toString(8)} ${home}, or choose another taskLock.lockDirectory / --lock-dir.`, { cause: code, facts: { problem: 'not-writable', path: home, detail: code, owner } });
    }
    throw homeProblem(err, made === undefined ? what : home, advice, made === undefined ? base : home);
  }
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/** `what` names the folder in the message ("the lock directory /x"); `at` is its path, for the editor's words. */
function homeProblem(err: unknown, what: string, advice: string, at: string): LockError {
  const code = errnoCode(err);
  let problem: string;
  let facts: LockErrorFacts;
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    problem = `${what} is in the way: a file stands where Task Lock needs a folder. Move or remove that file.`;
    facts = { problem: 'in-the-way', path: at };
  } else if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    problem = `${what} cannot be written (${code}). ${advice}`.trim();
    facts = { problem: 'not-writable', path: at, detail: code };
  } else {
    problem = `${what} cannot be used (${errorMessage(err)}). ${advice}`.trim();
    facts = { path: at, detail: errorMessage(err) };
  }
  return new LockError('home-unusable', problem, { cause: code, facts });
}

export function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * `/tmp/task-lock-<uid>`, checked like the default root: the one fallback every process of the user finds
 * whatever TMPDIR or XDG_RUNTIME_DIR say.
 */
function sharedTmpStateDir(): string {
  const dir = sharedTmpPath();
  makePrivateRoot(dir);
  return dir;
}

function sharedTmpPath(): string {
  return path.join(process.platform === 'win32' ? os.tmpdir() : '/tmp', `task-lock-${currentUid() ?? os.userInfo().username}`);
}
