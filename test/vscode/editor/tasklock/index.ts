import { runMochaIn } from '../runner';

export function run(): Promise<void> {
  return runMochaIn(__dirname);
}
