/**
 * Who a Slack user is, for the core: a display name and whether they moderate the
 * workspace. Slack's interaction payloads carry no roles, so workspace admins and
 * owners (users.info `is_admin` / `is_owner`) count as moderators of the community
 * `slack:<team id>`. Answers are cached (default 10 minutes; a failed look-up for 1
 * minute) and concurrent look-ups of one user share one call. A look-up that fails
 * (a missing scope, or Slack slow or down: the client given should time out) leaves
 * the user a non-moderator until the failure expires, and is logged.
 *
 * @example
 *   const users = new SlackUsers((id) => client.users.info({ user: id }));
 *   const who = await users.lookup('U123'); // { name: 'Ann', isModerator: false }
 */
import { describeError } from '../../errors/index.ts';
import type { Log } from '../../jobs/types.ts';
import { slackErrorOf } from './pacer.ts';

export interface SlackUserInfo {
  name?: string | undefined;
  isModerator: boolean;
}

/** The part of a users.info answer read here. */
export interface UsersInfoAnswer {
  user?: {
    name?: string;
    real_name?: string;
    is_admin?: boolean;
    is_owner?: boolean;
    is_primary_owner?: boolean;
    profile?: { display_name?: string; real_name?: string };
  };
}

export interface SlackUsersOptions {
  ttlMs?: number;
  failureTtlMs?: number;
  log?: Log;
}

export class SlackUsers {
  private readonly cache = new Map<string, { info: SlackUserInfo | undefined; expires: number }>();
  private readonly pending = new Map<string, Promise<SlackUserInfo | undefined>>();
  private readonly ttlMs: number;
  private readonly failureTtlMs: number;
  private readonly log: Log;
  private warned = false;

  constructor(
    private readonly info: (userId: string) => Promise<UsersInfoAnswer>,
    o: SlackUsersOptions = {},
  ) {
    this.ttlMs = o.ttlMs ?? 600_000;
    this.failureTtlMs = o.failureTtlMs ?? 60_000;
    this.log = o.log ?? (() => {});
  }

  /** The cached answer, if fresh (no call). */
  cached(userId: string): SlackUserInfo | undefined {
    const c = this.cache.get(userId);
    return c && c.expires > Date.now() ? c.info : undefined;
  }

  /** The user's name and moderator flag; undefined when Slack would not say (missing scope, unknown user). */
  lookup(userId: string): Promise<SlackUserInfo | undefined> {
    const c = this.cache.get(userId);
    if (c && c.expires > Date.now()) return Promise.resolve(c.info);
    let p = this.pending.get(userId);
    if (!p) {
      p = this.fetch(userId).finally(() => this.pending.delete(userId));
      this.pending.set(userId, p);
    }
    return p;
  }

  private async fetch(userId: string): Promise<SlackUserInfo | undefined> {
    try {
      const u = (await this.info(userId)).user;
      const info: SlackUserInfo | undefined = u
        ? {
            name: u.profile?.display_name || u.profile?.real_name || u.real_name || u.name || undefined,
            isModerator: !!(u.is_admin || u.is_owner || u.is_primary_owner),
          }
        : undefined;
      this.remember(userId, info, this.ttlMs);
      return info;
    } catch (e) {
      if (slackErrorOf(e) === undefined) {
        // Not Slack's answer (a timeout, a 5xx, a 429): worth a line each time (at most one a minute per user).
        this.log('warn', `slack: users.info for ${userId} failed (${describeError(e)}); treated as a non-moderator for now`);
      } else if (!this.warned) {
        this.log('warn', `slack: users.info failed (${describeError(e)}); moderators are then only those in ZIPBANK_ADMINS. Does the app have the users:read scope?`);
        this.warned = true;
      }
      this.remember(userId, undefined, this.failureTtlMs);
      return undefined;
    }
  }

  private remember(userId: string, info: SlackUserInfo | undefined, ttl: number): void {
    this.cache.delete(userId);
    this.cache.set(userId, { info, expires: Date.now() + ttl });
    while (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
  }
}
