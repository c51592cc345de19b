import * as net from 'node:net';
import { Harness } from './harness';
import { say } from './log';

// `npm run demo`: code-server with the built extension on a copy of the demo workspace, until Ctrl+C.

const defaultPort = 8090;

async function main(): Promise<void> {
  // A stable URL across runs when the usual port is free; any free port otherwise.
  const wanted = Number(process.env.TASK_LOCK_DEMO_PORT ?? defaultPort);
  const port = (await portIsFree(wanted)) ? wanted : undefined;
  const h = await Harness.start('demo', { port, installExtension: true });
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    say(`${why}: stopping code-server and everything it started ...`);
    h.stop().then(
      () => {
        say('stopped; nothing left running');
        process.exit(0);
      },
      (err: unknown) => {
        say(String(err));
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('Ctrl+C'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));

  const folder = h.workspace('demo');
  const url = `${h.url}?folder=${encodeURI(folder)}`;
  const line = '-'.repeat(Math.min(100, url.length + 4));
  console.log(`
${line}
  Task Lock demo: code-server ${h.install.codeServerVersion} (VS Code ${h.install.vscodeVersion}) with the extension installed

  Open this URL twice, in two browser tabs or windows: two VS Code windows on one workspace.

    ${url}

  Workspace (a fresh copy of test/fixtures/demo): ${folder}
  The first window takes the folder's lock and starts "watch" (a background task printing a tick every second);
  the second follows and names the holder in its status bar. In the second, try Run Task > watch, or Task Lock: Take Over.
  The server listens on 127.0.0.1 only; from another machine forward the port (ssh -L ${h.port}:127.0.0.1:${h.port}).
  Press Ctrl+C to stop; the demo then ends the server, the editor processes and the tasks.
${line}
`);
  say(`server log: ${h.serverLog}`);
  // Keep the event loop alive until a signal arrives.
  setInterval(() => undefined, 1 << 30);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
