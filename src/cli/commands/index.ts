/** Every CLI subcommand, in the order `zipbank help` lists them. Add one import line per command file. */
import type { Command } from '../command.ts';

export async function loadCommands(): Promise<Command[]> {
  const modules: { default: Command }[] = await Promise.all([
    // one `import('./<name>.ts'),` line per command file
    import('./start.ts'),
    import('./bank.ts'),
    import('./model.ts'),
    import('./tokenize.ts'),
    import('./render.ts'),
    import('./lora.ts'),
    import('./zip.ts'),
    import('./train.ts'),
    import('./worker.ts'),
    import('./world.ts'),
  ]);
  return modules.map((m) => m.default);
}
