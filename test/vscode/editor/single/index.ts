import { runMochaIn } from '../runner';

// One window's suites; `npm run test:desktop` runs this same module in desktop VS Code.
export function run(): Promise<void> {
  return runMochaIn(__dirname);
}
