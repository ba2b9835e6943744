/**
 * The Slack adapter's time limits, on the real Bolt app (HTTP mode) against the fake
 * Slack: an external select is answered within `optionsMs` however slow the bank is;
 * views.open and users.info have a quick client of their own (a 429 that pauses the
 * main client does not hold a modal, one retry at most, a slow users.info gives up
 * and the command goes on); and `close` stops waiting after `closeTimeoutMs`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, messageWhen, sleep, startSlackTest, suggest, type SlackTest } from './support.ts';

describe('Slack adapter time limits', () => {
  let st: SlackTest;
  const logs: string[] = [];
  let view: Record<string, unknown>;

  beforeAll(async () => {
    st = await startSlackTest({ bot: { optionsMs: 300, closeTimeoutMs: 400, clientOptions: { quickTimeout: 300 }, log: (_l, m) => logs.push(m) } });
    await command(st, '/zip', '', { trigger: 'trig-form' });
    view = (await st.slack.waitFor(() => st.slack.views.find((v) => v.triggerId === 'trig-form'))).view;
  });
  afterAll(async () => {
    await st?.close();
  });

  it('answers an external select within optionsMs: what the bank found in time, else no options', async () => {
    const core = st.core;
    const real = core.autocomplete.bind(core);
    let lag = 100;
    core.autocomplete = async (req) => {
      await sleep(lag);
      return real(req);
    };
    try {
      expect((await suggest(st, view, 'zb-zip:subject', 'ca')).map((o) => o.value)).toEqual(['cat']);
      lag = 1500;
      const t0 = Date.now();
      const late = await suggest(st, view, 'zb-zip:subject', 'ca');
      const ms = Date.now() - t0;
      expect(late).toEqual([]);
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(1200);
    } finally {
      core.autocomplete = real;
    }
  });

  it('opens a modal at once while a 429 holds the main client, and retries views.open once', async () => {
    st.slack.fail('chat.postEphemeral', { status: 429, retryAfter: 2 });
    await command(st, '/bank', 'frobnicate', { user: 'UBOB' });
    const limited = await st.slack.waitFor(() => st.slack.called('chat.postEphemeral').find((c) => c.status === 429), 5000, 'the 429');
    const t0 = Date.now();
    await command(st, '/zip', '', { trigger: 'trig-during-429' });
    const opened = await st.slack.waitFor(() => st.slack.views.find((v) => v.triggerId === 'trig-during-429'));
    expect(opened.at - t0).toBeLessThan(1000);
    // The main client still honoured the Retry-After.
    const answer = await st.slack.waitFor(() => st.slack.ephemerals.find((e) => e.user === 'UBOB' && e.text.includes('frobnicate')), 5000, 'the delayed answer');
    expect(answer.at - limited.at).toBeGreaterThanOrEqual(1990);

    const statuses = (trigger: string) => st.slack.called('views.open').filter((c) => c.params.trigger_id === trigger).map((c) => c.status);
    st.slack.fail('views.open', { status: 500 });
    await command(st, '/zip', '', { trigger: 'trig-500' });
    await st.slack.waitFor(() => st.slack.views.find((v) => v.triggerId === 'trig-500'));
    expect(statuses('trig-500')).toEqual([500, 200]);

    st.slack.fail('views.open', { status: 500 }, { times: 2 });
    await command(st, '/zip', '', { trigger: 'trig-down', user: 'UADMIN' });
    const note = await st.slack.waitFor(() => st.slack.ephemerals.find((e) => e.user === 'UADMIN'));
    expect(note.text).toContain('the form could not be opened');
    expect(statuses('trig-down')).toEqual([500, 500]);
  });

  it('a slow users.info gives up after its timeout and one retry: the command goes on, and it is logged', async () => {
    st.slack.delay('users.info', 2000, { times: 2 });
    const t0 = Date.now();
    await command(st, '/bank', 'top', { user: 'UANN', channel: 'C2' });
    const m = await messageWhen(st, 'C2', (x) => x.text.startsWith('top LoRAs'), 'the /bank top answer');
    // Two attempts of 300 ms, not the 2 s Slack took.
    expect(m.versions[0]!.at - t0).toBeLessThan(1500);
    expect(logs.filter((l) => l.includes('users.info for UANN failed'))).toHaveLength(1);
    // Slack saw two look-ups (they land late), no third.
    await st.slack.waitFor(() => st.slack.called('users.info').filter((c) => c.params.user === 'UANN').length === 2, 5000, 'both look-ups');
    await sleep(200);
    expect(st.slack.called('users.info').filter((c) => c.params.user === 'UANN')).toHaveLength(2);
  });

  it('close stops waiting for an upload after closeTimeoutMs and says what it left', async () => {
    st.slack.delay('files.completeUploadExternal', 1500);
    const uploads = st.slack.called('upload').length;
    await command(st, '/zip', 'subject:cat style:flower prompt:"a slow upload"', { channel: 'C9' });
    await messageWhen(st, 'C9', (x) => /“a slow upload” for ann/i.test(x.text), 'the final state');
    // The bytes are up; files.completeUploadExternal hangs.
    await st.slack.waitFor(() => st.slack.called('upload').length > uploads, 10_000, 'the upload');
    await sleep(50);
    const t0 = Date.now();
    await st.bot.close();
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(380);
    expect(ms).toBeLessThan(1000);
    expect(logs.some((l) => /stopped waiting for Slack after \d+ ms; left unfinished: 1 interaction\(s\) or upload\(s\)/.test(l))).toBe(true);
    // The upload left behind still lands.
    await st.slack.waitFor(() => st.slack.shares.find((s) => s.channel === 'C9'), 5000, 'the late share');
  });
});
