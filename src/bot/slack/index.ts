/**
 * The Slack app: one entry point, `startSlackBot`, that `zipbank start` calls when
 * SLACK_BOT_TOKEN is set. It checks the settings (Socket Mode needs the app-level
 * token; HTTP mode needs the signing secret, and Bolt's HTTP receiver then checks
 * every request's signature), checks the bot token with auth.test, starts a Bolt
 * `App` (Socket Mode by default: no public URL), and runs the adapter on the shared
 * command core (./adapter.ts): slash commands, buttons, modals, renders followed to
 * their end, and after a restart the renders still in flight followed again.
 *
 * `clientOptions.slackApiUrl` points the Web API client (and Socket Mode's
 * apps.connections.open) at another server: tests run the real Bolt against a fake
 * Slack on loopback.
 *
 * Three Web API clients, each with its own request queue (a 429 pauses one queue):
 * posts and uploads (Slack's retries, a request timeout), chat.update (no retries:
 * the pacer decides), and views.open / users.info, which hold an interaction (a
 * short timeout, at most one retry, 429s rejected: a modal's trigger_id lives 3 s).
 * `close` gives up after `closeTimeoutMs` (default 10 s) and says what it left.
 *
 * @example
 *   const slack = await startSlackBot({ core, bank, events, config, log });
 *   // HTTP mode: slack.port is where Slack's requests arrive (/slack/events)
 *   await slack.close();
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel, webApi, type Logger } from '@slack/bolt';
import type { Bank } from '../../bank/index.ts';
import type { Config } from '../../config.ts';
import { describeError, ZipbankError } from '../../errors/index.ts';
import type { JobEvents } from '../../jobs/events.ts';
import type { Log } from '../../jobs/types.ts';
import type { BotCore } from '../core/index.ts';
import { SlackAdapter, within, type SlackAdapterOptions } from './adapter.ts';
import { slackErrorOf } from './pacer.ts';

export type SlackConfig = Pick<Config, 'slackBotToken' | 'slackMode' | 'slackAppToken' | 'slackSigningSecret' | 'slackPort' | 'publicUrl'>;

/** Options of Slack's Web API client that may be set here (tests: the fake Slack's URL and quick retries). */
export interface SlackClientOptions {
  slackApiUrl?: string;
  retryConfig?: webApi.RetryOptions;
  /** Per-request timeout in ms of posts and uploads (default 60 s). */
  timeout?: number;
  /** Per-request timeout in ms of views.open and users.info (default 2000; one retry). */
  quickTimeout?: number;
}

export interface SlackBotOptions extends Pick<SlackAdapterOptions, 'resultsIn' | 'updateGapMs' | 'updateRetry' | 'follow' | 'userCacheMs' | 'optionsMs' | 'closeTimeoutMs'> {
  core: BotCore;
  bank: Bank;
  events?: JobEvents | undefined;
  config: SlackConfig;
  log?: Log | undefined;
  /** HTTP mode: the address to listen on (default: every interface). */
  host?: string | undefined;
  clientOptions?: SlackClientOptions | undefined;
  /**
   * Public URL of a stored image, for image blocks (Slack fetches it). Default: with
   * ZIPBANK_PUBLIC_URL, `<public url>/files/<key>`; the web server must serve that key.
   */
  imageUrl?: SlackAdapterOptions['imageUrl'];
}

export interface SlackBot {
  mode: 'socket' | 'http';
  /** HTTP mode: the port Slack's requests arrive on (path /slack/events). */
  port?: number | undefined;
  /** The workspace and the bot user, from auth.test. */
  teamId?: string | undefined;
  botUserId?: string | undefined;
  /** Renders followed again at start. */
  resumed: number;
  adapter: SlackAdapter;
  /** Stop receiving (HTTP server closed / socket disconnected), then let edits in flight and uploads finish (`closeTimeoutMs` in all). */
  close(): Promise<void>;
}

interface Checked {
  mode: 'socket' | 'http';
  botToken: string;
  appToken?: string | undefined;
  signingSecret?: string | undefined;
}

/** The settings combination, or the ZipbankError that says what is missing. */
export function checkSlackSettings(c: SlackConfig): Checked {
  if (!c.slackBotToken) throw new ZipbankError('slack.no-token', {});
  if (c.slackMode === 'http') {
    if (!c.slackSigningSecret) throw new ZipbankError('slack.http-needs-signing-secret', {});
    return { mode: 'http', botToken: c.slackBotToken, signingSecret: c.slackSigningSecret };
  }
  if (!c.slackAppToken) throw new ZipbankError('slack.socket-needs-app-token', {});
  return { mode: 'socket', botToken: c.slackBotToken, appToken: c.slackAppToken };
}

