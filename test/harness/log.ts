// One prefix for everything the harness says, so its lines stand out among server and editor output.
export function say(message: string): void {
  process.stdout.write(`[harness] ${message}\n`);
}

export function verbose(): boolean {
  return process.env.TASK_LOCK_HARNESS_VERBOSE === '1';
}
