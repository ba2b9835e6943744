/**
 * Starting the Slack app: settings that cannot work are refused with what to set, a
 * token Slack refuses stops the start, and Socket Mode (the default) runs on the
 * real Bolt SocketModeReceiver against the fake Slack's WebSocket: envelopes are
 * acked, commands answered, the /zip modal opened and its options served.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobQueue } from '../../../src/bank/jobs.ts';
import { loras } from '../../../src/bank/schema.ts';
import { BotCore } from '../../../src/bot/core/index.ts';
import { checkSlackSettings, startSlackBot, type SlackBot, type SlackBotOptions } from '../../../src/bot/slack/index.ts';
import { isZipbankError } from '../../../src/errors/index.ts';
import { JobEvents } from '../../../src/jobs/events.ts';
import { row } from '../../bank/search.suite.ts';
import { openTestBank, type TestBank } from '../../support/bank.ts';
import { commandFields, FakeSlack } from '../../support/fake-slack.ts';
import { APP_TOKEN, quiet, SECRET, TOKEN, USERS } from './support.ts';

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    if (isZipbankError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('it started');
};

describe('Slack app start-up and Socket Mode', () => {
  let t: TestBank;
  let slack: FakeSlack;
  let core: BotCore;
  let bot: SlackBot | undefined;

  const options = (config: Partial<SlackBotOptions['config']>): SlackBotOptions => ({
    core,
    bank: t.bank,
    events: new JobEvents(),
    config: { slackBotToken: TOKEN, slackMode: 'socket', slackAppToken: APP_TOKEN, slackSigningSecret: undefined, slackPort: 0, publicUrl: undefined, ...config },
    host: '127.0.0.1',
    clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } },
    log: quiet,
  });

  beforeAll(async () => {
    t = await openTestBank('pglite', '');
    slack = await FakeSlack.start({ token: TOKEN, appToken: APP_TOKEN, users: USERS });
    core = new BotCore({ bank: t.bank, queue: new JobQueue(t.bank.db), log: quiet });
  });
  afterAll(async () => {
    await bot?.close();
    await slack?.close();
    await t?.close();
  });

  it('refuses settings that cannot work together, saying what to set', async () => {
    const base = { slackBotToken: TOKEN, slackPort: 3000, publicUrl: undefined };
    const check = (c: Parameters<typeof checkSlackSettings>[0]) => {
      try {
        return checkSlackSettings(c).mode;
      } catch (e) {
        return isZipbankError(e) ? e.code : String(e);
      }
    };
    expect(check({ ...base, slackMode: 'socket', slackAppToken: undefined, slackSigningSecret: SECRET })).toBe('slack.socket-needs-app-token');
    expect(check({ ...base, slackMode: 'http', slackAppToken: APP_TOKEN, slackSigningSecret: undefined })).toBe('slack.http-needs-signing-secret');
    expect(check({ ...base, slackBotToken: undefined, slackMode: 'socket', slackAppToken: APP_TOKEN, slackSigningSecret: undefined })).toBe('slack.no-token');
    expect(check({ ...base, slackMode: 'socket', slackAppToken: APP_TOKEN, slackSigningSecret: undefined })).toBe('socket');
    expect(check({ ...base, slackMode: 'http', slackAppToken: undefined, slackSigningSecret: SECRET })).toBe('http');
    expect(await codeOf(startSlackBot(options({ slackAppToken: undefined })))).toMatch(/^slack\.socket-needs-app-token: .*SLACK_APP_TOKEN.*connections:write/);
    expect(await codeOf(startSlackBot(options({ slackMode: 'http' })))).toMatch(/^slack\.http-needs-signing-secret: .*SLACK_SIGNING_SECRET/);
    // Nothing was asked of Slack.
    expect(slack.calls).toHaveLength(0);
  });

  it('stops the start when Slack refuses the bot token, the app token, or the port is taken', async () => {
    expect(await codeOf(startSlackBot(options({ slackBotToken: 'xoxb-wrong' })))).toMatch(/^slack\.auth-failed: .*invalid_auth/);
    expect(await codeOf(startSlackBot(options({ slackAppToken: 'xapp-wrong' })))).toMatch(/^slack\.connect-failed: .*invalid_auth/);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const port = (taken.address() as AddressInfo).port;
      expect(await codeOf(startSlackBot(options({ slackMode: 'http', slackSigningSecret: SECRET, slackPort: port })))).toMatch(/^slack\.listen-failed: .*SLACK_PORT/);
    } finally {
      taken.close();
    }
  });

  it('Socket Mode: acks envelopes, answers commands, opens the /zip modal and serves its options', async () => {
    bot = await startSlackBot(options({}));
    expect(bot).toMatchObject({ mode: 'socket', port: undefined, teamId: 'T1', botUserId: 'UBOT', resumed: 0 });
    expect(slack.socketCount).toBe(1);

    const ack = await slack.sendEnvelope('slash_commands', commandFields({ command: '/bank', text: 'top', channel_id: 'C7' }));
    expect(ack).toEqual({});
    // An empty bank: said privately.
    const m = await slack.waitFor(() => slack.ephemerals.find((x) => x.channel === 'C7'));
    expect(m).toMatchObject({ user: 'UANN', text: 'the bank has no LoRAs that match yet.' });
    // Now one subject for the modal's select to find.
    await t.bank.db.insert(loras).values(row({ name: 'corgi', displayName: 'Sir Corgi', kind: 'subject', baseModel: 'sd15' }));

    await slack.sendEnvelope('slash_commands', commandFields({ command: '/zip', text: '', channel_id: 'C7', trigger_id: 'trig-socket' }));
    const opened = await slack.waitFor(() => slack.views.find((v) => v.triggerId === 'trig-socket'));
    expect(opened.view).toMatchObject({ callback_id: 'zb-zip', private_metadata: '{"c":"C7"}' });

    const served = await slack.sendEnvelope('interactive', {
      type: 'block_suggestion',
      action_id: 'zb-zip:subject',
      block_id: 'subject',
      value: 'co',
      api_app_id: 'A1',
      team: { id: 'T1', domain: 'fake' },
      user: { id: 'UANN', name: 'ann', team_id: 'T1' },
      token: 'deprecated',
      container: { type: 'view', view_id: 'V1' },
      view: { ...opened.view, id: 'V1', state: { values: {} } },
    });
    // The ack carries the options: the seeded subject, found by the bank.
    expect(served).toMatchObject({ options: [{ value: 'corgi', text: { type: 'plain_text', text: expect.stringContaining('Sir Corgi') } }] });
    expect((served as { options: unknown[] }).options).toHaveLength(1);

    await slack.sendEnvelope('slash_commands', commandFields({ command: '/zip', text: 'subject:collie style:watercolor prompt:x', channel_id: 'C7', user_id: 'UBOB' }));
    const e = await slack.waitFor(() => slack.ephemerals.find((x) => x.user === 'UBOB'));
    expect(e).toMatchObject({ channel: 'C7', text: expect.stringContaining('no subject LoRA named "collie"') });

    await bot.close();
    await slack.waitFor(() => slack.socketCount === 0, 5000, 'the socket to close');
    bot = undefined;
  });
});
