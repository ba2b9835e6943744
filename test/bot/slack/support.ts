/**
 * Test support for the Slack adapter: a PGlite bank with LoRA fixtures, the core, a
 * real Worker running the engine double, the fake Slack, and the real Bolt app in
 * HTTP mode started by `startSlackBot`; plus helpers that post signed slash
 * commands and interactions to it as Slack would.
 */
import { JobQueue } from '../../../src/bank/jobs.ts';
import { BotCore } from '../../../src/bot/core/index.ts';
import { startSlackBot, type SlackBot, type SlackBotOptions } from '../../../src/bot/slack/index.ts';
import { JobEvents } from '../../../src/jobs/events.ts';
import { Worker } from '../../../src/jobs/worker.ts';
import { commandBody, FakeSlack, payloadBody, postSigned, type Block, type BoltAnswer, type FakeMessage, type FakeUser } from '../../support/fake-slack.ts';
import { openCoreBank, seededRandom, type CoreBank } from '../core/support.ts';
import { fakeEngine } from '../web/support.ts';

export const TOKEN = 'xoxb-test-token';
export const APP_TOKEN = 'xapp-test-token';
export const SECRET = 'signing-secret-for-tests';
export const quiet = (): void => {};

export const USERS: Record<string, FakeUser> = {
  UANN: { name: 'ann', real_name: 'Ann Example', profile: { display_name: 'Ann' } },
  UBOB: { name: 'bob', profile: { display_name: '', real_name: 'Bob' } },
  UADMIN: { name: 'ada', is_admin: true, profile: { display_name: 'Ada' } },
};

export interface SlackTest {
  t: CoreBank;
  slack: FakeSlack;
  core: BotCore;
  events: JobEvents;
  worker: Worker;
  bot: SlackBot;
  url: string;
  /** Hold renders after zipping until `release` (tests of restarts). */
  hold(): void;
  release(): void;
  /** Close the bot and start another on the same bank, core and fake Slack. */
  restart(extra?: Partial<SlackBotOptions>): Promise<SlackBot>;
  close(): Promise<void>;
}

/** The test bot's options; `extra.clientOptions` is merged into the fake Slack's. */
export function botOptions(t: Pick<SlackTest, 't' | 'slack' | 'core' | 'events'>, extra: Partial<SlackBotOptions> = {}): SlackBotOptions {
  const { clientOptions, ...rest } = extra;
  return {
    core: t.core,
    bank: t.t.bank,
    events: t.events,
    config: { slackBotToken: TOKEN, slackMode: 'http', slackSigningSecret: SECRET, slackAppToken: undefined, slackPort: 0, publicUrl: undefined },
    host: '127.0.0.1',
    clientOptions: { slackApiUrl: t.slack.apiUrl, retryConfig: { retries: 3, minTimeout: 20, maxTimeout: 80, factor: 2 }, ...clientOptions },
    updateGapMs: 150,
    updateRetry: { backoffMs: 50 },
    follow: { intervalMs: 30, queueIntervalMs: 100, pollMs: 200 },
    log: quiet,
    ...rest,
  };
}

export async function startSlackTest(o: { stepMs?: number; bot?: Partial<SlackBotOptions> } = {}): Promise<SlackTest> {
  const t = await openCoreBank();
  const slack = await FakeSlack.start({ token: TOKEN, appToken: APP_TOKEN, users: USERS });
  const events = new JobEvents();
  const queue = new JobQueue(t.bank.db);
  const core = new BotCore({ bank: t.bank, queue, events, renderDefaults: { sd15: { steps: 3, count: 4, width: 64, height: 64 } }, random: seededRandom(5), log: quiet });
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const worker = new Worker(queue, fakeEngine(t.bank, { stepMs: o.stepMs ?? 60, gate: () => gate ?? Promise.resolve() }), { concurrency: 2, pollMs: 20, progressThrottleMs: 0, events, log: quiet });
  worker.start();
  const st: SlackTest = {
    t,
    slack,
    core,
    events,
    worker,
    bot: undefined as unknown as SlackBot,
    url: '',
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release() {
      open?.();
      gate = undefined;
    },
    async restart(extra = {}) {
      await st.bot.close();
      st.bot = await startSlackBot(botOptions(st, extra));
      st.url = `http://127.0.0.1:${st.bot.port}/slack/events`;
      return st.bot;
    },
    async close() {
      st.release();
      await st.bot?.close();
      await worker.stop();
      await slack.close();
      await t.close();
    },
  };
  st.bot = await startSlackBot(botOptions(st, o.bot));
  st.url = `http://127.0.0.1:${st.bot.port}/slack/events`;
  return st;
}

