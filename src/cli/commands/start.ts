/**
 * `zipbank start` (what `npm start` runs): open the bank on the configured database
 * (embedded PGlite by default), apply migrations, and serve the local web page.
 */
import { loadConfig } from '../../config.ts';
import { Bank } from '../../bank/index.ts';
import { startWebServer } from '../../bot/web/server.ts';
import { parseArgs } from '../args.ts';
import type { CliIO, Command } from '../command.ts';

const USAGE = `usage: zipbank start [--port N] [--host H]

Opens the bank (embedded PGlite under ZIPBANK_DATA_DIR unless DATABASE_URL is set),
applies migrations, and serves the local web page (PORT, default 8080). Stop with Ctrl-C.`;

async function run(argv: string[], io: CliIO): Promise<number> {
  const { flags } = parseArgs(argv, { port: { type: 'number' }, host: { type: 'string' } });
  const config = loadConfig();
  const bank = await Bank.open(config);
  const stats = await bank.stats();
  io.out(`zipbank: bank on ${bank.driver} (${bank.location}), files in ${config.storageDir}`);
  io.out(`zipbank: ${stats.loras} LoRAs (${stats.subjects} subjects, ${stats.styles} styles)`);
  const server = await startWebServer({
    bank,
    host: (flags.host as string | undefined) ?? config.host,
    port: (flags.port as number | undefined) ?? config.port,
  });
  io.out(`zipbank: open ${server.url} in a browser (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.out('zipbank: stopping');
  await server.close();
  await bank.close();
  return 0;
}

const command: Command = { name: 'start', summary: 'run zipbank: the bank and its local web page', usage: USAGE, run };
export default command;
