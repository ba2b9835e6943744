/**
 * Content-addressed file storage. Keys are derived from the content's SHA-256 and a
 * fixed extension chosen by the bank (`loras/ab/cd/<sha>.safetensors`), never from
 * user input, so an upload cannot choose where it lands. Writes go to a temp file in
 * the same folder, are fsynced, then renamed into place: a crash leaves no partial
 * file under a real key.
 *
 * @example
 *   const store = new LocalFileStore('./data/files');
 *   const { key, created } = await store.putFile('/tmp/upload', 'loras', 'safetensors', sha256);
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, readdir, readFile } from 'node:fs/promises';
import { randomUUID, createHash } from 'node:crypto';
import { dirname, join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

export type Namespace = 'loras' | 'images' | 'renders' | 'zips';
const EXTENSIONS = new Set(['safetensors', 'png', 'jpg', 'webp', 'json']);

export interface PutResult {
  key: string;
  /** False when identical content was already stored under this key. */
  created: boolean;
  size: number;
}

/** The storage boundary the bank talks to; a local folder by default, object storage later. */
export interface FileStore {
  putFile(src: string, ns: Namespace, ext: string, sha256: string): Promise<PutResult>;
  putBuffer(data: Uint8Array, ns: Namespace, ext: string): Promise<PutResult>;
  read(key: string): Promise<Buffer>;
  /** A local path for the key (the engine memory-maps weights from it). */
  localPath(key: string): string;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Every stored key (for garbage collection of orphans). */
  list(): AsyncIterable<string>;
}

export function keyFor(ns: Namespace, sha256: string, ext: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RangeError(`storage: not a sha256: ${sha256}`);
  if (!EXTENSIONS.has(ext)) throw new RangeError(`storage: extension not allowed: ${ext}`);
  return `${ns}/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}.${ext}`;
}

const KEY_RE = /^(loras|images|renders|zips)\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.(safetensors|png|jpg|webp|json)$/;

export class LocalFileStore implements FileStore {
  constructor(readonly root: string) {}

  localPath(key: string): string {
    if (!KEY_RE.test(key)) throw new RangeError(`storage: invalid key ${JSON.stringify(key)}`);
    return join(this.root, ...key.split('/'));
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.localPath(key));
      return true;
    } catch {
      return false;
    }
  }

  private async commit(tmp: string, key: string, size: number): Promise<PutResult> {
    const dest = this.localPath(key);
    if (await this.exists(key)) {
      await rm(tmp, { force: true });
      return { key, created: false, size };
    }
    await rename(tmp, dest);
    return { key, created: true, size };
  }

  private async tempPath(key: string): Promise<string> {
    const dir = dirname(this.localPath(key));
    await mkdir(dir, { recursive: true });
    return join(dir, `.tmp-${randomUUID()}`);
  }

  async putFile(src: string, ns: Namespace, ext: string, sha256: string): Promise<PutResult> {
    const key = keyFor(ns, sha256, ext);
    const { size } = await stat(src);
    if (await this.exists(key)) return { key, created: false, size };
    const tmp = await this.tempPath(key);
    try {
      const hash = createHash('sha256');
      const out = createWriteStream(tmp, { flags: 'wx' });
      await pipeline(
        createReadStream(src),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        out,
      );
      const actual = hash.digest('hex');
      if (actual !== sha256) throw new Error(`storage: ${src} changed while being stored (sha256 ${actual}, expected ${sha256})`);
      const fh = await open(tmp, 'r');
      await fh.sync();
      await fh.close();
      return await this.commit(tmp, key, size);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async putBuffer(data: Uint8Array, ns: Namespace, ext: string): Promise<PutResult> {
    const sha = createHash('sha256').update(data).digest('hex');
    const key = keyFor(ns, sha, ext);
    if (await this.exists(key)) return { key, created: false, size: data.byteLength };
    const tmp = await this.tempPath(key);
    try {
      const fh = await open(tmp, 'wx');
      await fh.writeFile(data);
      await fh.sync();
      await fh.close();
      return await this.commit(tmp, key, data.byteLength);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async read(key: string): Promise<Buffer> {
    return readFile(this.localPath(key));
  }

  async delete(key: string): Promise<void> {
    await rm(this.localPath(key), { force: true });
  }

  async *list(): AsyncIterable<string> {
    let entries: string[];
    try {
      entries = (await readdir(this.root, { recursive: true })) as string[];
    } catch {
      return;
    }
    for (const e of entries) {
      const key = e.split(sep).join('/');
      if (KEY_RE.test(key)) yield key;
    }
  }
}
