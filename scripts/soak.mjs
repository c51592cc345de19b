// `npm run soak`: the lock's promise under a storm of kills, touches, removals and forced reclaims (issue #7).
// The engine is test/support/soak.ts (built to out/), shared with test/process/soak.test.ts; this only
// reads the flags and prints the figures. It exits 1 on any overlap or leftover, or a blind detector.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { soak, soakPassed, formatReport } = require('../out/test/support/soak.js');

const USAGE = `Usage: npm run soak -- [--transfers N] [--procs N] [--work-ms MS] [--term-ms MS] [--seed N] [--lock-dir DIR] [--keep]
  --transfers N   guarded commands to start under the lock (default 10000)
  --procs N       contenders running task-lock run --wait again and again (default 8)
  --work-ms MS    the longest a command works (default 20)
  --term-ms MS    the longest a command takes to end after SIGTERM (default 30)
  --seed N        the random choices of an earlier run
  --lock-dir DIR  passed to every task-lock as --lock-dir
  --keep          keep the soak's folder (journal, detector files) even when it passes`;

const opts = { transfers: 10_000, procs: 8, log: (l) => process.stderr.write(`${l}\n`) };
const numeric = { '--transfers': 'transfers', '--procs': 'procs', '--work-ms': 'workMs', '--term-ms': 'termMs', '--seed': 'seed' };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const [name, inline] = args[i].split(/=(.*)/s, 2);
  if (name === '--help' || name === '-h') {
    console.log(USAGE);
    process.exit(0);
  } else if (name === '--keep') {
    opts.keep = true;
  } else if (name in numeric || name === '--lock-dir') {
    const value = inline ?? args[++i];
    if (value === undefined) {
      console.error(`soak: ${name} needs a value\n${USAGE}`);
      process.exit(2);
    }
    if (name === '--lock-dir') {
      opts.lockDir = value;
    } else {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < (name === '--seed' || name === '--term-ms' ? 0 : 1)) {
        console.error(`soak: ${name} wants a whole number, not "${value}"`);
        process.exit(2);
      }
      opts[numeric[name]] = n;
    }
  } else {
    console.error(`soak: unknown option ${args[i]}\n${USAGE}`);
    process.exit(2);
  }
}
if (opts.procs < 8) {
  console.error('soak: note: fewer than 8 contenders is lighter than the soak that issue #7 asks for');
}

const report = await soak(opts);
console.log(formatReport(report));
process.exit(soakPassed(report) ? 0 : 1);
