// What writers killed mid-write leave in a lock home, and its removal.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LockLocation } from './location';

/**
 * Removes what writers killed mid-write left in the lock home (a temporary record or reservation, the new folder
 * of a forced reclaim: `<name>.<12 hex>.tmp`), which nothing else would ever remove. Only by a fresh holder: a
 * write in flight now can only be a lost holder's, and failing it is right (its owner then starts nothing).
 */
export function sweepTemporaries(loc: LockLocation): void {
  const names = [loc.recordPath, loc.reservationPath, loc.lockDir].map((p) => path.basename(p).replace(/\./g, '\\.'));
  const leftover = new RegExp(`^(${names.join('|')})\\.[0-9a-f]{12}\\.tmp$`);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(loc.home, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (!leftover.test(e.name)) {
      continue;
    }
    try {
      // Neither follows a link: a link planted under such a name is removed, never what it points to.
      if (e.isDirectory()) {
        fs.rmdirSync(path.join(loc.home, e.name));
      } else {
        fs.unlinkSync(path.join(loc.home, e.name));
      }
    } catch {
      // Gone meanwhile, or not empty (then not ours): left alone.
    }
  }
}
