import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { channelDir } from './state-dir';

/**
 * The holder's local channel: a Unix domain socket in a user-private directory (a named pipe on Windows).
 * Followers stay connected, so a holder's death reaches them as a dropped connection, without polling;
 * the same channel carries handoff requests. Nothing listens on the network.
 */
export type Message =
  | { t: 'handoff'; id: string; token: string; kind: string; label: string; pid: number }
  | { t: 'handoff-accepted'; id: string }
  | { t: 'handoff-refused'; id: string; reason: string }
  | { t: 'start'; id: string; names: string[]; kind: string; label: string; pid: number }
  | { t: 'start-answer'; id: string; started: string[]; reason?: string }
  | { t: 'bye'; reason: ByeReason };

export type ByeReason = 'released' | 'handoff' | 'compromised';

const MAX_LINE = 16 * 1024;

/** Where the holder of this lock listens; null when no private folder is short enough (no channel then). */
export function socketPathFor(lockId: string): string | null {
  if (process.platform === 'win32') {
    return `\\\\.\\pipe\\task-lock-${lockId}`;
  }
  const dir = channelDir();
  return dir === null ? null : path.join(dir, `${lockId}.sock`);
}

/** Splits a stream into JSON lines; drops what does not parse or is too long instead of failing. */
export function onMessages(socket: net.Socket, handler: (m: Message) => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    if (buffer.length > MAX_LINE && !buffer.includes('\n')) {
      socket.destroy();
      return;
    }
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const m = JSON.parse(line) as Message;
        if (m && typeof m === 'object' && typeof m.t === 'string') {
          handler(m);
        }
      } catch {
        // A foreign or broken peer: ignore the line.
      }
    }
  });
}

export function send(socket: net.Socket, m: Message): void {
  if (!socket.destroyed && socket.writable) {
    socket.write(JSON.stringify(m) + '\n');
  }
}

export class HolderChannel {
  private readonly server: net.Server;
  private readonly clients = new Set<net.Socket>();
  private closed = false;
  private fenced = false;

  private constructor(readonly path: string, server: net.Server) {
    this.server = server;
  }

  static async listen(socketPath: string, onMessage: (m: Message, reply: (m: Message) => void) => void): Promise<HolderChannel> {
    try {
      return await HolderChannel.tryListen(socketPath, onMessage);
    } catch (err) {
      if (process.platform === 'win32' || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw err;
      }
      // Whoever held this lock before is gone (we hold it now): a socket file left by a crash is garbage.
      fs.rmSync(socketPath, { force: true });
      return HolderChannel.tryListen(socketPath, onMessage);
    }
  }

  private static async tryListen(socketPath: string, onMessage: (m: Message, reply: (m: Message) => void) => void): Promise<HolderChannel> {
    const server = net.createServer();
    const channel = new HolderChannel(socketPath, server);
    server.on('connection', (socket) => {
      if (channel.closed) {
        socket.destroy();
        return;
      }
      if (channel.fenced) {
        // The lock is lost, the tasks still stopping: this channel only says that it is still here. The peer
        // (a next taker's probe) hangs up at once: a write to it may fail, and must not crash this process.
        socket.on('error', () => socket.destroy());
        send(socket, { t: 'bye', reason: 'compromised' });
        socket.end();
        return;
      }
      channel.clients.add(socket);
      socket.on('close', () => channel.clients.delete(socket));
      socket.on('error', () => socket.destroy());
      onMessages(socket, (m) => onMessage(m, (r) => send(socket, r)));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {
      // After listening, errors concern single connections; they are handled per socket.
    });
    // The channel serves the lock; it must not keep a process alive on its own.
    server.unref();
    try {
      channel.inode = fs.lstatSync(socketPath).ino;
    } catch {
      // Windows pipes have no file: nothing to remove later either.
    }
    return channel;
  }

  get followers(): number {
    return this.clients.size;
  }

  /** Says goodbye (so followers know a release from a death) and closes every connection. */
  /**
   * The lock was lost while its tasks may still be stopping: followers are told at once, but the channel stays
   * open, so that the next taker sees a predecessor still here (predecessorGone) and waits before it starts
   * its own command. `close` ends it once the tasks have ended; a process exit ends it too.
   */
  fence(): void {
    if (this.closed || this.fenced) {
      return;
    }
    this.fenced = true;
    for (const c of this.clients) {
      send(c, { t: 'bye', reason: 'compromised' });
      c.end();
    }
  }

  close(reason: ByeReason): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const c of this.clients) {
      send(c, { t: 'bye', reason });
      c.end();
    }
    this.server.close();
    this.removeSocketFile();
  }

  /** For process exit: no goodbye can be sent synchronously, the file is what must not be left. */
  closeSync(): void {
    this.closed = true;
    this.removeSocketFile();
  }

  /** The socket file this channel made: a lost holder closing late must not unlink its successor's. */
  private inode: number | undefined;

  private removeSocketFile(): void {
    if (process.platform !== 'win32') {
      try {
        if (this.inode === undefined || fs.lstatSync(this.path).ino === this.inode) {
          fs.unlinkSync(this.path);
        }
      } catch {
        // Already gone.
      }
    }
  }
}

/** How long a new taker waits for a predecessor that lost the lock to stop its tasks: the CLI kills within 3 s. */
const PREDECESSOR_MAX_MS = 15_000;

/**
 * Whether the channel at `socketPath` is gone: a predecessor that lost this lock (the lock home removed, a
 * forced reclaim) keeps it open while its tasks stop (HolderChannel.fence). The next taker waits for that
 * before its own command starts, backing off from 10 ms; false when it is still there after
 * PREDECESSOR_MAX_MS (a frozen process): the caller goes on, and says so.
 */
export async function predecessorGone(socketPath: string | null): Promise<boolean> {
  if (socketPath === null || process.platform === 'win32') {
    return true;
  }
  const until = Date.now() + PREDECESSOR_MAX_MS;
  for (let delay = 10; await answers(socketPath); delay = Math.min(200, delay * 2)) {
    if (Date.now() >= until) {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  return true;
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** A follower's connection to the holder. `onClose` gets the goodbye reason, or undefined for a drop. */
export function connect(
  socketPath: string,
  handlers: { onMessage?(m: Message): void; onClose(bye: ByeReason | undefined): void },
): net.Socket {
  const socket = net.createConnection(socketPath);
  let bye: ByeReason | undefined;
  let done = false;
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    if (!done) {
      done = true;
      handlers.onClose(bye);
    }
  });
  onMessages(socket, (m) => {
    if (m.t === 'bye') {
      bye = m.reason;
    }
    handlers.onMessage?.(m);
  });
  socket.unref();
  return socket;
}
