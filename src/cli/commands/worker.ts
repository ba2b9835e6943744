/**
 * `zipbank worker`: run jobs from the queue on the configured database (DATABASE_URL,
 * else the embedded PGlite). Start any number, on any machines sharing the database.
 * Render jobs run on the engine when ZIPBANK_MODELS names a model folder.
 *
 * @example
 *   ZIPBANK_MODELS=sd15=/models/sd15 zipbank worker --concurrency 1 --zip-steps 50
 */
import { loadConfig } from '../../config.ts';
import { Bank } from '../../bank/index.ts';
import { ZipbankError } from '../../errors/index.ts';
import { ENGINE_KINDS, handlerFor, JobQueue, noEngineHandler, Worker, type JobHandler, type LogLevel } from '../../jobs/index.ts';
import { engineHandler, modelResolver, ZIP_JOB_DEFAULTS, type EngineHandler } from '../../jobs/engine/index.ts';
import { parseArgs } from '../args.ts';
import type { CliIO, Command } from '../command.ts';

const USAGE = `usage: zipbank worker [--concurrency N] [--kinds render,zip] [--lease-seconds S]
                      [--poll-ms MS] [--grace-seconds S] [--zip-steps N] [--zip-size PX] [--once] [--quiet]

Claims jobs fairly across users from the queue in the bank's database (DATABASE_URL,
or the embedded PGlite under ZIPBANK_DATA_DIR) and runs them.
  --concurrency N     jobs run at once (default 1)
  --kinds a,b         job kinds to take (default ${ENGINE_KINDS.join(',')})
  --lease-seconds S   a job whose worker stops answering for S seconds is retried elsewhere (default 30)
  --poll-ms MS        wait between claims when the queue is empty (default 1000)
  --grace-seconds S   on Ctrl-C / SIGTERM, let running jobs finish for S seconds, then
                      hand them back to the queue (default 30; a second signal hands back at once)
  --zip-steps N       ZipLoRA optimisation steps when a render needs a new zip (default ${ZIP_JOB_DEFAULTS.steps})
  --zip-size PX       ZipLoRA image size in pixels, square (default the model's own size)
  --once              run until the queue has nothing ready, then exit

Render jobs run on the engine with the model folder ZIPBANK_MODELS names for the
LoRAs' base model (e.g. ZIPBANK_MODELS=sd15=/models/sd15,sdxl=/models/sdxl; device
from ZIPBANK_DEVICE): the pair is zipped once (ZipLoRA, or the direct merge) and the
zip is cached in the bank, then the images and the grid are stored and the render
row is marked done. A render whose base model has no folder here fails with a clear
error. Without ZIPBANK_MODELS this worker has no engine, and render jobs fail with
jobs.no-engine (never a fake result). Stand-alone "zip" jobs always fail with
jobs.no-engine: zips are made by the render jobs that need them.`;

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
    'zip-steps': { type: 'number' },
    'zip-size': { type: 'number' },
    once: { type: 'boolean' },
    quiet: { type: 'boolean' },
  });
  const concurrency = positiveInt('--concurrency', flags.concurrency, 1);
  const leaseMs = positiveInt('--lease-seconds', flags['lease-seconds'], 30) * 1000;
  const pollMs = positiveInt('--poll-ms', flags['poll-ms'], 1000, 10);
  const graceMs = positiveInt('--grace-seconds', flags['grace-seconds'], 30, 0) * 1000;
  const zipSteps = positiveInt('--zip-steps', flags['zip-steps'], ZIP_JOB_DEFAULTS.steps);
  const zipSize = flags['zip-size'] === undefined ? undefined : positiveInt('--zip-size', flags['zip-size'], 0, 8);
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
  const models = modelResolver(config.models);
  const engine: EngineHandler | undefined =
    models.families.length > 0
      ? engineHandler({ bank, models, device: config.device, log, zipDefaults: { steps: zipSteps, width: zipSize, height: zipSize } })
      : undefined;
  const worker = new Worker(new JobQueue(bank.db), workerHandler(kinds, engine), { concurrency, leaseMs, pollMs, log });
  if (!quiet) {
    io.out(`zipbank worker ${worker.id}: ${kinds.join(', ')} jobs from ${bank.driver} (${bank.location}), concurrency ${concurrency}`);
    io.out(
      engine
        ? `zipbank worker: engine on ${config.device}: ${models.families.map((f) => `${f} = ${models(f)!.dir}`).join(', ')}`
        : 'zipbank worker: no engine (ZIPBANK_MODELS is not set): render and zip jobs fail with jobs.no-engine',
    );
  }
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
    await engine?.close();
    await bank.close();
  }
}

/** The engine for the kinds it runs (render), the no-engine refusal for the rest. */
function workerHandler(kinds: readonly string[], engine: EngineHandler | undefined): JobHandler {
  if (!engine) return noEngineHandler(kinds);
  const refuse = noEngineHandler(kinds.filter((k) => !engine.kinds.includes(k)));
  return handlerFor(
    Object.fromEntries(kinds.map((k) => [k, engine.kinds.includes(k) ? (job, ctx) => engine.run(job, ctx) : (job, ctx) => refuse.run(job, ctx)])),
    engine.retryable,
  );
}

const command: Command = { name: 'worker', summary: 'run queued render and zip jobs from the database', usage: USAGE, run };
export default command;
