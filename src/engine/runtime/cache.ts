/**
 * A session cache: each (model identity, options) pair is loaded once and shared.
 * A file is identified by its resolved path, size and modification time; bytes and
 * built models by the SHA-256 of their ModelProto bytes plus the external-data
 * folder. Concurrent requests for the same key share one load.
 *
 * @example
 *   const sessions = new SessionCache();
 *   const a = await sessions.get({ path: 'unet.onnx' }, { provider: 'cpu' });
 *   const b = await sessions.get({ path: 'unet.onnx' }, { provider: 'cpu' });   // a === b
 *   await sessions.clear();
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { encodeModel } from '../onnx/proto.ts';
import { createSession, sourceName, type ModelSource, type Session, type SessionOptions } from './session.ts';

const sortedJson = (o: object) => JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

/** The cache key of a source with options. */
export async function modelKey(source: ModelSource, options: SessionOptions = {}): Promise<string> {
  let identity: string;
  if ('path' in source) {
    const path = resolve(source.path);
    const st = await stat(path).catch(() => undefined);
    identity = `file:${path}:${st?.size ?? 'missing'}:${st?.mtimeMs ?? 0}`;
  } else {
    const bytes = 'bytes' in source ? source.bytes : encodeModel(source.model);
    const hash = createHash('sha256').update(bytes).digest('hex');
    identity = `bytes:${sourceName(source)}:${hash}:${source.externalDataDir ? resolve(source.externalDataDir) : ''}`;
  }
  return `${identity}|${sortedJson(options)}`;
}

export class SessionCache {
  private readonly sessions = new Map<string, Promise<Session>>();

  constructor(private readonly create: typeof createSession = createSession) {}

  /** The cached session for this source and options, created on first use. */
  async get(source: ModelSource, options: SessionOptions = {}): Promise<Session> {
    const key = await modelKey(source, options);
    let p = this.sessions.get(key);
    if (!p) {
      p = this.create(source, options);
      this.sessions.set(key, p);
      p.catch(() => this.sessions.delete(key));
    }
    return p;
  }

  /** Dispose one cached session and forget it (a later `get` builds it again). */
  async evict(session: Session): Promise<boolean> {
    for (const [key, p] of this.sessions) {
      const s = await p.catch(() => undefined);
      if (s === session) {
        this.sessions.delete(key);
        await s.dispose();
        return true;
      }
    }
    return false;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Dispose every session and empty the cache. */
  async clear(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const p of all) {
      const s = await p.catch(() => undefined);
      await s?.dispose();
    }
  }
}
