/**
 * The Slack messages of renders whose end is not yet delivered, kept in the bank's
 * `bot_state` table (one key): a render is added when its message is posted and
 * removed once its final state has landed and its images are uploaded. After a
 * restart the adapter follows every entry again, so a render that ended while the
 * bot was down still gets its final message and its upload (renders still running
 * come back through `core.activeRenders` as well).
 *
 * @example
 *   const ledger = new RenderLedger(new BotStateStore(bank.db));
 *   for (const e of await ledger.load()) follow(e.renderId, e.channel, e.ts);
 *   ledger.add({ renderId, channel: 'C1', ts: '1700000000.000100' });
 *   ledger.remove(renderId);
 *   await ledger.flush();
 */
import type { BotStateStore } from '../../bank/bot-state.ts';
import { describeError } from '../../errors/index.ts';
import type { Log } from '../../jobs/types.ts';

export interface LedgerEntry {
  renderId: string;
  channel: string;
  ts: string;
}

export const LEDGER_KEY = 'slack:renders';

export class RenderLedger {
  private readonly entries = new Map<string, LedgerEntry>();
  private chain: Promise<void> = Promise.resolve();
  private queued = false;

  constructor(
    private readonly store: Pick<BotStateStore, 'get' | 'set'>,
    private readonly o: { key?: string; max?: number; log?: Log } = {},
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(renderId: string): boolean {
    return this.entries.has(renderId);
  }

  /** The entries stored by the last process (merged into this one's). */
  async load(): Promise<LedgerEntry[]> {
    const raw = await this.store.get<unknown>(this.o.key ?? LEDGER_KEY);
    const list = Array.isArray(raw) ? raw : [];
    for (const x of list) {
      const e = x as Partial<LedgerEntry>;
      if (typeof e.renderId === 'string' && typeof e.channel === 'string' && typeof e.ts === 'string' && !this.entries.has(e.renderId)) {
        this.entries.set(e.renderId, { renderId: e.renderId, channel: e.channel, ts: e.ts });
      }
    }
    return [...this.entries.values()];
  }

  add(e: LedgerEntry): void {
    const old = this.entries.get(e.renderId);
    if (old && old.channel === e.channel && old.ts === e.ts) return;
    this.entries.set(e.renderId, { ...e });
    // The oldest go first when the list is full (they are followed through activeRenders too while running).
    while (this.entries.size > (this.o.max ?? 2000)) this.entries.delete(this.entries.keys().next().value!);
    this.save();
  }

  remove(renderId: string): void {
    if (this.entries.delete(renderId)) this.save();
  }

  /** Wait for the writes scheduled so far. */
  flush(): Promise<void> {
    return this.chain;
  }

  private save(): void {
    if (this.queued) return;
    this.queued = true;
    this.chain = this.chain.then(async () => {
      this.queued = false;
      try {
        await this.store.set(this.o.key ?? LEDGER_KEY, [...this.entries.values()]);
      } catch (e) {
        this.o.log?.('warn', `slack: could not store the renders in flight: ${describeError(e)}`);
      }
    });
  }
}
