// The user's private folders outside any lock home: where holders' sockets live (and why there may be none).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LockError, errorMessage } from './errors';
import { makeDirs } from './files';
import { currentUid, ownerName } from './location';

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
      if (!st.isDirectory()) {
        throw new Error(`${dir} is not a folder`);
      }
      if (uid !== undefined && st.uid !== uid) {
        throw new Error(`${dir} belongs to ${ownerName(st.uid)}, not to you`);
      }
      if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
        fs.chmodSync(dir, 0o700);
      }
      return dir;
    } catch (err) {
      lastError = err;
    }
  }
  throw new LockError('home-unusable', errorMessage(lastError), { facts: { detail: errorMessage(lastError) } });
}

/**
 * A Unix socket's path has room for about 104 bytes (macOS; 108 on Linux, with the NUL). A longer one is cut
 * short by some platforms, which would put the socket outside its private folder and leave it behind.
 */
export const MAX_SOCKET_PATH_BYTES = 103;
const SOCKET_NAME_BYTES = '0123456789abcdef.sock'.length + 1;
let channelDirectory: string | null | undefined;
let channelTrouble: string | undefined;

/**
 * The private folder for holders' sockets: the user's state folder, or a shorter one when that is too long;
 * null when there is none. A holder without a channel still holds the lock (the record and process
 * identity decide); only Take Over and instant notices need it, so its absence is a note, not a failure.
 */
export function channelDir(): string | null {
  if (channelDirectory === undefined) {
    const fits = (d: string): boolean => Buffer.byteLength(d) + SOCKET_NAME_BYTES <= MAX_SOCKET_PATH_BYTES;
    try {
      const state = userStateDir();
      const short = tmpCandidates().filter(fits);
      channelDirectory = fits(state) ? state : short.length > 0 ? makePrivateDir(short) : null;
    } catch (err) {
      channelDirectory = null;
      channelTrouble = `${errorMessage(err)}; so this holder opens no channel: Take Over cannot ask it, and others notice its end through the file system. Remove that folder, or set XDG_RUNTIME_DIR.`;
    }
  }
  return channelDirectory;
}

/** Why holders of this process open no channel, when that is so (for a one-line note). */
export function channelProblem(): string | undefined {
  return channelTrouble;
}
