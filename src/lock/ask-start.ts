// A follower asks the holder, over its channel, to start guarded tasks that run nowhere: only the holder may
// start them (it holds the folder's lock), and a follower's own start would be a second holder's.
import { connect, send } from './channel';
import type { HolderInfo } from './handle';
import type { WorkspaceLock } from './lock';
import { newToken } from './record';

export type StartAnswer = { ok: true; started: string[] } | { ok: false; reason: string };

/** Asks the live holder of `lock` to start `names`; resolves with what runs there now, or why not. Never throws. */
export async function askHolderToStart(lock: WorkspaceLock, info: HolderInfo, names: string[], timeoutMs: number): Promise<StartAnswer> {
  const s = lock.inspect();
  const rec = s.state === 'held' ? s.holder.record : undefined;
  if (s.state !== 'held' || !rec || !s.holder.sameHost || !rec.socket) {
    return { ok: false, reason: 'the holder cannot be asked from here (no channel on this host)' };
  }
  const socketPath = rec.socket;
  const id = newToken();
  return new Promise<StartAnswer>((resolve) => {
    let settled = false;
    const finish = (a: StartAnswer): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(a);
      }
    };
    const timer = setTimeout(() => finish({ ok: false, reason: `the holder did not answer within ${Math.round(timeoutMs / 1000)} s` }), timeoutMs);
    const socket = connect(socketPath, {
      onMessage: (m) => {
        if (m.t === 'start-answer' && m.id === id) {
          const started = Array.isArray(m.started) ? m.started.filter((n): n is string => typeof n === 'string') : [];
          finish(m.reason === undefined || started.length > 0 ? { ok: true, started } : { ok: false, reason: String(m.reason) });
        }
      },
      onClose: () => finish({ ok: false, reason: 'the holder closed its channel without an answer' }),
    });
    socket.ref();
    send(socket, { t: 'start', id, names, kind: info.kind, label: info.label, pid: process.pid });
  });
}
