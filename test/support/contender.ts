// A process that competes for one folder's lock, round after round, and writes enter/exit marks to a
// shared file. Started by the process tests; it uses the engine directly, as the extension will.
import * as fs from 'node:fs';
import { WorkspaceLock } from '../../src/lock';
import { pidAlive, sleep } from './wait';

async function main(): Promise<void> {
  const [folder, marks, roundsText, holdText, stopFile] = process.argv.slice(2);
  const rounds = Number(roundsText);
  const holdMs = Number(holdText);
  const lock = new WorkspaceLock(folder);
  for (let i = 0; i < rounds; i++) {
    if (stopFile && fs.existsSync(stopFile)) {
      break;
    }
    const handle = await lock.acquire({ kind: 'cli', label: `contender ${process.pid}` });
    // Whoever entered last without leaving must be dead by now: the lock let us in.
    const lines = fs.readFileSync(marks, 'utf8').trim().split('\n').filter(Boolean);
    const open = lastOpen(lines);
    if (open !== undefined && pidAlive(open)) {
      fs.appendFileSync(marks, `VIOLATION ${process.pid} entered while ${open} is alive inside\n`);
    }
    fs.appendFileSync(marks, `enter ${process.pid} ${i}\n`);
    await sleep(Math.random() * holdMs);
    fs.appendFileSync(marks, `exit ${process.pid} ${i}\n`);
    await handle.release();
  }
}

function lastOpen(lines: string[]): number | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const [what, pid] = lines[i].split(' ');
    if (what === 'exit') {
      return undefined;
    }
    if (what === 'enter') {
      return Number(pid);
    }
  }
  return undefined;
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`contender ${process.pid}: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
