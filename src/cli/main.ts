/** CLI dispatcher: `zipbank <command> [args]`. */
import { loadCommands } from './commands/index.ts';
import { UsageError } from './args.ts';
import { isZipbankError } from '../errors/index.ts';
import type { CliIO } from './command.ts';

const defaultIO: CliIO = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
};

export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const commands = await loadCommands();
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    const target = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    if (target) {
      io.out(target.usage);
      return 0;
    }
    io.out('zipbank: a community LoRA bank with ZipLoRA merging\n\nusage: zipbank <command> [options]\n\ncommands:');
    const w = Math.max(...commands.map((c) => c.name.length), 4);
    for (const c of commands) io.out(`  ${c.name.padEnd(w)}  ${c.summary}`);
    io.out('\nRun `zipbank help <command>` or `zipbank <command> --help` for details.');
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`zipbank: unknown command "${name}". Run \`zipbank help\` for the list.`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`zipbank ${name}: ${e.message}\n\n${cmd.usage}`);
      return 2;
    }
    if (isZipbankError(e)) {
      io.err(`zipbank ${name}: ${e.message}`);
      if (process.env.ZIPBANK_DEBUG) io.err(String(e.stack));
      return 1;
    }
    throw e;
  }
}
