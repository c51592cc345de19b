// File access in the lock home, where anything may stand: another user's or a tool's files, FIFOs, links,
// special file systems. Nothing read here can block, follow a link out, or loop.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode, errorMessage } from './errors';

export type SmallFile = { kind: 'none' } | { kind: 'text'; text: string; mtimeMs: number; uid: number } | { kind: 'bad'; reason: string };

// O_NONBLOCK: opening a FIFO for reading would wait for a writer. O_NOFOLLOW: a link is not the file.
const READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);

/** A regular file of at most `maxBytes`, read at once; anything else is `bad`, with the reason. */
export function readSmallFile(p: string, maxBytes: number): SmallFile {
  let fd: number;
  try {
    fd = fs.openSync(p, READ_FLAGS);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      return { kind: 'none' };
    }
    return { kind: 'bad', reason: code === 'ELOOP' ? `${p} is a symbolic link` : `cannot read ${p}: ${errorMessage(err)}` };
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      return { kind: 'bad', reason: `${p} is not a regular file` };
    }
    if (st.size > maxBytes) {
      return { kind: 'bad', reason: `${p} is larger than ${maxBytes} bytes` };
    }
    // One byte more than announced, to notice a file that grows while read.
    const buf = Buffer.alloc(Math.min(st.size + 1, maxBytes + 1));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    if (n > maxBytes) {
      return { kind: 'bad', reason: `${p} is larger than ${maxBytes} bytes` };
    }
    return { kind: 'text', text: buf.subarray(0, n).toString('utf8'), mtimeMs: st.mtimeMs, uid: st.uid };
  } catch (err) {
    return { kind: 'bad', reason: `cannot read ${p}: ${errorMessage(err)}` };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * mkdir -p, one level at a time. Node's recursive mkdir retries forever where mkdir fails with ENOENT under
 * an existing parent (anywhere in /proc, for one), at full CPU and deaf to SIGTERM; this fails instead.
 */
export function makeDirs(dir: string, mode: number): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) {
      break;
    }
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d, { mode });
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        throw err;
      }
    }
  }
}

/**
 * Temp file + rename: a reader sees the old content or the new, never half. The temporary name is random and
 * created exclusively (O_EXCL), so a link planted at a predictable name cannot redirect the write; the rename
 * replaces whatever stands at `p`, a link included, without following it.
 */
export function writeFileAtomic(p: string, data: string, mode: number): void {
  const tmp = `${p}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, data, { mode, flag: 'wx' });
    fs.renameSync(tmp, p);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Nothing was left behind, or it cannot be removed either: the original error is the one to report.
    }
    throw err;
  }
}

/** Creates `p` with `data` unless something (a file, a link, dangling or not) already stands there. */
export function createFileOnce(p: string, data: string): void {
  try {
    fs.writeFileSync(p, data, { flag: 'wx' });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') {
      throw err;
    }
  }
}
