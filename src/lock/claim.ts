// One taker per lock folder. A taker learns which folder it made by a stat after proper-lockfile's mkdir; if the
// lock home is removed (rm -rf) in between and another taker makes the next folder, both stat that one and both
// would hold it (found by the full soak: two commands started in the same millisecond). A claim file named by
// the folder's identity, created exclusively, decides which of them holds it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode } from './errors';
import type { LockLocation } from './location';

const SUFFIX = '.claim';

function claimPath(loc: LockLocation, lockId: string): string {
  return `${loc.lockDir}.${lockId.replace(/[^0-9]/g, '-')}${SUFFIX}`;
}

/** Claims the lock folder of identity `lockId`; false when another taker claimed it first. */
export function takeClaim(loc: LockLocation, lockId: string): boolean {
  try {
    // 'wx' is O_CREAT|O_EXCL: it never follows a link, and exactly one creator succeeds.
    fs.writeFileSync(claimPath(loc, lockId), '', { flag: 'wx', mode: 0o600 });
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') {
      return false;
    }
    throw err;
  }
}

/** Removes the claim of a released folder, once that folder is gone from the lock's path (see sweepClaims). */
export function dropClaim(loc: LockLocation, lockId: string, standing: string): void {
  if (standing === lockId) {
    return;
  }
  try {
    fs.unlinkSync(claimPath(loc, lockId));
  } catch {
    // Not there (a sweep took it), or not removable: the next holder's sweep tries again.
  }
}

/**
 * Removes the claims of folders that no longer stand at the lock's path (released, removed, replaced). A folder
 * never comes back once removed (its identity has its birth time), so such a claim can decide nothing any more;
 * a taker that claims such a folder again finds it gone and holds nothing (see mkdirAndClaim). The folder now
 * standing is read after the listing, so its claim, made before, is always kept.
 */
export function sweepClaims(loc: LockLocation, currentId: () => string): void {
  const prefix = `${path.basename(loc.lockDir)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(loc.home).filter((n) => n.startsWith(prefix) && n.endsWith(SUFFIX));
  } catch {
    return;
  }
  const keep = path.basename(claimPath(loc, currentId()));
  for (const n of names) {
    if (n !== keep) {
      try {
        fs.unlinkSync(path.join(loc.home, n));
      } catch {
        // Gone meanwhile, or not a file we can remove: left for the next sweep.
      }
    }
  }
}