/** A slash command from `user` in `channel`, signed. */
export function command(st: SlackTest, cmd: string, text: string, o: { user?: string; channel?: string; trigger?: string; responseUrl?: string } = {}): Promise<BoltAnswer> {
  const user = o.user ?? 'UANN';
  return postSigned(
    st.url,
    SECRET,
    commandBody({
      command: cmd,
      text,
      user_id: user,
      user_name: USERS[user]?.name ?? user.toLowerCase(),
      channel_id: o.channel ?? 'C1',
      ...(o.trigger ? { trigger_id: o.trigger } : {}),
      response_url: o.responseUrl ?? st.slack.responseUrl(),
    }),
  );
}

/** Every button (action_id, label) in a message's blocks. */
export function buttonsOf(blocks: Block[]): { id: string; label: string }[] {
  return blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements as { action_id: string; text: { text: string } }[]).map((e) => ({ id: e.action_id, label: e.text.text })));
}

/** The fields every interaction payload from workspace T1 carries for `user`. */
function interactionCommon(user: string): Record<string, unknown> {
  const name = USERS[user]?.name ?? user;
  return { team: { id: 'T1', domain: 'fake' }, user: { id: user, username: name, name, team_id: 'T1' }, api_app_id: 'A1', token: 'deprecated' };
}

/** A click on a button of a channel message. */
export function click(st: SlackTest, m: FakeMessage, label: string, o: { user?: string; trigger?: string; responseUrl?: string } = {}): Promise<BoltAnswer> {
  const b = buttonsOf(m.blocks).find((x) => x.label === label);
  if (!b) throw new Error(`no button "${label}" in ${JSON.stringify(buttonsOf(m.blocks))}`);
  const user = o.user ?? 'UANN';
  return postSigned(
    st.url,
    SECRET,
    payloadBody({
      type: 'block_actions',
      ...interactionCommon(user),
      container: { type: 'message', message_ts: m.ts, channel_id: m.channel, is_ephemeral: false },
      trigger_id: o.trigger ?? `trig-${Math.random().toString(16).slice(2)}`,
      channel: { id: m.channel, name: 'general' },
      message: { type: 'message', ts: m.ts, text: m.text, blocks: m.blocks },
      response_url: o.responseUrl ?? st.slack.responseUrl(),
      actions: [{ type: 'button', action_id: b.id, block_id: 'b1', value: b.id, text: { type: 'plain_text', text: b.label }, action_ts: String(Date.now() / 1000) }],
    }),
  );
}

/** A modal submitted by `user` with `values` (Slack's view.state.values). */
export function submit(st: SlackTest, view: Record<string, unknown>, values: Record<string, Record<string, unknown>>, user = 'UANN'): Promise<BoltAnswer> {
  return postSigned(
    st.url,
    SECRET,
    payloadBody({
      type: 'view_submission',
      ...interactionCommon(user),
      trigger_id: `trig-${Math.random().toString(16).slice(2)}`,
      view: { ...view, id: 'V1', team_id: 'T1', type: 'modal', state: { values }, hash: 'h', app_id: 'A1', bot_id: 'BBOT' },
    }),
  );
}

/** What an external select asks while `user` types `value` into `actionId` of an open modal. */
export async function suggest(st: SlackTest, view: Record<string, unknown>, actionId: string, value: string, values: Record<string, Record<string, unknown>> = {}): Promise<{ text: { text: string }; value: string }[]> {
  const res = await postSigned(
    st.url,
    SECRET,
    payloadBody({
      type: 'block_suggestion',
      action_id: actionId,
      block_id: actionId.split(':')[1],
      value,
      api_app_id: 'A1',
      team: { id: 'T1', domain: 'fake' },
      user: { id: 'UANN', name: 'ann', team_id: 'T1' },
      token: 'deprecated',
      container: { type: 'view', view_id: 'V1' },
      view: { ...view, id: 'V1', state: { values } },
    }),
  );
  if (res.status !== 200) throw new Error(`block_suggestion: ${res.status} ${res.text}`);
  return (JSON.parse(res.text) as { options: { text: { text: string }; value: string }[] }).options;
}

/** The message's state once `pred` holds for it. */
export function messageWhen(st: SlackTest, channel: string, pred: (m: FakeMessage) => boolean, what = 'a message'): Promise<FakeMessage> {
  return st.slack.waitFor(() => st.slack.messages.find((m) => m.channel === channel && pred(m)), 10_000, what);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll an async probe until it gives something truthy. */
export async function eventually<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}
