/**
 * The files one attempt of a job writes to the bank's storage, so that a failed
 * attempt leaves none behind. Storage is content-addressed: a put whose bytes were
 * already stored (`created: false`) belongs to someone else and is never deleted;
 * a key this attempt created is deleted on rollback unless a row names it by then
 * (identical bytes written by another job, e.g. the worker that took over a job
 * this one lost, share the key).
 *
 * @example
 *   const files = new AttemptFiles(bank.store, (keys) => rows.keysInUse(keys));
 *   try {
 *     const key = await files.put(png, 'renders', 'png');
 *     await rows.finishRender(...);
 *   } catch (e) {
 *     await files.rollback();
 *     throw e;
 *   }
 */
import type { FileStore, Namespace } from '../../bank/storage.ts';

export class AttemptFiles {
  /** Keys this attempt created, in order. */
  readonly created: string[] = [];

  constructor(
    private readonly store: FileStore,
    private readonly inUse: (keys: readonly string[]) => Promise<Set<string>>,
  ) {}

  async put(data: Uint8Array, ns: Namespace, ext: string): Promise<string> {
    const r = await this.store.putBuffer(data, ns, ext);
    if (r.created) this.created.push(r.key);
    return r.key;
  }

  /** The attempt's files are now named by committed rows: nothing to undo any more. */
  commit(): void {
    this.created.length = 0;
  }

  /** Delete what this attempt created and no row uses; returns the keys deleted. */
  async rollback(): Promise<string[]> {
    const keys = this.created.splice(0);
    if (keys.length === 0) return [];
    const used = await this.inUse(keys);
    const gone = keys.filter((k) => !used.has(k));
    for (const k of gone) await this.store.delete(k);
    return gone;
  }
}
