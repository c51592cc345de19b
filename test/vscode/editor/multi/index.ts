import { runMochaIn } from '../runner';

// Suites that only pass when another window runs the same module on the same folder.
export function run(): Promise<void> {
  return runMochaIn(__dirname);
}