/** Bolt's and the Web API client's log lines, into zipbank's log. */
export function boltLogger(log: Log): Logger {
  let level = LogLevel.INFO;
  const text = (msg: unknown[]) => `slack: ${msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ')}`;
  return {
    debug: (...msg: unknown[]) => log('debug', text(msg)),
    info: (...msg: unknown[]) => log('info', text(msg)),
    warn: (...msg: unknown[]) => log('warn', text(msg)),
    error: (...msg: unknown[]) => log('error', text(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

export async function startSlackBot(o: SlackBotOptions): Promise<SlackBot> {
  const s = checkSlackSettings(o.config);
  const log: Log = o.log ?? ((level, message) => level !== 'debug' && console.error(`[zipbank] ${level}: ${message}`));
  const logger = boltLogger(log);
  const { quickTimeout, ...clientOptions } = o.clientOptions ?? {};
  const base = { ...clientOptions, logger };
  const client = new webApi.WebClient(s.botToken, { timeout: 60_000, ...base });
  let auth: webApi.AuthTestResponse;
  try {
    auth = await client.auth.test();
  } catch (e) {
    throw new ZipbankError('slack.auth-failed', { reason: slackErrorOf(e) ?? describeError(e) }, { cause: e });
  }
  const updates = new webApi.WebClient(s.botToken, { timeout: 60_000, ...base, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
  const quick = new webApi.WebClient(s.botToken, {
    ...base,
    timeout: quickTimeout ?? 2000,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 1, factor: 1, minTimeout: 100, maxTimeout: 100, randomize: false },
  });
  const publicUrl = o.config.publicUrl;
  const adapter = new SlackAdapter({
    core: o.core,
    bank: o.bank,
    client,
    updates,
    quick,
    events: o.events,
    log,
    imageUrl: o.imageUrl ?? (publicUrl ? (key) => `${publicUrl}/files/${key}` : undefined),
    resultsIn: o.resultsIn,
    updateGapMs: o.updateGapMs,
    updateRetry: o.updateRetry,
    follow: o.follow,
    userCacheMs: o.userCacheMs,
    optionsMs: o.optionsMs,
    closeTimeoutMs: o.closeTimeoutMs,
  });
  const app = new App({
    token: s.botToken,
    // Known from auth.test: Bolt need not ask again.
    botId: auth.bot_id,
    botUserId: auth.user_id,
    tokenVerificationEnabled: false,
    logger,
    // A copy: Socket Mode writes its own retry policy into the options it is given.
    clientOptions: { ...base },
    convoStore: false,
    ...(s.mode === 'socket' ? { socketMode: true, appToken: s.appToken } : { signingSecret: s.signingSecret }),
  });
  adapter.register(app);
  let port: number | undefined;
  try {
    if (s.mode === 'http') {
      const server = (await app.start({ port: o.config.slackPort, ...(o.host ? { host: o.host } : {}) })) as unknown as Server;
      port = (server.address() as AddressInfo).port;
    } else {
      await app.start();
    }
  } catch (e) {
    await app.stop().catch(() => undefined);
    await adapter.close();
    if (s.mode === 'http') throw new ZipbankError('slack.listen-failed', { host: o.host ?? '*', port: o.config.slackPort, reason: describeError(e) }, { cause: e });
    throw new ZipbankError('slack.connect-failed', { reason: slackErrorOf(e) ?? describeError(e) }, { cause: e });
  }
  const resumed = await adapter.resume();
  log('info', `slack: connected to ${auth.team ?? auth.team_id ?? 'the workspace'} as ${auth.user ?? auth.user_id ?? 'the bot'} (${s.mode === 'http' ? `HTTP on port ${port}` : 'Socket Mode'})`);
  let closing: Promise<void> | undefined;
  return {
    mode: s.mode,
    port,
    teamId: auth.team_id,
    botUserId: auth.user_id,
    resumed,
    adapter,
    close() {
      closing ??= (async () => {
        const end = Date.now() + (o.closeTimeoutMs ?? 10_000);
        const stopped = app.stop().then(
          () => true,
          (e: unknown) => {
            log('warn', `slack: stopping the receiver: ${describeError(e)}`);
            return true;
          },
        );
        if (!(await within(stopped, end - Date.now()))) log('warn', 'slack: the receiver did not stop in time; going on');
        await adapter.close(Math.max(0, end - Date.now()));
      })();
      return closing;
    },
  };
}

export { SlackAdapter, SLACK_COMMANDS, type SlackAdapterOptions } from './adapter.ts';
export { messagePayload, mrkdwn, zipView, formView, zipOptionsOf, formFieldsOf, type MessagePayload } from './blocks.ts';
export { UpdatePacer, classifySlackError, type PushOutcome } from './pacer.ts';
