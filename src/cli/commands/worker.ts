/**
 * `zipbank worker`: run jobs from the queue on the configured database (DATABASE_URL,
 * else the embedded PGlite). Start any number, on any machines sharing the database.
 */
import { loadConfig } from '../../config.ts';
import { Bank } from '../../bank/index.ts';
import { ZipbankError } from '../../errors/index.ts';
import { ENGINE_KINDS, JobQueue, noEngineHandler, Worker, type LogLevel } from '../../jobs/index.ts';
import { parseArgs } from '../args.ts';
import type { CliIO, Command } from '../command.ts';

const USAGE = `usage: zipbank worker [--concurrency N] [--kinds render,zip] [--lease-seconds S]
                      [--poll-ms MS] [--grace-seconds S] [--once] [--quiet]

Claims jobs fairly across users from the queue in the bank's database (DATABASE_URL,
or the embedded PGlite under ZIPBANK_DATA_DIR) and runs them.
  --concurrency N     jobs run at once (default 1)
  --kinds a,b         job kinds to take (default ${ENGINE_KINDS.join(',')})
  --lease-seconds S   a job whose worker stops answering for S seconds is retried elsewhere (default 30)
  --poll-ms MS        wait between claims when the queue is empty (default 1000)
  --grace-seconds S   on Ctrl-C / SIGTERM, let running jobs finish for S seconds, then
                      hand them back to the queue (default 30; a second signal hands back at once)
  --once              run until the queue has nothing ready, then exit

This build has no engine yet: render and zip jobs fail with a clear error (jobs.no-engine).`;

function positiveInt(option: string, v: unknown, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ZipbankError('jobs.invalid-option', { option, value: v, expected: `a whole number >= ${min}` });
  }
  return v;
}

async function run(argv: string[], io: CliIO): Promise<number> {
  const { flags } = parseArgs(argv, {
    concurrency: { type: 'number' },
    kinds: { type: 'string' },
    'lease-seconds': { type: 'number' },
    'poll-ms': { type: 'number' },
    'grace-seconds': { type: 'number' },
    once: { type: 'boolean' },
    quiet: { type: 'boolean' },
  });
  const concurrency = positiveInt('--concurrency', flags.concurrency, 1);
  const leaseMs = positiveInt('--lease-seconds', flags['lease-seconds'], 30) * 1000;
  const pollMs = positiveInt('--poll-ms', flags['poll-ms'], 1000, 10);
  const graceMs = positiveInt('--grace-seconds', flags['grace-seconds'], 30, 0) * 1000;
  const kinds = flags.kinds === undefined ? [...ENGINE_KINDS] : String(flags.kinds).split(',').map((k) => k.trim()).filter(Boolean);
  if (kinds.length === 0) throw new ZipbankError('jobs.invalid-option', { option: '--kinds', value: flags.kinds, expected: 'a comma-separated list of job kinds' });

  const config = loadConfig();
  const bank = await Bank.open(config);
  const quiet = flags.quiet === true;
  const log = (level: LogLevel, message: string) => {
    if (level === 'debug' && config.logLevel !== 'debug') return;
    if (quiet && (level === 'debug' || level === 'info')) return;
    io.err(`zipbank worker: ${level}: ${message}`);
  };
  const worker = new Worker(new JobQueue(bank.db), noEngineHandler(kinds), { concurrency, leaseMs, pollMs, log });
  if (!quiet) io.out(`zipbank worker ${worker.id}: ${kinds.join(', ')} jobs from ${bank.driver} (${bank.location}), concurrency ${concurrency}`);
  try {
    if (flags.once) {
      const n = await worker.drain();
      if (!quiet) io.out(`zipbank worker: queue idle after ${n} job(s)`);
      return 0;
    }
    worker.start();
    await new Promise<void>((resolve) => {
      const onSignal = () => {
        if (!quiet) io.out(`zipbank worker: stopping (finishing ${worker.running} running job(s), up to ${graceMs / 1000} s; signal again to hand them back now)`);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        const now = () => void worker.stop();
        process.once('SIGINT', now);
        process.once('SIGTERM', now);
        worker.stop({ graceMs }).then(resolve, resolve);
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    });
    if (!quiet) io.out('zipbank worker: stopped');
    return 0;
  } finally {
    await bank.close();
  }
}

const command: Command = { name: 'worker', summary: 'run queued render and zip jobs from the database', usage: USAGE, run };
export default command;
