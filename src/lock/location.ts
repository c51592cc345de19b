import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LockError, errnoCode, errorMessage } from './errors';
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
  /** Set when the folder could not be written and a per-user directory is used instead. */
  fallbackReason?: string;
}

export interface LocationOptions {
  /** An explicit lock home (for example a shared network path); it is used as given, never replaced. */
  lockDirectory?: string;
}

const GITIGNORE = '# Written by Task Lock: runtime lock state, never to be committed.\n*\n';

export function resolveFolder(folder: string): string {
  let real: string;
  try {
    real = fs.realpathSync.native(path.resolve(folder));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new LockError('folder-missing', `Folder ${folder} does not exist: give an existing folder.`);
    }
    throw new LockError('io', `Folder ${folder} cannot be read (${errorMessage(err)}).`);
  }
  if (!fs.statSync(real).isDirectory()) {
    throw new LockError('folder-not-directory', `${folder} is not a folder: give the workspace folder to lock.`);
  }
  return real;
}

export function folderHash(realFolder: string): string {
  return createHash('sha256').update(realFolder).digest('hex').slice(0, 16);
}

function layout(folder: string, home: string, fallbackReason?: string): LockLocation {
  const target = path.join(home, 'workspace');
  return {
    folder,
    home,
    target,
    lockDir: `${target}.lock`,
    recordPath: path.join(home, 'holder.json'),
    reservationPath: path.join(home, 'handoff.json'),
    reclaimTarget: path.join(home, 'reclaim'),
    fallbackReason,
  };
}

/**
 * Finds (and creates) the lock home of `folder`. Default: `<folder>/.vscode/task-lock/`, which ignores
 * itself for git. When the folder cannot be written, a per-user directory keyed by a hash of the real
 * path, so every process of this user still meets at the same lock.
 */
export function locate(folder: string, options: LocationOptions = {}): LockLocation {
  const real = resolveFolder(folder);
  if (options.lockDirectory) {
    // A shared lock directory holds many workspaces' locks: one subfolder each, named for humans and by hash.
    const base = path.resolve(options.lockDirectory);
    const home = path.join(base, `${path.basename(real) || 'root'}-${folderHash(real)}`);
    prepareHome(home, `the lock directory ${base}`, 'Fix its permissions or choose another taskLock.lockDirectory / --lock-dir.');
    return layout(real, home);
  }
  const home = path.join(real, '.vscode', 'task-lock');
  try {
    prepareHome(home, home, '');
    return layout(real, home);
  } catch (err) {
    const code = err instanceof LockError ? (err.cause as string | undefined) : undefined;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') {
      throw err;
    }
    const fallback = path.join(userStateDir(), 'locks', folderHash(real));
    prepareHome(fallback, fallback, 'Fix its permissions, or set a lock directory.', true);
    return layout(real, fallback, `${real} cannot be written (${code}); the lock lives in ${fallback}.`);
  }
}

/**
 * Makes a lock home again as locate() made it, after someone removed it (rm -rf) while this process was about
 * to use it: a waiting holder goes on instead of failing. Best effort: the next attempt reports what fails.
 */
export function remakeHome(loc: LockLocation): void {
  try {
    prepareHome(loc.home, loc.home, '', loc.fallbackReason !== undefined);
  } catch {
    // Reported by the next mkdir of the lock folder, in its own words.
  }
}

/** Made, then removed by someone (rm -rf) before it was used: made again, a few times, then reported. */
const HOME_ATTEMPTS = 3;

function prepareHome(home: string, what: string, advice: string, privateDir = false, attempt = 1): void {
  try {
    makeDirs(home, privateDir ? 0o700 : 0o777);
    const st = fs.statSync(home);
    if (!st.isDirectory()) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
    const ignore = path.join(home, '.gitignore');
    if (!privateDir) {
      createFileOnce(ignore, GITIGNORE);
    }
    // Writing the ignore file is not proof enough when it already existed: probe for write access.
    fs.accessSync(home, fs.constants.W_OK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' && attempt < HOME_ATTEMPTS) {
      prepareHome(home, what, advice, privateDir, attempt + 1);
      return;
    }
    let problem: string;
    if (code === 'ENOTDIR' || code === 'EEXIST') {
      problem = `${what} is in the way: a file stands where Task Lock needs a folder. Move or remove that file.`;
    } else if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      problem = `${what} cannot be written (${code}). ${advice}`.trim();
    } else {
      problem = `${what} cannot be used (${errorMessage(err)}). ${advice}`.trim();
    }
    throw new LockError('home-unusable', problem, { cause: code });
  }
}

/**
 * A directory only this user can enter. It holds the fallback lock homes and the holders' sockets, which
 * must not be reachable by other users. The well-known tmp path is checked, since anyone could create it first.
 */
let stateDir: string | undefined;

export function userStateDir(): string {
  // Checked once per process: it is on the path of every acquire (the holder's socket lives there).
  stateDir ??= makeUserStateDir();
  return stateDir;
}

function makeUserStateDir(): string {
  const candidates: string[] = [];
  const runtime = process.env.XDG_RUNTIME_DIR;
  // Only an absolute one: a relative path would differ between processes (and records accept no other).
  if (runtime && path.isAbsolute(runtime)) {
    candidates.push(path.join(runtime, 'task-lock'));
  }
  candidates.push(...tmpCandidates());
  return makePrivateDir(candidates);
}

function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

function tmpCandidates(): string[] {
  const name = `task-lock-${currentUid() ?? os.userInfo().username}`;
  return [...new Set([path.join(os.tmpdir(), name), path.join('/tmp', name)])];
}

/** The first candidate that is (or can be made) a directory of this user's that only this user can enter. */
function makePrivateDir(candidates: readonly string[]): string {
  const uid = currentUid();
  let lastError: unknown = new Error('no candidate');
  for (const dir of candidates) {
    try {
      makeDirs(dir, 0o700);
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
        throw new Error(`${dir} is not a directory owned by this user`);
      }
      if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
        fs.chmodSync(dir, 0o700);
      }
      return dir;
    } catch (err) {
      lastError = err;
    }
  }
  throw new LockError('home-unusable', `No private directory for Task Lock could be made (${errorMessage(lastError)}). Check TMPDIR.`);
}

/**
 * A Unix socket's path has room for about 104 bytes (macOS; 108 on Linux, with the NUL). A longer one is cut
 * short by some platforms, which would put the socket outside its private folder and leave it behind.
 */
export const MAX_SOCKET_PATH_BYTES = 103;
const SOCKET_NAME_BYTES = '0123456789abcdef.sock'.length + 1;
let channelDirectory: string | null | undefined;

/** The private folder for holders' sockets: the user's state folder, or a shorter one when that is too long. */
export function channelDir(): string | null {
  if (channelDirectory === undefined) {
    const fits = (d: string): boolean => Buffer.byteLength(d) + SOCKET_NAME_BYTES <= MAX_SOCKET_PATH_BYTES;
    const state = userStateDir();
    const short = tmpCandidates().filter(fits);
    channelDirectory = fits(state) ? state : short.length > 0 ? makePrivateDir(short) : null;
  }
  return channelDirectory;
}
