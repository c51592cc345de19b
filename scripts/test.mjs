// Runs every suite in order (unit, process, real editor) and prints one closing count for all of them.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const steps = ['test:unit', 'test:process', 'test:vscode'].filter((s) => pkg.scripts[s]);

let passed = 0;
let failed = 0;
let broken = [];

for (const step of steps) {
  const { code, out } = await run('npm', ['run', '--silent', step]);
  const counts = count(out);
  passed += counts.passed;
  failed += counts.failed;
  if (code !== 0) {
    broken.push(`${step} (exit ${code})`);
  }
}

console.log('');
if (broken.length > 0) {
  console.log(`Failed steps: ${broken.join(', ')}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(broken.length > 0 || failed > 0 ? 1 : 0);

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), out }));
  });
}

// node --test prints "ℹ pass N" (spec) or "# pass N" (tap); the editor harness prints "N passed, N failed".
function count(out) {
  let p = 0;
  let f = 0;
  for (const m of out.matchAll(/^[#ℹ] (pass|fail) (\d+)$/gm)) {
    if (m[1] === 'pass') {
      p += Number(m[2]);
    } else {
      f += Number(m[2]);
    }
  }
  for (const m of out.matchAll(/^\w+: (\d+) passed, (\d+) failed$/gm)) {
    p += Number(m[1]);
    f += Number(m[2]);
  }
  return { passed: p, failed: f };
}
