// A follower: watches the lock and otherwise idles. On SIGTERM it prints how many events it saw.
// Usage: node follower.mjs FOLDER
import { engine, keepAlive, say } from './common.mjs';

const [folder] = process.argv.slice(2);
const alive = keepAlive();
const causes = {};
const lock = new engine.WorkspaceLock(folder);
const watch = lock.watch((e) => {
  causes[e.cause] = (causes[e.cause] ?? 0) + 1;
  if (e.cause === 'initial') {
    say(`ready ${process.pid} ${e.state.state}`);
  }
});
process.once('SIGTERM', () => {
  watch.dispose();
  clearInterval(alive);
  say(`events ${JSON.stringify(causes)}`);
});
