// Holds a folder's lock, optionally with a recorded task, then ends in the way the test asks: a normal
// exit, or (mode "wait") whatever signal the test sends. Used to check what an exit leaves behind.
import { spawn } from 'node:child_process';
import { WorkspaceLock } from '../../src/lock';

async function main(): Promise<void> {
  const [folder, mode, withTask] = process.argv.slice(2);
  const r = await new WorkspaceLock(folder).tryAcquire({ kind: 'vscode', label: 'exiter' });
  if (!r.ok) {
    throw new Error('the lock should have been free');
  }
  let taskPid = 0;
  if (withTask === 'task') {
    const task = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true });
    task.unref();
    taskPid = task.pid ?? 0;
    r.handle.setTasks([{ name: 'watch', pid: taskPid }]);
  }
  process.stdout.write(`held ${taskPid}\n`);
  if (mode === 'exit') {
    process.exit(0);
  }
  setInterval(() => undefined, 1000);
}

main().catch((e: unknown) => {
  process.stderr.write(String(e));
  process.exit(1);
});
