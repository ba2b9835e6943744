/**
 * `zipbank start` (what `npm start` runs): open the bank on the configured database
 * (embedded PGlite by default, migrations applied), serve the local web channel (a
 * chat channel with the same commands as Discord, and the bank as a gallery), and run
 * an in-process worker (concurrency 1) on the same queue: the engine when
 * ZIPBANK_MODELS names model folders (default: the bundled world model), else a worker that fails render jobs with a
 * clear "no engine" message. Ctrl-C / SIGTERM stops both cleanly.
 *
 * @example
 *   PORT=8081 zipbank start
 *   zipbank start --no-worker     # jobs wait for `zipbank worker` processes
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLED_WORLD_MODEL, loadConfig } from '../../config.ts';
import { seedBank } from '../../bank/seed.ts';
import { Bank } from '../../bank/index.ts';
import { startWebApp } from '../../bot/web/app.ts';
import { handlerFor, noEngineHandler, type JobHandler, type LogLevel } from '../../jobs/index.ts';
import { engineHandler, modelResolver, type EngineHandler } from '../../jobs/engine/index.ts';
import { parseArgs } from '../args.ts';
import type { CliIO, Command } from '../command.ts';

const GRACE_MS = 10_000;

const USAGE = `usage: zipbank start [--port N] [--host H] [--no-worker]

Opens the bank (embedded PGlite under ZIPBANK_DATA_DIR unless DATABASE_URL is set),
applies migrations, and serves the local web channel (PORT, default 8080): a chat
channel shared by every browser tab, with the same slash commands as on Discord
(/zip, /bank, /remix history), live progress, buttons, the Remix form, uploads, and
the bank as a gallery. An in-process worker runs the queued renders: on the engine
with the model folders ZIPBANK_MODELS names (default: the bundled world model,
whose seeded LoRAs are registered on the first start), else render jobs fail with a clear
"no engine" message. --no-worker leaves them to \`zipbank worker\` processes.
With DISCORD_TOKEN set it also runs the Discord bot, with SLACK_BOT_TOKEN the Slack app,
on the same bank, queue and worker (see the README's Discord and Slack sections).
Stop with Ctrl-C (running renders get ${GRACE_MS / 1000} s to finish, then go back to the queue;
a second Ctrl-C stops at once).`;

async function run(argv: string[], io: CliIO): Promise<number> {
  const { flags } = parseArgs(argv, { port: { type: 'number' }, host: { type: 'string' }, 'no-worker': { type: 'boolean' } });
  const config = loadConfig();
  const bank = await Bank.open(config);
  const log = (level: LogLevel, message: string) => {
    const order = ['debug', 'info', 'warn', 'error'];
    if (order.indexOf(level) >= order.indexOf(config.logLevel)) io.err(`zipbank: ${level}: ${message}`);
  };
  let engine: EngineHandler | undefined;
  try {
    if (config.bankFamilies.includes('world') && existsSync(join(BUNDLED_WORLD_MODEL, 'loras', 'manifest.json'))) {
      const seeded = await seedBank(bank, join(BUNDLED_WORLD_MODEL, 'loras'));
      if (seeded.added.length > 0) io.out(`zipbank: seeded the bank with ${seeded.added.length} LoRAs for the bundled world model: ${seeded.added.join(', ')}`);
      if (seeded.updated.length > 0) io.out(`zipbank: updated ${seeded.updated.length} seeded LoRAs to the bundled world model's new versions: ${seeded.updated.join(', ')}`);
    }
    const stats = await bank.stats();
    io.out(`zipbank: bank on ${bank.driver} (${bank.location}), files in ${config.storageDir}`);
    io.out(`zipbank: ${stats.loras} LoRAs (${stats.subjects} subjects, ${stats.styles} styles)`);
    let handler: JobHandler | undefined;
    if (flags['no-worker'] !== true) {
      const models = modelResolver(config.models);
      if (models.families.length > 0) {
        engine = engineHandler({ bank, models, device: config.device, log });
        const refuse = noEngineHandler(['zip']);
        handler = handlerFor({ render: (job, ctx) => engine!.run(job, ctx), zip: (job, ctx) => refuse.run(job, ctx) }, engine.retryable);
        io.out(`zipbank: worker in this process, engine on ${config.device}: ${models.families.map((f) => `${f} = ${models(f)!.dir}`).join(', ')}`);
      } else {
        handler = noEngineHandler();
        io.out('zipbank: worker in this process has no engine (ZIPBANK_MODELS=none): renders fail with a message saying so');
      }
    } else {
      io.out('zipbank: no worker in this process (--no-worker): renders wait for `zipbank worker`');
    }
    const app = await startWebApp({
      bank,
      host: (flags.host as string | undefined) ?? config.host,
      port: (flags.port as number | undefined) ?? config.port,
      handler,
      log,
    });
    if (app.resumed > 0) io.out(`zipbank: following ${app.resumed} render(s) still in flight`);
    // Chat platforms on the same core, queue and worker; a failing one stops the start with its message.
    const closers: (() => Promise<void>)[] = [];
    try {
      if (config.discordToken) {
        const { startDiscordBot, inviteUrl } = await import('../../bot/discord/index.ts');
        const bot = await startDiscordBot({ core: app.core, bank, events: app.events, config, log });
        closers.push(() => bot.close());
        io.out(`zipbank: Discord bot connected (application ${bot.applicationId}, ${bot.shards.count} shard(s)); invite: ${inviteUrl(bot.applicationId)}`);
      }
      if (config.slackBotToken) {
        const { startSlackBot } = await import('../../bot/slack/index.ts');
        const publicUrl = config.publicUrl;
        const slack = await startSlackBot({
          core: app.core,
          bank,
          events: app.events,
          config,
          log,
          ...(publicUrl
            ? {
                imageUrl: (key: string) => {
                  app.channel.allowKeys([key]);
                  return `${publicUrl}/files/${key}`;
                },
              }
            : {}),
        });
        closers.push(() => slack.close());
        io.out(`zipbank: Slack app running (${slack.mode === 'socket' ? 'Socket Mode' : `HTTP on port ${slack.port}`})`);
      }
    } catch (e) {
      for (const c of closers.reverse()) await c().catch(() => {});
      await app.close();
      throw e;
    }
    io.out(`zipbank: open ${app.url} in a browser (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      const onSignal = () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        const now = () => {
          void app.close();
          // Bots that do not stop within 5 s are left behind: the process exits.
          setTimeout(() => resolve(), 5000).unref();
          void Promise.allSettled(closers.map((c) => c())).then(() => resolve());
        };
        process.once('SIGINT', now);
        process.once('SIGTERM', now);
        io.out(`zipbank: stopping (running renders get up to ${GRACE_MS / 1000} s; Ctrl-C again to stop now)`);
        // The worker first (running renders get the grace), while the bots still deliver their ends; then the bots.
        app
          .close({ graceMs: GRACE_MS })
          .then(() => Promise.allSettled(closers.reverse().map((c) => c())))
          .then(() => resolve(), () => resolve());
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    });
    io.out('zipbank: stopped');
    return 0;
  } finally {
    await engine?.close();
    await bank.close();
  }
}

const command: Command = { name: 'start', summary: 'run zipbank: the local web channel, the bank and an in-process worker', usage: USAGE, run };
export default command;
